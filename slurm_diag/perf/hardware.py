"""The hardware table (hardware.toml) as frozen objects, and CPU nodes described from themselves.

GPU figures are data with a source each; a CPU node has no datasheet worth trusting here (the dev
cluster runs four slurmd on one 2-core VM), so it is described from its own detection: cores, ISA,
clock, plus the memory bandwidth a site configures.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from slurm_diag.errors import UsageError

HARDWARE_FILE = Path(__file__).with_name("hardware.toml")
DTYPES = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8")
FIGURES = ("peak_tflops", "mem_bw_GBps", "nvlink_GBps", "pcie_GBps", "max_sm_clock_mhz")
CPU_SKU = "cpu"

# Double-precision FLOP per cycle per core for one FMA unit, by the widest vector ISA.
# (2 FLOP per FMA x lanes); fp32 is twice that.
_FP64_FLOP_PER_CYCLE_PER_FMA = {"avx512": 16, "avx2": 8, "sve": 8, "neon": 4, "sse2": 4, "scalar": 2}


@dataclass(frozen=True)
class Sku:
    """What one kind of device can do at most. Rates are in SI units (FLOP/s, B/s, MHz)."""

    name: str
    description: str
    kind: str                                  # "gpu" or "cpu"
    peak_flops: Mapping[str, float]            # dtype -> FLOP/s (dense)
    mem_bw: float | None                       # B/s, None when unknown
    nvlink_bw: float = 0.0                     # B/s, both directions
    pcie_bw: float = 0.0                       # B/s, both directions
    max_sm_clock_mhz: float | None = None      # max SM clock (GPU) or max core clock (CPU)
    sources: Mapping[str, str] = field(default_factory=dict)
    gpu_names: tuple[str, ...] = ()

    def peak(self, dtype: str) -> float | None:
        return self.peak_flops.get(dtype)

    def source(self, figure: str) -> str:
        return self.sources.get(figure, "unknown")


@dataclass(frozen=True)
class CpuInfo:
    """What a CPU node says about itself."""

    model: str
    cores: int          # CPUs this process may use (affinity), not the whole socket
    isa: str            # widest vector ISA: avx512, avx2, sve, neon, sse2, scalar
    mhz: float          # current or nominal clock
    max_mhz: float | None = None


@lru_cache(maxsize=None)
def _table(path: str = str(HARDWARE_FILE)) -> tuple[dict, dict]:
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read the hardware table {path}: {exc}",
                         hint="restore slurm_diag/perf/hardware.toml from the release") from None
    docs = data.get("documents", {})
    skus = {}
    for name, raw in data.get("skus", {}).items():
        sources = raw.get("sources", {})
        for fig in FIGURES:
            if fig not in raw:
                raise UsageError(f"{path}: skus.{name} lacks {fig}", hint="add the figure and its source")
            if sources.get(fig) not in docs:
                raise UsageError(f"{path}: skus.{name}.{fig} has no source in [documents]",
                                 hint="every figure names the document it comes from")
        skus[name] = Sku(
            name=name,
            description=raw.get("description", name),
            kind="gpu",
            peak_flops=MappingProxyType({k: v * 1e12 for k, v in raw["peak_tflops"].items()}),
            mem_bw=raw["mem_bw_GBps"] * 1e9,
            nvlink_bw=raw["nvlink_GBps"] * 1e9,
            pcie_bw=raw["pcie_GBps"] * 1e9,
            max_sm_clock_mhz=float(raw["max_sm_clock_mhz"]),
            sources=MappingProxyType({k: docs.get(v, v) for k, v in sources.items()}),
            gpu_names=tuple(raw.get("gpu_names", ())),
        )
    return skus, docs


def gpu_skus() -> dict[str, Sku]:
    return dict(_table()[0])


def get_sku(name: str) -> Sku:
    """A GPU SKU by its table name (case-insensitive); UsageError naming the valid ones."""
    skus = _table()[0]
    for key, sku in skus.items():
        if key.lower() == name.lower():
            return sku
    raise UsageError(f"unknown SKU {name!r}", hint=f"use one of: {', '.join(sorted(skus))}, or 'cpu'")


def sku_for_gpu_name(gpu_name: str) -> Sku | None:
    """Map an NVML device name ("NVIDIA H100 80GB HBM3") to a table SKU, or None."""
    for sku in _table()[0].values():
        if any(pattern.lower() in gpu_name.lower() for pattern in sku.gpu_names):
            return sku
    return None


# --- CPU nodes -----------------------------------------------------------------------------

def parse_cpuinfo(text: str) -> dict:
    """The first processor block of /proc/cpuinfo as a dict (pure)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def isa_from_flags(flags: str | list[str]) -> str:
    found = set(flags.split() if isinstance(flags, str) else flags)
    if "avx512f" in found:
        return "avx512"
    if "avx2" in found and "fma" in found:
        return "avx2"
    if "sve" in found:
        return "sve"
    if "asimd" in found or "neon" in found:
        return "neon"
    if "sse2" in found:
        return "sse2"
    return "scalar"


def detect_cpu(proc: Path = Path("/proc"), sys_root: Path = Path("/sys")) -> CpuInfo:
    """Read this node's CPU: model, usable cores, ISA, clock (roots overridable for tests)."""
    try:
        info = parse_cpuinfo((proc / "cpuinfo").read_text())
    except OSError:
        info = {}
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    mhz = float(info.get("cpu MHz", 0) or 0)
    max_mhz = None
    freq = sys_root / "devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"
    try:
        max_mhz = int(freq.read_text()) / 1000.0
    except (OSError, ValueError):
        pass
    return CpuInfo(
        model=info.get("model name", info.get("CPU part", "unknown")),
        cores=cores,
        isa=isa_from_flags(info.get("flags", info.get("Features", ""))),
        mhz=mhz or (max_mhz or 0.0),
        max_mhz=max_mhz,
    )


def cpu_sku(cpu: CpuInfo, mem_bw_GBps: float = 0.0, fma_units: int = 2) -> Sku:
    """A CPU node as a Sku: peak = cores x clock x FLOP/cycle (ISA, FMA units); memory bandwidth
    only when configured. This peak is descriptive; CPU *expectations* come from the site or a
    calibration (see expect.py), not from this arithmetic."""
    clock_hz = (cpu.max_mhz or cpu.mhz) * 1e6
    fp64 = cpu.cores * clock_hz * _FP64_FLOP_PER_CYCLE_PER_FMA.get(cpu.isa, 2) * max(fma_units, 1)
    detected = f"detected on this node ({cpu.model}, {cpu.cores} cores, {cpu.isa}, {clock_hz / 1e6:.0f} MHz)"
    return Sku(
        name=CPU_SKU,
        description=f"CPU node: {cpu.model}",
        kind="cpu",
        peak_flops=MappingProxyType({"fp64": fp64, "fp32": 2 * fp64}),
        mem_bw=mem_bw_GBps * 1e9 if mem_bw_GBps else None,
        max_sm_clock_mhz=cpu.max_mhz or cpu.mhz or None,
        sources=MappingProxyType({
            "peak_tflops": f"{detected} x {fma_units} FMA units (perf.cpu.fma_units)",
            "mem_bw_GBps": "config perf.cpu.mem_bw_GBps" if mem_bw_GBps else "not configured",
            "max_sm_clock_mhz": detected,
        }),
    )
