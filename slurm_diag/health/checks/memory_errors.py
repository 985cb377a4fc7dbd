"""Row remapping (Ampere and later) and retired pages (older GPUs): a pending remap or retirement
needs a GPU reset; a remap failure or too many retired pages means the GPU should be replaced."""

from __future__ import annotations

from slurm_diag.health.checks._gpu import missing, per_gpu
from slurm_diag.health.registry import check
from slurm_diag.health.result import CheckResult, critical, warn

NAME = "memory_errors"


def evaluate(gpu, pages_warn: int, pages_critical: int) -> CheckResult | None:
    for field in ("row_remap", "retired_pages"):
        if field not in gpu.unsupported:
            gone = missing(NAME, gpu, field)
            if gone:
                return gone
    r = gpu.row_remap
    if r is not None:
        observed = {"correctable": r.correctable, "uncorrectable": r.uncorrectable,
                    "pending": r.pending, "failure": r.failure}
        if r.failure:
            return critical(NAME, f"gpu{gpu.index} row remapping failed (no spare rows left), expected no failure: "
                                  "drain and RMA the GPU", gpu=gpu.index, observed=observed,
                            expected={"failure": False}, next_step="drain; RMA the GPU")
        if r.pending:
            return critical(NAME, f"gpu{gpu.index} row remap pending ({r.uncorrectable} uncorrectable rows), "
                                  "expected none pending: drain and reset the GPU to apply it",
                            gpu=gpu.index, observed=observed, expected={"pending": False},
                            next_step="drain; nvidia-smi -r -i N (or reboot), then resume")
    p = gpu.retired_pages
    if p is not None:
        total = p.single_bit + p.double_bit
        observed = {"single_bit": p.single_bit, "double_bit": p.double_bit, "pending": p.pending}
        if p.pending:
            return critical(NAME, f"gpu{gpu.index} page retirement pending, expected none: drain and reset the GPU",
                            gpu=gpu.index, observed=observed, expected={"pending": False},
                            next_step="drain; nvidia-smi -r -i N (or reboot)")
        if total >= pages_critical:
            return critical(NAME, f"gpu{gpu.index} {total} retired pages, expected < {pages_critical}: "
                                  "drain and RMA the GPU", gpu=gpu.index, observed=observed,
                            expected={"retired_max": pages_critical - 1}, next_step="drain; RMA the GPU")
        if pages_warn and total >= pages_warn:
            return warn(NAME, f"gpu{gpu.index} {total} retired pages (RMA at {pages_critical})",
                        gpu=gpu.index, observed=observed, expected={"retired_max": pages_warn - 1},
                        next_step="watch the count; RMA when it nears the limit")
    return None


@check(NAME, needs_gpus=True)
def run(ctx) -> list[CheckResult]:
    warn_at, crit_at = ctx.threshold("retired_pages_warn"), ctx.threshold("retired_pages_critical")
    return per_gpu(ctx, NAME, lambda g: evaluate(g, warn_at, crit_at),
                   "no pending or failed row remaps or page retirements")
