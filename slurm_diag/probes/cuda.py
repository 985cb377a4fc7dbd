"""CuPy plumbing shared by the GPU probes: find the GPUs, name their SKU, run one worker per GPU
concurrently (a node is judged loaded the way a job loads it: all GPUs at once)."""

from __future__ import annotations

import threading
from typing import Any, Callable

from slurm_diag.errors import EnvironmentProblem


def cupy_or_reason() -> tuple[Any, int, str]:
    """(cupy module or None, number of visible GPUs, why not when None)."""
    try:
        import cupy
    except ImportError as exc:
        return None, 0, f"CuPy is not installed ({exc}): pip install 'slurm-diag[cuda]'"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:   # CUDA driver missing or no device: CuPy raises CUDARuntimeError
        return None, 0, f"CuPy cannot reach a GPU: {exc}"
    if count < 1:
        return None, 0, "no CUDA device is visible (CUDA_VISIBLE_DEVICES?)"
    return cupy, count, ""


def choose_device(requested: str) -> tuple[str, Any, int]:
    """("gpu", cupy, count) or ("cpu", None, 0) for device auto|gpu|cpu."""
    if requested not in ("auto", "gpu", "cpu"):
        from slurm_diag.errors import UsageError
        raise UsageError(f"device must be auto, gpu or cpu, got {requested!r}")
    if requested == "cpu":
        return "cpu", None, 0
    cp, count, why = cupy_or_reason()
    if cp is None:
        if requested == "gpu":
            raise EnvironmentProblem(f"GPU probe requested but {why}",
                                     hint="run on a GPU node, or pass device=cpu")
        return "cpu", None, 0
    return "gpu", cp, count


def device_name(cp, index: int) -> str:
    props = cp.cuda.runtime.getDeviceProperties(index)
    name = props.get("name", b"")
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name)


def sku_name(gpu_name: str) -> str:
    from slurm_diag.perf.hardware import sku_for_gpu_name

    sku = sku_for_gpu_name(gpu_name)
    return sku.name if sku else "unknown"


def on_each_gpu(count: int, work: Callable[[int, threading.Barrier], Any]) -> list[Any]:
    """Run work(device_index, barrier) in one thread per GPU; re-raise the first failure.
    The barrier lines the timed phases up so every GPU is under load at the same time."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            results[i] = work(i, barrier)
        except BaseException as exc:   # surfaced below, in the caller's thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=target, args=(i,), name=f"probe-gpu{i}", daemon=True)
               for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)        # short joins keep the main thread responsive to SIGTERM
    if errors:
        raise errors[0]
    return results
