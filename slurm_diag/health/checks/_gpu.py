"""Shared shape of the per-GPU checks: read once, decide per GPU, fold the healthy ones."""

from __future__ import annotations

from slurm_diag.health.result import CheckResult, Summary, ok, unknown


def per_gpu(ctx, name: str, decide, healthy_text: str) -> list[CheckResult]:
    reading = ctx.gpus()
    if reading.error:
        expected, _ = ctx.expected_gpus()
        if reading.error.startswith("NVML not loadable") and not expected:
            return [ok(name, "no GPUs expected on this node and NVML absent: nothing to check")]
        return [unknown(name, f"could not read the GPUs: {reading.error}",
                        next_step="run nvidia-smi on the node; see the gpu_count check")]
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
