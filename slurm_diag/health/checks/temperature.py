"""GPU temperature against the GPU's own slowdown threshold."""

from __future__ import annotations

from slurm_diag.health.checks._gpu import missing, per_gpu
from slurm_diag.health.registry import check
from slurm_diag.health.result import CheckResult, critical, warn

NAME = "temperature"


def evaluate(gpu, margin_c: float) -> CheckResult | None:
    gone = missing(NAME, gpu, "temperature_c")
    if gone:
        return gone
    t, limit = gpu.temperature_c, gpu.slowdown_temp_c
    if limit is None:
        return None
    if t >= limit:
        return critical(NAME, f"gpu{gpu.index} at {t} °C, expected below its slowdown threshold {limit} °C: "
                              "drain and inspect cooling",
                        gpu=gpu.index, observed=t, expected={"below_c": limit},
                        next_step="drain and inspect fans, airflow and the heatsink")
    if t >= limit - margin_c:
        return warn(NAME, f"gpu{gpu.index} at {t} °C, within {margin_c:g} °C of slowdown at {limit} °C: "
                          "check cooling before it throttles",
                    gpu=gpu.index, observed=t, expected={"below_c": limit - margin_c},
                    next_step="check fans and inlet temperature")
    return None


@check(NAME, needs_gpus=True)
def run(ctx) -> list[CheckResult]:
    margin = ctx.threshold("temperature_warn_margin_c")
    return per_gpu(ctx, NAME, lambda g: evaluate(g, margin), "temperatures below slowdown thresholds")
