"""PCIe link trained below its maximum. Width never drops by design; generation drops at idle to
save power, so a lower generation only counts while the GPU is busy."""

from __future__ import annotations

from slurm_diag.health.checks._gpu import missing, per_gpu
from slurm_diag.health.registry import check
from slurm_diag.health.result import CheckResult, critical, warn

NAME = "pcie"


def evaluate(gpu) -> CheckResult | None:
    gone = missing(NAME, gpu, "pcie.gen", "pcie.max_gen", "pcie.width", "pcie.max_width")
    if gone:
        return gone
    p = gpu.pcie
    observed = {"gen": p.gen, "width": p.width}
    expected = {"gen": p.max_gen, "width": p.max_width}
    if None not in (p.width, p.max_width) and p.width < p.max_width:
        return critical(NAME, f"gpu{gpu.index} PCIe link x{p.width}, expected x{p.max_width}: "
                              "host-device bandwidth cut; reseat the GPU or riser",
                        gpu=gpu.index, observed=observed, expected=expected,
                        next_step="drain; check lspci -vv LnkSta, reseat the GPU/riser")
    idle = "GPU_IDLE" in (gpu.throttle_reasons or ())
    if None not in (p.gen, p.max_gen) and p.gen < p.max_gen and not idle:
        return warn(NAME, f"gpu{gpu.index} PCIe gen{p.gen} under load, expected gen{p.max_gen}",
                    gpu=gpu.index, observed=observed, expected=expected,
                    next_step="check lspci -vv LnkSta under load; reseat if it stays low")
    return None


@check(NAME, needs_gpus=True)
def run(ctx) -> list[CheckResult]:
    return per_gpu(ctx, NAME, evaluate, "PCIe links at full width (lower gen at idle is normal)")
