"""GPU count: every GPU the node should have (config or Slurm GRES) must be visible to NVML."""

from __future__ import annotations

from slurm_diag.gpu.reading import GpuReading
from slurm_diag.health.checks._gpu import unreadable
from slurm_diag.health.registry import check
from slurm_diag.health.result import CheckResult, critical, ok, warn

NAME = "gpu_count"


def evaluate(reading: GpuReading, expected: int | None, source: str) -> CheckResult:
    if reading.error:
        return unreadable(NAME, reading, expected, source, driver_is_critical=True)
    seen = len(reading.gpus)
    # index -> PCI bus id: lets a diagnosis map a bus id in a job's log (Xid lines) to a GPU index
    buses = {str(g.index): g.pci_bus_id for g in reading.gpus if g.pci_bus_id}
    if expected is None:
        return ok(NAME, f"{seen} GPUs visible; {source}", observed=seen, data={"pci": buses})
    if seen < expected:
        return critical(NAME, f"{seen} of {expected} GPUs visible, expected {expected} ({source}): "
                              "a GPU has fallen off the bus or failed to initialise",
                        observed=seen, expected=expected, data={"pci": buses},
                        next_step="drain; check dmesg for XID 79 / RmInitAdapter, reboot, reseat or RMA the GPU")
    if seen > expected:
        return warn(NAME, f"{seen} GPUs visible, expected {expected} ({source})",
                    observed=seen, expected=expected, data={"pci": buses},
                    next_step="fix Gres=gpu:N in slurm.conf or health.expected_gpus")
    return ok(NAME, f"{seen} of {expected} GPUs visible", observed=seen, expected=expected, data={"pci": buses})


@check(NAME, needs_gpus=True)
def run(ctx) -> list[CheckResult]:
    expected, source = ctx.expected_gpus()
    return [evaluate(ctx.gpus(), expected, source)]
