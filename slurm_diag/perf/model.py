"""The performance model's arithmetic: pure functions, SI units (seconds, bytes, FLOP, B/s).

Why these forms: GEMM counts 2mnk FLOP and STREAM counts bytes as its own reference does, compute
rates scale linearly with the SM clock, and collectives use the ring model and nccl-tests'
algbw/busbw definitions so our figures compare with theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

# nccl-tests (doc/PERFORMANCE.md): busbw = algbw x factor, factor per collective over n ranks.
BUSBW_FACTORS = {
    "allreduce": lambda n: 2.0 * (n - 1) / n,
    "allgather": lambda n: (n - 1) / n,
    "reducescatter": lambda n: (n - 1) / n,
    "broadcast": lambda n: 1.0,
    "reduce": lambda n: 1.0,
    "alltoall": lambda n: (n - 1) / n,
}


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def gemm_flops(m: int, n: int, k: int) -> float:
    """FLOP of C = A @ B with A m x k, B k x n: one multiply and one add per term, 2mnk."""
    return 2.0 * m * n * k


def stream_bytes(kernel: str, n: int, itemsize: int = 8) -> int:
    """Bytes STREAM counts for one pass of a kernel over n elements (no write-allocate)."""
    words = {"copy": 2, "scale": 2, "add": 3, "triad": 3}
    try:
        return words[kernel] * n * itemsize
    except KeyError:
        raise ValueError(f"unknown STREAM kernel {kernel!r}; one of {sorted(words)}") from None


def clock_scaled(value: float, sm_clock_mhz: float | None, max_clock_mhz: float | None) -> float:
    """Scale an expected compute rate by current/max SM clock (compute rate is linear in clock)."""
    if not sm_clock_mhz or not max_clock_mhz:
        return value
    return value * min(sm_clock_mhz / max_clock_mhz, 1.0)


def ring_allreduce_time(n: int, size_bytes: float, alpha_s: float, beta_Bps: float) -> float:
    """Ring allreduce over n ranks: T = 2(n-1) alpha + 2(n-1)/n x S / beta."""
    if n < 1:
        raise ValueError(f"ranks must be >= 1, got {n}")
    if n == 1:
        return 0.0
    _positive("beta", beta_Bps)
    return 2 * (n - 1) * alpha_s + 2.0 * (n - 1) / n * size_bytes / beta_Bps


def algbw(size_bytes: float, seconds: float) -> float:
    """nccl-tests algorithm bandwidth: S / t."""
    _positive("time", seconds)
    return size_bytes / seconds


def busbw(collective: str, n: int, size_bytes: float, seconds: float) -> float:
    """nccl-tests bus bandwidth: algbw x the collective's factor (allreduce 2(n-1)/n)."""
    try:
        factor = BUSBW_FACTORS[collective](n)
    except KeyError:
        raise ValueError(f"unknown collective {collective!r}; one of {sorted(BUSBW_FACTORS)}") from None
    return algbw(size_bytes, seconds) * factor


@dataclass(frozen=True)
class AllreducePrediction:
    ranks: int
    size_bytes: float
    alpha_s: float
    beta_Bps: float
    time_s: float
    algbw: float
    busbw: float


def predict_allreduce(n: int, size_bytes: float, alpha_s: float, beta_Bps: float) -> AllreducePrediction:
    t = ring_allreduce_time(n, size_bytes, alpha_s, beta_Bps)
    a = size_bytes / t if t > 0 else float("inf")
    return AllreducePrediction(n, size_bytes, alpha_s, beta_Bps, t, a, a * BUSBW_FACTORS["allreduce"](n))
