"""ECC counters. Any new uncorrectable error is CRITICAL (the GPU needs a reset); corrected errors
only matter by their rate. "New" is judged against the counts remembered from the last run."""

from __future__ import annotations

import time

from slurm_diag.health import state
from slurm_diag.health.checks._gpu import missing, per_gpu
from slurm_diag.health.registry import check
from slurm_diag.health.result import CheckResult, critical, warn

NAME = "ecc"
FIELDS = ("ecc.volatile_corrected", "ecc.volatile_uncorrected", "ecc.aggregate_corrected",
          "ecc.aggregate_uncorrected")
RESET = "drain; reset the GPU (nvidia-smi -r) or reboot, then check row remapping; RMA if it recurs"


def evaluate(gpu, baseline: dict | None, now: float, per_hour_warn: float,
             volatile_warn: int) -> CheckResult | None:
    if "ecc.volatile_uncorrected" in gpu.unsupported:
        return None                      # ECC disabled or not supported
    gone = missing(NAME, gpu, *FIELDS)
    if gone:
        return gone
    e = gpu.ecc
    observed = {"volatile_uncorrected": e.volatile_uncorrected, "aggregate_uncorrected": e.aggregate_uncorrected,
                "volatile_corrected": e.volatile_corrected, "aggregate_corrected": e.aggregate_corrected}
    if baseline and e.aggregate_uncorrected > baseline.get("aggregate_uncorrected", 0):
        new = e.aggregate_uncorrected - baseline["aggregate_uncorrected"]
        return critical(NAME, f"gpu{gpu.index} {new} new uncorrectable ECC errors since the last check, "
                              f"expected 0: {RESET}", gpu=gpu.index, observed=observed,
                        expected={"new_uncorrected": 0}, next_step=RESET)
    if e.volatile_uncorrected:
        return critical(NAME, f"gpu{gpu.index} {e.volatile_uncorrected} uncorrectable ECC errors since the "
                              f"driver loaded, expected 0: {RESET}", gpu=gpu.index, observed=observed,
                        expected={"volatile_uncorrected": 0}, next_step=RESET)
    if baseline and baseline.get("time") is not None and now > baseline["time"]:
        hours = max((now - baseline["time"]) / 3600, 1 / 60)
        rate = (e.aggregate_corrected - baseline.get("aggregate_corrected", 0)) / hours
        if rate > per_hour_warn:
            return warn(NAME, f"gpu{gpu.index} corrected ECC errors at {rate:.0f}/h, expected ≤ {per_hour_warn:g}/h: "
                              "memory degrading; watch row remapping",
                        gpu=gpu.index, observed=observed, expected={"corrected_per_hour_max": per_hour_warn},
                        next_step="plan a GPU reset; RMA if the rate keeps rising")
    if e.volatile_corrected > volatile_warn:
        return warn(NAME, f"gpu{gpu.index} {e.volatile_corrected} corrected ECC errors since the driver loaded, "
                          f"expected ≤ {volatile_warn}: memory degrading",
                    gpu=gpu.index, observed=observed, expected={"volatile_corrected_max": volatile_warn},
                    next_step="plan a GPU reset; RMA if it keeps rising")
    if e.aggregate_uncorrected:
        return warn(NAME, f"gpu{gpu.index} {e.aggregate_uncorrected} uncorrectable ECC errors in its lifetime "
                          "(none since the driver loaded)", gpu=gpu.index, observed=observed,
                    expected={"aggregate_uncorrected": 0},
                    next_step="check row remapping (nvidia-smi -q -d ROW_REMAPPER)")
    return None


@check(NAME, needs_gpus=True)
def run(ctx) -> list[CheckResult]:
    remembered = state.read(ctx.home, ctx.node, "ecc")
    now = time.time()
    per_hour, volatile = ctx.threshold("ecc_corrected_per_hour_warn"), ctx.threshold("ecc_volatile_corrected_warn")
    results = per_gpu(ctx, NAME, lambda g: evaluate(g, remembered.get(g.uuid or str(g.index)), now,
                                                     per_hour, volatile),
                      "no uncorrectable ECC errors, corrected rate normal")
    reading = ctx.gpus()
    if not reading.error and reading.gpus:
        updated = dict(remembered)
        for g in reading.gpus:
            key = g.uuid or str(g.index)
            if g.ecc.aggregate_uncorrected is None or g.ecc.aggregate_corrected is None:
                continue
            old = remembered.get(key)
            # keep the old baseline time for the rate unless the window grew past an hour
            keep_time = old and now - old.get("time", now) < 3600
            updated[key] = {"aggregate_uncorrected": g.ecc.aggregate_uncorrected,
                            "aggregate_corrected": old["aggregate_corrected"] if keep_time else g.ecc.aggregate_corrected,
                            "time": old["time"] if keep_time else now}
        try:
            state.write(ctx.home, ctx.node, "ecc", updated)
        except OSError:
            pass
    return results
