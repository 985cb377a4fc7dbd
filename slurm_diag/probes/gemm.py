"""GEMM probe: dense matrix multiply rate (FLOP/s, 2mnk per product), median of timed repeats.

GPU nodes: cuBLAS through CuPy (cublasGemmEx, so bf16 and tf32 are reachable without another
library) on every visible GPU at once, timed with CUDA events, one ProbeResult per GPU. CPU nodes:
NumPy's BLAS into a preallocated output, one ProbeResult for the node. Inputs are random (zeros
would let hardware skip work and make the power draw unrealistically low).
"""

from __future__ import annotations

import math
import os

from slurm_diag.errors import UsageError
from slurm_diag.perf.model import gemm_flops
from slurm_diag.probes import base, cuda
from slurm_diag.probes.conditions import cpu_conditions, gpu_conditions, summarize
from slurm_diag.stats import median

CPU_DTYPES = ("fp64", "fp32")
GPU_DTYPES = ("fp64", "fp32", "tf32", "fp16", "bf16")

# cudaDataType_t and cublasComputeType_t values (cuBLAS library_types.h / cublas_api.h)
CUDA_R_32F, CUDA_R_64F, CUDA_R_16F, CUDA_R_16BF = 0, 1, 2, 14
COMPUTE_32F, COMPUTE_64F, COMPUTE_32F_FAST_TF32 = 68, 70, 77
CUBLAS_OP_N, CUBLAS_GEMM_DEFAULT, CUBLAS_POINTER_MODE_HOST = 0, -1, 0
_GEMMEX = {  # dtype -> (data type of A, B, C; compute type; scalar is double?)
    "fp64": (CUDA_R_64F, COMPUTE_64F, True),
    "fp32": (CUDA_R_32F, COMPUTE_32F, False),
    "tf32": (CUDA_R_32F, COMPUTE_32F_FAST_TF32, False),
    "fp16": (CUDA_R_16F, COMPUTE_32F, False),
    "bf16": (CUDA_R_16BF, COMPUTE_32F, False),
}

DEFAULTS = {"device": "auto", "dtype": "", "n": 0, "warmup": 2, "repeats": 5,
            "min_sample_s": 0.2, "round": -1}


def run(params: dict, rec: base.Recorder) -> list[dict]:
    kind, cp, count = cuda.choose_device(params["device"])
    if kind == "gpu":
        return _run_gpu(cp, count, params, rec)
    return [_run_cpu(params, rec)]


def _clean(params: dict, **extra) -> dict:
    out = {k: v for k, v in params.items() if not (k == "round" and v < 0)}
    out.update(extra)
    return out


# --- CPU -----------------------------------------------------------------------------------

def _run_cpu(params: dict, rec: base.Recorder) -> dict:
    import numpy as np

    dtype = params["dtype"] or "fp64"
    if dtype not in CPU_DTYPES:
        raise UsageError(f"gemm on CPU supports {', '.join(CPU_DTYPES)}, not {dtype!r}",
                         hint="NumPy has no fast half-precision or bf16 GEMM; use dtype=fp64 or fp32")
    n = params["n"] or 2048
    np_dtype = {"fp64": np.float64, "fp32": np.float32}[dtype]
    rng = np.random.default_rng(12345)
    a = rng.standard_normal((n, n), dtype=np_dtype)
    b = rng.standard_normal((n, n), dtype=np_dtype)
    c = np.empty((n, n), dtype=np_dtype)
    flops = gemm_flops(n, n, n)

    def step() -> None:
        np.matmul(a, b, out=c)

    # one untimed product tells how many make a sample of at least min_sample_s
    t_one = base.timed_repeats(step, warmup=max(params["warmup"], 1), repeats=1)[0]
    inner = max(1, math.ceil(params["min_sample_s"] / max(t_one, 1e-9)))

    def batch() -> None:
        for _ in range(inner):
            step()

    def after(i: int, seconds: float) -> None:
        rec.add({"repeat": i, "seconds": seconds / inner, "value": flops * inner / seconds,
                 "conditions": {"cpu": cpu_conditions()}})

    times = base.timed_repeats(batch, warmup=0, repeats=params["repeats"], after=after)
    value = flops * inner / median(times)
    used = _clean(params, device="cpu", dtype=dtype, n=n, inner=inner, backend="numpy", sku="cpu",
                  blas_threads=os.environ.get("OMP_NUM_THREADS") or os.environ.get("OPENBLAS_NUM_THREADS"))
    return base.result("gemm", "flops", value, "FLOP/s", started=rec.started, params=used,
                       samples=list(rec.samples), conditions=summarize(rec.samples), dtype=dtype)


# --- GPU -----------------------------------------------------------------------------------

def _operands(cp, n: int, dtype: str):
    """A, B, C on the current device and a function that enqueues C = A @ B once."""
    import numpy as np
    from cupy_backends.cuda.libs import cublas

    data_type, compute, double_scalar = _GEMMEX[dtype]
    gen = cp.random.default_rng(12345)
    if dtype == "fp64":
        a, b = gen.standard_normal((n, n), dtype=cp.float64), gen.standard_normal((n, n), dtype=cp.float64)
    else:
        a, b = gen.standard_normal((n, n), dtype=cp.float32), gen.standard_normal((n, n), dtype=cp.float32)
        if dtype == "fp16":
            a, b = a.astype(cp.float16), b.astype(cp.float16)
        elif dtype == "bf16":    # bf16 is the top half of an fp32; CuPy has no bf16 dtype
            a = (a.view(cp.uint32) >> 16).astype(cp.uint16)
            b = (b.view(cp.uint32) >> 16).astype(cp.uint16)
    c = cp.zeros((n, n), dtype=a.dtype)
    scalar = np.float64 if double_scalar else np.float32
    alpha, beta = np.array(1.0, dtype=scalar), np.array(0.0, dtype=scalar)
    handle = cp.cuda.device.get_cublas_handle()
    cublas.setPointerMode(handle, CUBLAS_POINTER_MODE_HOST)

    def enqueue() -> None:
        cublas.gemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n,
                      alpha.ctypes.data, a.data.ptr, data_type, n, b.data.ptr, data_type, n,
                      beta.ctypes.data, c.data.ptr, data_type, n, compute, CUBLAS_GEMM_DEFAULT)

    return (a, b, c, alpha, beta), enqueue


def _gpu_worker(cp, index: int, barrier, params: dict, dtype: str, n: int, rec: base.Recorder) -> dict:
    flops = gemm_flops(n, n, n)
    with cp.cuda.Device(index):
        keep, enqueue = _operands(cp, n, dtype)
        stream = cp.cuda.get_current_stream()
        for _ in range(max(params["warmup"], 1)):
            enqueue()
        stream.synchronize()
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        enqueue()
        end.record()
        end.synchronize()
        t_one = cp.cuda.get_elapsed_time(start, end) / 1e3
        inner = max(1, math.ceil(params["min_sample_s"] / max(t_one, 1e-9)))
        barrier.wait()
        samples, times = [], []
        for i in range(params["repeats"]):
            start.record()
            for _ in range(inner):
                enqueue()
            end.record()
            conditions = {"gpu": gpu_conditions(index)}      # read while the batch runs
            end.synchronize()
            seconds = cp.cuda.get_elapsed_time(start, end) / 1e3 / inner
            times.append(seconds)
            sample = {"repeat": i, "gpu": index, "seconds": seconds, "value": flops / seconds,
                      "conditions": conditions}
            samples.append(sample)
            rec.add(sample)
        del keep
        name = cuda.device_name(cp, index)
    used = _clean(params, device="gpu", dtype=dtype, n=n, inner=inner, backend="cupy-cublasGemmEx",
                  gpu_name=name, sku=cuda.sku_name(name))
    return base.result("gemm", "flops", flops / median(times), "FLOP/s", started=rec.started,
                       params=used, samples=samples, conditions=summarize(samples), dtype=dtype, gpu=index)


def _run_gpu(cp, count: int, params: dict, rec: base.Recorder) -> list[dict]:
    dtype = params["dtype"] or "bf16"
    if dtype not in GPU_DTYPES:
        raise UsageError(f"gemm on GPU supports {', '.join(GPU_DTYPES)}, not {dtype!r}",
                         hint="fp8 needs cuBLASLt, which CuPy does not expose; `sdiag-agent perf "
                              "expect --dtype fp8` still predicts it")
    n = params["n"] or 8192
    return cuda.on_each_gpu(count, lambda i, barrier: _gpu_worker(cp, i, barrier, params, dtype, n, rec))


PROBE = base.ProbeSpec(name="gemm", metric="flops", unit="FLOP/s", defaults=DEFAULTS, run=run,
                       help="dense matrix multiply rate per GPU (CuPy/cuBLAS) or per CPU node (NumPy)")
