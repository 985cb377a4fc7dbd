"""Clocks and throttle reasons. One GPU held at a fraction of its clock slows every rank of a
synchronous job to its pace, so hardware slowdowns and locked application clocks drain."""

from __future__ import annotations

from slurm_diag.gpu.throttle import HARMFUL
from slurm_diag.health.checks._gpu import missing, per_gpu
from slurm_diag.health.registry import check
from slurm_diag.health.result import CheckResult, critical, warn

NAME = "clocks"
NEXT = {
    "HW_THERMAL_SLOWDOWN": "drain and inspect cooling (fans, airflow, heatsink)",
    "SW_THERMAL_SLOWDOWN": "drain and inspect cooling (fans, airflow, heatsink)",
    "HW_POWER_BRAKE_SLOWDOWN": "drain and check the power supplies and the power-brake signal",
    "HW_SLOWDOWN": "drain and inspect cooling and power (nvidia-smi -q -d PERFORMANCE)",
}


def evaluate(gpu, min_ratio: float, app_ratio: float) -> CheckResult | None:
    gone = missing(NAME, gpu, "clocks.sm_mhz", "clocks.max_sm_mhz", "throttle_reasons")
    if gone:
        return gone
    c = gpu.clocks
    if c.sm_mhz is None or c.max_sm_mhz is None:
        return None                      # the device does not report clocks: nothing to judge
    reasons = gpu.throttle_reasons or ()
    floor = int(c.max_sm_mhz * min_ratio)
    observed = {"sm_mhz": c.sm_mhz, "app_sm_mhz": c.app_sm_mhz, "max_sm_mhz": c.max_sm_mhz,
                "reasons": list(reasons)}
    harmful = [r for r in reasons if r in HARMFUL]
    if harmful:
        return critical(NAME, f"gpu{gpu.index} SM clock {c.sm_mhz} MHz, expected ≥ {floor} MHz under load "
                              f"({', '.join(harmful)} active): {NEXT[harmful[0]]}",
                        gpu=gpu.index, observed=observed, expected={"sm_mhz_min": floor, "harmful_reasons": []},
                        next_step=NEXT[harmful[0]])
    if c.app_sm_mhz is not None and c.app_sm_mhz < c.max_sm_mhz * app_ratio:
        return critical(NAME, f"gpu{gpu.index} application SM clock locked at {c.app_sm_mhz} MHz, expected ≥ "
                              f"{int(c.max_sm_mhz * app_ratio)} MHz (max {c.max_sm_mhz}): "
                              "reset with nvidia-smi -rac (and -rgc)",
                        gpu=gpu.index, observed=observed,
                        expected={"app_sm_mhz_min": int(c.max_sm_mhz * app_ratio)},
                        next_step="drain; nvidia-smi -i N -rac -rgc, then find who set the clocks")
    busy = "GPU_IDLE" not in reasons
    if busy and not reasons and c.sm_mhz < floor:
        return warn(NAME, f"gpu{gpu.index} SM clock {c.sm_mhz} MHz under load, expected ≥ {floor} MHz, "
                          "no throttle reason reported: watch it",
                    gpu=gpu.index, observed=observed, expected={"sm_mhz_min": floor},
                    next_step="run the GEMM probe on this node; compare with peers")
    return None


@check(NAME, needs_gpus=True)
def run(ctx) -> list[CheckResult]:
    min_ratio, app_ratio = ctx.threshold("min_sm_ratio_under_load"), ctx.threshold("app_clock_min_ratio")
    return per_gpu(ctx, NAME, lambda g: evaluate(g, min_ratio, app_ratio),
                   "no hardware slowdown, application clocks at max (SW power cap alone is normal)")
