"""Memory bandwidth probe: STREAM copy, scale, add and triad, counted the way STREAM counts
(2, 2, 3, 3 words per element; no write-allocate), the ProbeResult figure being triad.

No hidden temporaries: CPU kernels write through ``out=``. Triad, which NumPy cannot do in one
ufunc, is by default NumPy's in-place form (a = q*c; a += b), still counted as 3 words like STREAM;
block=N instead runs it N elements at a time through a scratch buffer that stays in cache (main
memory then sees only STREAM's three streams; on the dev VM this was not faster). One thread per
usable CPU, each on its own slice. Arrays are sized
from the last-level cache (each at least 4x the LLC, STREAM's rule) and capped by free memory.
GPU: CuPy elementwise kernels, one pass each, on every visible GPU at once, timed with CUDA events.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from slurm_diag.errors import UsageError
from slurm_diag.perf.model import stream_bytes
from slurm_diag.probes import base, cuda
from slurm_diag.probes.conditions import cpu_conditions, gpu_conditions, summarize
from slurm_diag.stats import median

KERNELS = ("copy", "scale", "add", "triad")
SCALAR = 3.0
DEFAULTS = {"device": "auto", "n": 0, "warmup": 1, "repeats": 5, "threads": 0,
            "block": 0, "max_mem_fraction": 0.4, "round": -1}


def last_level_cache_bytes(sys_root: Path = Path("/sys")) -> int | None:
    """Largest cache size listed for cpu0 (sysfs), or None."""
    best = None
    for entry in (sys_root / "devices/system/cpu/cpu0/cache").glob("index*/size"):
        try:
            text = entry.read_text().strip().upper()
        except OSError:
            continue
        scale = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            size = int(digits) * scale
            best = size if best is None else max(best, size)
    return best


def mem_available_bytes(proc: Path = Path("/proc")) -> int | None:
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def cpu_array_elements(itemsize: int = 8, fraction: float = 0.4) -> int:
    """Elements per array: >= 4 x LLC (STREAM), >= 2^24, three arrays within `fraction` of free memory."""
    llc = last_level_cache_bytes() or 64 * 1024 ** 2
    n = max(4 * llc // itemsize, 1 << 24)
    free = mem_available_bytes()
    if free:
        n = min(n, int(free * fraction) // (3 * itemsize))
    return max(n, 1 << 16)


# --- CPU -----------------------------------------------------------------------------------

def _slices(n: int, parts: int) -> list[tuple[int, int]]:
    step = math.ceil(n / parts)
    return [(lo, min(lo + step, n)) for lo in range(0, n, step)]


class CpuStream:
    """The four STREAM kernels over NumPy arrays a, b, c, split over `threads` threads."""

    def __init__(self, n: int, threads: int, block: int):
        import numpy as np

        self.np, self.n, self.block = np, n, block
        self.a = np.full(n, 1.0)
        self.b = np.full(n, 2.0)
        self.c = np.zeros(n)
        self.parts = _slices(n, max(threads, 1))
        self.scratch = [np.empty(min(block, n)) for _ in self.parts] if block else []
        self.pool = ThreadPoolExecutor(max_workers=len(self.parts)) if len(self.parts) > 1 else None

    def close(self) -> None:
        if self.pool:
            self.pool.shutdown()

    def _copy(self, part: int) -> None:
        lo, hi = self.parts[part]
        self.np.copyto(self.c[lo:hi], self.a[lo:hi])

    def _scale(self, part: int) -> None:
        lo, hi = self.parts[part]
        self.np.multiply(self.c[lo:hi], SCALAR, out=self.b[lo:hi])

    def _add(self, part: int) -> None:
        lo, hi = self.parts[part]
        self.np.add(self.a[lo:hi], self.b[lo:hi], out=self.c[lo:hi])

    def _triad(self, part: int) -> None:
        np, (lo, hi) = self.np, self.parts[part]
        a, b, c = self.a, self.b, self.c
        if not self.block:
            np.multiply(c[lo:hi], SCALAR, out=a[lo:hi])
            np.add(a[lo:hi], b[lo:hi], out=a[lo:hi])
            return
        tmp = self.scratch[part]
        for s in range(lo, hi, self.block):
            e = min(s + self.block, hi)
            t = tmp[: e - s]
            np.multiply(c[s:e], SCALAR, out=t)
            np.add(b[s:e], t, out=a[s:e])

    def kernel(self, name: str):
        fn = getattr(self, f"_{name}")
        if self.pool is None:
            return lambda: fn(0)
        return lambda: list(self.pool.map(fn, range(len(self.parts))))


def _run_cpu(params: dict, rec: base.Recorder) -> dict:
    n = params["n"] or cpu_array_elements(fraction=params["max_mem_fraction"])
    try:
        threads = params["threads"] or len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        threads = params["threads"] or (os.cpu_count() or 1)
    stream = CpuStream(n, threads, params["block"])
    medians = {}
    try:
        for name in KERNELS:
            run_kernel = stream.kernel(name)
            nbytes = stream_bytes(name, n)

            def after(i: int, seconds: float, name=name, nbytes=nbytes) -> None:
                rec.add({"kernel": name, "repeat": i, "seconds": seconds, "value": nbytes / seconds,
                         "bytes": nbytes, "conditions": {"cpu": cpu_conditions()}})

            times = base.timed_repeats(run_kernel, warmup=params["warmup"], repeats=params["repeats"],
                                       after=after)
            medians[name] = nbytes / median(times)
        _verify(stream, params)
    finally:
        stream.close()
    used = {k: v for k, v in params.items() if not (k == "round" and v < 0)}
    used.update(device="cpu", n=n, threads=threads, itemsize=8, backend="numpy", sku="cpu",
                array_bytes=8 * n, kernels_Bps=medians)
    triad = [s for s in rec.samples if s.get("kernel") == "triad"]
    return base.result("membw", "triad_bandwidth", medians["triad"], "B/s", started=rec.started,
                       params=used, samples=list(rec.samples), conditions=summarize(triad or rec.samples))


def _verify(stream: CpuStream, params: dict) -> None:
    """STREAM's own check: after k rounds of the four kernels a, b, c follow a known recurrence."""
    a, b, c = 1.0, 2.0, 0.0
    rounds = params["warmup"] + params["repeats"]
    for _ in range(rounds):
        c = a
    for _ in range(rounds):
        b = SCALAR * c
    for _ in range(rounds):
        c = a + b
    for _ in range(rounds):
        a = b + SCALAR * c
    got = (float(stream.a[-1]), float(stream.b[-1]), float(stream.c[-1]))
    if any(abs(g - w) > 1e-9 * max(abs(w), 1) for g, w in zip(got, (a, b, c))):
        raise RuntimeError(f"STREAM validation failed: a, b, c = {got}, expected {(a, b, c)}")


# --- GPU -----------------------------------------------------------------------------------

def _gpu_kernels(cp):
    return {
        "copy": cp.ElementwiseKernel("T a", "T c", "c = a", "sdiag_stream_copy"),
        "scale": cp.ElementwiseKernel("T c, T q", "T b", "b = q * c", "sdiag_stream_scale"),
        "add": cp.ElementwiseKernel("T a, T b", "T c", "c = a + b", "sdiag_stream_add"),
        "triad": cp.ElementwiseKernel("T b, T c, T q", "T a", "a = b + q * c", "sdiag_stream_triad"),
    }


def _gpu_worker(cp, index: int, barrier, params: dict, rec: base.Recorder) -> dict:
    with cp.cuda.Device(index):
        free, _total = cp.cuda.runtime.memGetInfo()
        n = params["n"] or min(1 << 28, int(free * params["max_mem_fraction"]) // 24)
        a, b, c = cp.full(n, 1.0), cp.full(n, 2.0), cp.zeros(n)
        q = cp.float64(SCALAR)
        k = _gpu_kernels(cp)
        calls = {"copy": lambda: k["copy"](a, c), "scale": lambda: k["scale"](c, q, b),
                 "add": lambda: k["add"](a, b, c), "triad": lambda: k["triad"](b, c, q, a)}
        start, end = cp.cuda.Event(), cp.cuda.Event()
        samples, medians = [], {}
        for name in KERNELS:
            for _ in range(max(params["warmup"], 1)):
                calls[name]()
            cp.cuda.get_current_stream().synchronize()
            barrier.wait()
            nbytes, times = stream_bytes(name, n), []
            for i in range(params["repeats"]):
                start.record()
                calls[name]()
                end.record()
                conditions = {"gpu": gpu_conditions(index)}
                end.synchronize()
                seconds = cp.cuda.get_elapsed_time(start, end) / 1e3
                times.append(seconds)
                sample = {"kernel": name, "repeat": i, "gpu": index, "seconds": seconds,
                          "value": nbytes / seconds, "bytes": nbytes, "conditions": conditions}
                samples.append(sample)
                rec.add(sample)
            medians[name] = nbytes / median(times)
        del a, b, c
        name = cuda.device_name(cp, index)
    used = {k: v for k, v in params.items() if not (k == "round" and v < 0)}
    used.update(device="gpu", n=n, itemsize=8, backend="cupy-elementwise", gpu_name=name,
                sku=cuda.sku_name(name), array_bytes=8 * n, kernels_Bps=medians)
    triad = [s for s in samples if s["kernel"] == "triad"]
    return base.result("membw", "triad_bandwidth", medians["triad"], "B/s", started=rec.started,
                       params=used, samples=samples, conditions=summarize(triad), gpu=index)


def run(params: dict, rec: base.Recorder) -> list[dict]:
    if 0 < params["block"] < 1024:
        raise UsageError(f"membw block={params['block']} is too small",
                         hint="use 0 (NumPy's in-place triad) or at least 1024 elements")
    kind, cp, count = cuda.choose_device(params["device"])
    if kind == "gpu":
        return cuda.on_each_gpu(count, lambda i, barrier: _gpu_worker(cp, i, barrier, params, rec))
    return [_run_cpu(params, rec)]


PROBE = base.ProbeSpec(name="membw", metric="triad_bandwidth", unit="B/s", defaults=DEFAULTS, run=run,
                       help="STREAM copy/scale/add/triad memory bandwidth per GPU or per CPU node")
