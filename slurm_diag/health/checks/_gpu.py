"""Shared shape of the per-GPU checks: read once, decide per GPU, fold the healthy ones."""

from __future__ import annotations

from slurm_diag.gpu.reading import GpuReading, ReadError
from slurm_diag.health.result import CheckResult, Summary, critical, ok, unknown

NOT_A_NODE_FAULT = (ReadError.NOT_INSTALLED, ReadError.INTERNAL, ReadError.PROFILE)


def unreadable(name: str, reading: GpuReading, expected: int | None, source: str,
               driver_is_critical: bool = False) -> CheckResult:
    """The verdict when no GPU could be read, decided by the reading's error kind (never its words).

    slurm-diag's own trouble (package missing, reader crashed, bad profile) is UNKNOWN marked
    ``not_a_node_fault``: visible, never a drain, even with ``policy.unknown = "drain"``. A driver that does not load is nothing to check where no GPU is expected, and CRITICAL
    for ``gpu_count`` (``driver_is_critical``) where GPUs are expected.
    """
    kind = reading.error_kind
    if kind in NOT_A_NODE_FAULT:
        if expected == 0:
            return ok(name, f"no GPUs expected ({source}): nothing to check ({reading.error})", expected=0)
        return unknown(name, f"could not read the GPUs, a slurm-diag problem and not the node's: {reading.error}",
                       expected=expected, data={"error_kind": kind.value, "not_a_node_fault": True},
                       next_step="fix slurm-diag's installation or profile on this node; the node is not drained for it")
    if kind is ReadError.DRIVER and not expected:
        return ok(name, f"no GPUs expected ({source}) and no NVIDIA driver: nothing to check",
                  observed=0, expected=expected)
    if kind is ReadError.DRIVER and driver_is_critical:
        return critical(name, f"expected {expected} GPUs ({source}), but NVML did not initialise: {reading.error}",
                        observed=None, expected=expected, data={"error_kind": kind.value},
                        next_step="drain; check the driver (nvidia-smi, lsmod | grep nvidia) and reboot")
    return unknown(name, f"could not read the GPUs: {reading.error}", expected=expected,
                   data={"error_kind": kind.value if kind else None},
                   next_step="run nvidia-smi on the node; drain if it persists (a hung NVML needs a reboot)")


def per_gpu(ctx, name: str, decide, healthy_text: str) -> list[CheckResult]:
    reading = ctx.gpus()
    if reading.error:
        expected, source = ctx.expected_gpus()
        return [unreadable(name, reading, expected, source)]
    if not reading.gpus:
        return [ok(name, "no GPUs visible: nothing to check (gpu_count judges the count)")]
    summary = Summary(name)
    for gpu in reading.gpus:
        summary.add(gpu.index, decide(gpu))
    return summary.results(healthy_text)


def missing(name: str, gpu, *fields: str) -> CheckResult | None:
    """UNKNOWN naming the failed NVML call when any needed field could not be read."""
    reason = gpu.error_for(*fields) or gpu.errors.get("gpu")
    if reason and any(getattr_path(gpu, f) is None for f in fields):
        return unknown(name, f"gpu{gpu.index} {name} unknown: {reason}", gpu=gpu.index,
                       next_step="check the GPU with nvidia-smi; a hung or lost GPU needs a reset or reboot")
    return None


def getattr_path(obj, dotted: str):
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj
