"""Full level only: a short matrix multiply on every GPU through CuPy, checked against the host
result (and, when configured, a minimum TFLOPS). Skipped with a reason where GPUs are simulated,
absent, or CuPy is not installed."""

from __future__ import annotations

import time

from slurm_diag.health.registry import check
from slurm_diag.health.result import CheckResult, critical, ok, unknown

NAME = "gpu_sanity"


def decide(index: int, max_error: float, tflops: float, min_tflops: float) -> CheckResult:
    observed = {"max_abs_error": max_error, "tflops": round(tflops, 2)}
    if not max_error < 1e-2:
        return critical(NAME, f"gpu{index} matmul result wrong (max error {max_error:.3g}), expected < 1e-2: "
                              "drain; the GPU computes wrong answers", gpu=index, observed=observed,
                        expected={"max_abs_error_lt": 1e-2}, next_step="drain; run dcgmi diag -r 3; RMA")
    if min_tflops and tflops < min_tflops:
        return critical(NAME, f"gpu{index} matmul at {tflops:.1f} TFLOPS, expected ≥ {min_tflops:g}: "
                              "drain and check clocks", gpu=index, observed=observed,
                        expected={"tflops_min": min_tflops}, next_step="drain; check the clocks check and cooling")
    return ok(NAME, f"gpu{index} matmul correct at {tflops:.1f} TFLOPS", gpu=index, observed=observed)


def _run_one(cp, index: int, n: int, min_tflops: float) -> CheckResult:
    with cp.cuda.Device(index):
        rng = cp.random.default_rng(index)
        a = rng.standard_normal((n, n), dtype=cp.float32)
        b = rng.standard_normal((n, n), dtype=cp.float32)
        (a @ b).sum()                      # warm up
        cp.cuda.Device(index).synchronize()
        reps = 5
        start = time.perf_counter()
        for _ in range(reps):
            c = a @ b
        cp.cuda.Device(index).synchronize()
        elapsed = time.perf_counter() - start
        k = 64
        ref = cp.asnumpy(a[:k]).astype("float64") @ cp.asnumpy(b).astype("float64")
        err = float(abs(cp.asnumpy(c[:k]).astype("float64") - ref).max() / max(1.0, abs(ref).max()))
    return decide(index, err, 2 * n ** 3 * reps / elapsed / 1e12, min_tflops)


@check(NAME, levels=("full",), needs_gpus=True, timeout_s=180.0)
def run(ctx) -> list[CheckResult]:
    if ctx.is_simulated():
        return [ok(NAME, "skipped: GPUs are simulated (node profile); no kernel can run")]
    reading = ctx.gpus()
    if reading.error or not reading.gpus:
        expected, _ = ctx.expected_gpus()
        if not expected and (not reading.gpus):
            return [ok(NAME, "skipped: no GPUs on this node")]
        return [unknown(NAME, f"cannot run the GPU kernel: {reading.error or 'no GPU visible'}")]
    try:
        import cupy as cp
    except ImportError:
        return [unknown(NAME, "cannot run the GPU kernel: CuPy is not installed",
                        next_step="pip install 'slurm-diag[cuda]' (cupy-cuda12x)")]
    n, min_tflops = ctx.threshold("sanity_matrix_n"), ctx.threshold("sanity_min_tflops")
    results = []
    for g in reading.gpus:
        try:
            results.append(_run_one(cp, g.index, n, min_tflops))
        except Exception as exc:  # a CUDA error on one GPU is a finding about that GPU
            results.append(critical(NAME, f"gpu{g.index} kernel failed: {exc}", gpu=g.index,
                                    next_step="drain; check dmesg for XIDs and run dcgmi diag"))
    return results
