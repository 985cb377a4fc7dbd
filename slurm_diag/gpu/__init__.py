"""GPU telemetry: one reader over NVML (pynvml, package ``nvidia-ml-py``) or, where a node profile
is set (``SDIAG_GPU_PROFILE`` or config ``health.gpu_profile``), the NVML-compatible simulator.

``read_gpus()`` reads in a child process the caller can abandon (``slurm_diag.gpu.child``) and
returns plain dataclasses (``slurm_diag.gpu.reading``); ``snapshot()`` is the small view the probes
record beside each sample. Nothing heavy is imported here: the prolog uses it.
"""

from __future__ import annotations

import os

from slurm_diag.gpu.reading import GpuInfo, GpuReading, ReadError

__all__ = ["GpuInfo", "GpuReading", "ReadError", "profile_path", "read_gpus", "snapshot"]


def profile_path(configured: str | None = None) -> str | None:
    """The simulated node profile in force: the environment wins over the config."""
    return os.environ.get("SDIAG_GPU_PROFILE") or configured or None


def read_gpus(profile: str | None = None, call_timeout_s: float = 2.0, total_timeout_s: float = 3.0) -> GpuReading:
    """Every GPU, read in a child process (``slurm_diag.gpu.child``) bounded by ``total_timeout_s``;
    each NVML call is bounded by ``call_timeout_s``. Never raises for NVML trouble."""
    from slurm_diag.gpu.child import read_in_child

    return read_in_child(profile_path(profile), call_timeout_s, total_timeout_s)


def snapshot(profile: str | None = None, call_timeout_s: float = 2.0, total_timeout_s: float = 3.0) -> list[dict]:
    """Conditions beside a probe sample, one dict per GPU (empty when NVML cannot be read):
    index, sm_clock_mhz, max_sm_clock_mhz, temperature_c, throttle_reasons, power_w."""
    reading = read_gpus(profile, call_timeout_s, total_timeout_s)
    return [{
        "index": g.index,
        "sm_clock_mhz": g.clocks.sm_mhz,
        "max_sm_clock_mhz": g.clocks.max_sm_mhz,
        "temperature_c": g.temperature_c,
        "throttle_reasons": list(g.throttle_reasons) if g.throttle_reasons is not None else None,
        "power_w": g.power_w,
    } for g in reading.gpus]
