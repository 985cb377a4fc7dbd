"""GPU telemetry: one reader over NVML (pynvml, package ``nvidia-ml-py``) or, where a node profile
is set (``SDIAG_GPU_PROFILE`` or config ``health.gpu_profile``), the NVML-compatible simulator.

``read_gpus()`` returns plain dataclasses (``slurm_diag.gpu.model``); ``snapshot()`` is the small
view the probes record beside each sample. Nothing heavy is imported here: the prolog uses it.
"""

from __future__ import annotations

import os

from slurm_diag.gpu.model import GpuInfo, GpuReading

__all__ = ["GpuInfo", "GpuReading", "open_nvml", "profile_path", "read_gpus", "snapshot"]


def profile_path(configured: str | None = None) -> str | None:
    """The simulated node profile in force: the environment wins over the config."""
    return os.environ.get("SDIAG_GPU_PROFILE") or configured or None


def open_nvml(profile: str | None = None):
    """(nvml-like object, source label, Profile or None). Raises ProfileError for a bad profile;
    returns (None, reason, None) when pynvml is not installed."""
    path = profile_path(profile)
    if path:
        from slurm_diag.gpu import profile as profile_mod
        from slurm_diag.gpu.simulator import SimulatedNvml

        prof = profile_mod.load(path)
        return SimulatedNvml(prof), f"simulator:{prof.path}", prof
    try:
        import pynvml
    except ImportError:
        return None, "pynvml (package nvidia-ml-py) is not installed: pip install 'slurm-diag[gpu]'", None
    return pynvml, "nvml", None


def read_gpus(profile: str | None = None, call_timeout_s: float = 2.0) -> GpuReading:
    from slurm_diag.gpu.reader import read_all

    nvml, source, _ = open_nvml(profile)
    if nvml is None:
        return GpuReading(source="nvml", error=f"NVML not loadable: {source}")
    return read_all(nvml, source, call_timeout_s=call_timeout_s)


def snapshot(profile: str | None = None, call_timeout_s: float = 2.0) -> list[dict]:
    """Conditions beside a probe sample, one dict per GPU (empty when NVML cannot be read):
    index, sm_clock_mhz, max_sm_clock_mhz, temperature_c, throttle_reasons, power_w."""
    reading = read_gpus(profile, call_timeout_s)
    return [{
        "index": g.index,
        "sm_clock_mhz": g.clocks.sm_mhz,
        "max_sm_clock_mhz": g.clocks.max_sm_mhz,
        "temperature_c": g.temperature_c,
        "throttle_reasons": list(g.throttle_reasons) if g.throttle_reasons is not None else None,
        "power_w": g.power_w,
    } for g in reading.gpus]
