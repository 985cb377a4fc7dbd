"""NVLink links down: collectives fall back to PCIe or hang."""

from __future__ import annotations

from slurm_diag.health.checks._gpu import missing, per_gpu
from slurm_diag.health.registry import check
from slurm_diag.health.result import CheckResult, critical

NAME = "nvlink"


def evaluate(gpu) -> CheckResult | None:
    if "nvlink_up" in gpu.unsupported:
        return None
    gone = missing(NAME, gpu, "nvlink_up")
    if gone:
        return gone
    links = gpu.nvlink_up or ()
    down = [i for i, up in enumerate(links) if not up]
    if down:
        return critical(NAME, f"gpu{gpu.index} NVLink links down: {', '.join(map(str, down))} of {len(links)}, "
                              "expected all up: drain and check the fabric",
                        gpu=gpu.index, observed={"down": down, "links": len(links)},
                        expected={"down": []},
                        next_step="drain; nvidia-smi nvlink -s / -e, check fabricmanager, reset the GPU")
    return None


@check(NAME, needs_gpus=True)
def run(ctx) -> list[CheckResult]:
    return per_gpu(ctx, NAME, evaluate, "all NVLink links up (or no NVLink)")
