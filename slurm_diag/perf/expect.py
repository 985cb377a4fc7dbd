"""What a probe should measure on a SKU: site override, else calibration, else efficiency x peak.

Why this order: the site knows its machines best (and CPU nodes have no trustworthy datasheet),
a calibration run is measured on the site's own hardware, and the shipped model (efficiency.toml x
hardware.toml) is the fallback. When none applies the answer is None and the verdict judges the
result against the fleet alone.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from slurm_diag.errors import UsageError
from slurm_diag.perf import model
from slurm_diag.perf.hardware import Sku

EFFICIENCY_FILE = Path(__file__).with_name("efficiency.toml")
UNITS = {"gemm": "FLOP/s", "membw": "B/s", "allreduce": "B/s"}
PROBES = tuple(UNITS)
DEFAULT_FAIL_RATIO = 0.90


@dataclass(frozen=True)
class Expectation:
    """(value, lower, upper, unit) as in ReFrame's references, with where the figure came from."""

    value: float
    lower: float
    upper: float | None
    unit: str
    source: str
    peak: float | None = None
    efficiency: float | None = None

    def as_dict(self) -> dict:
        doc: dict[str, Any] = {"value": self.value, "lower": self.lower, "unit": self.unit,
                               "source": self.source}
        if self.upper is not None:
            doc["upper"] = self.upper
        return doc

    def scaled(self, factor: float, why: str) -> "Expectation":
        return Expectation(self.value * factor, self.lower * factor,
                           self.upper, self.unit, f"{self.source}; {why}", self.peak, self.efficiency)


@dataclass(frozen=True)
class Site:
    """The site's part of the model, from config section [perf]."""

    expected: Mapping[str, Any] = field(default_factory=dict)      # probe -> sku -> dtype -> {...}
    calibration: Mapping[str, Any] = field(default_factory=dict)   # same shape, measured
    calibration_path: str = ""
    network_Bps: float = 0.0        # one direction, per rank, for multi-node collectives
    alpha_s: float = 5e-6           # per-step latency of the ring model
    fail_ratio: float = DEFAULT_FAIL_RATIO

    @classmethod
    def from_config(cls, cfg) -> "Site":
        perf = cfg.get("perf")
        path = perf.get("calibration_file") or str(cfg.home / "perf_calibration.json")
        return cls(expected=perf.get("expected", {}), calibration=load_calibration(Path(path)),
                   calibration_path=path, network_Bps=perf.get("network_GBps", 0.0) * 1e9,
                   alpha_s=perf.get("allreduce_alpha_us", 5.0) * 1e-6,
                   fail_ratio=perf.get("verdict", {}).get("fail_ratio", DEFAULT_FAIL_RATIO))


@lru_cache(maxsize=None)
def efficiencies(path: str = str(EFFICIENCY_FILE)) -> dict:
    try:
        return tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}", hint="restore it from the release") from None


def _pick(table: Mapping, probe: str, sku: str, dtype: str | None):
    """table[probe][sku][dtype] with "*" standing for any SKU or dtype; None if absent."""
    by_sku = table.get(probe, {})
    if not isinstance(by_sku, Mapping):
        return None
    for sku_key in (sku, "*"):
        by_dtype = by_sku.get(sku_key)
        if isinstance(by_dtype, Mapping):
            for dtype_key in (dtype or "*", "*"):
                if dtype_key in by_dtype:
                    return by_dtype[dtype_key]
    return None


def _from_entry(entry: Mapping, origin: str, fail_ratio: float, probe: str) -> Expectation:
    try:
        value = float(entry["value"])
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"{origin}: needs a numeric 'value'",
                         hint="write {value = ..., lower = ..., upper = ..., unit = \"...\"}") from None
    unit = entry.get("unit", UNITS[probe])
    if unit != UNITS[probe]:
        raise UsageError(f"{origin}: unit {unit!r}, expected {UNITS[probe]!r}",
                         hint=f"give {probe} figures in {UNITS[probe]}")
    lower = float(entry.get("lower", fail_ratio * value))
    upper = entry.get("upper")
    return Expectation(value, lower, float(upper) if upper is not None else None, unit,
                       entry.get("source", origin))


def expected(probe: str, sku: Sku, dtype: str | None = None, *, site: Site | None = None,
             sm_clock_mhz: float | None = None, multi_node: bool = False,
             size_bytes: float | None = None, ranks: int | None = None) -> Expectation | None:
    """The expected figure of `probe` on `sku` (gemm: FLOP/s; membw, allreduce busbw: B/s).

    gemm scales with sm_clock_mhz / max clock on GPUs, so a throttled GPU's number is explained.
    allreduce with size_bytes and ranks uses the ring model (latency matters for small sizes).
    """
    if probe not in UNITS:
        raise UsageError(f"unknown probe {probe!r}", hint=f"use one of: {', '.join(PROBES)}")
    site = site or Site()
    link_key = "network" if probe == "allreduce" and multi_node else sku.name
    result: Expectation | None = None
    for table, origin in ((site.expected, "site config perf.expected"),
                          (site.calibration, f"calibration {site.calibration_path}")):
        entry = _pick(table, probe, link_key, dtype)
        if isinstance(entry, Mapping):
            result = _from_entry(entry, f"{origin}.{probe}.{link_key}.{dtype or '*'}",
                                 site.fail_ratio, probe)
            break
    if result is None:
        result = _modelled(probe, sku, dtype, site, multi_node)
    if result is None:
        return None
    if probe == "gemm" and sku.kind == "gpu" and sm_clock_mhz and sku.max_sm_clock_mhz:
        if sm_clock_mhz < sku.max_sm_clock_mhz:
            factor = model.clock_scaled(1.0, sm_clock_mhz, sku.max_sm_clock_mhz)
            result = result.scaled(factor, f"x SM clock {sm_clock_mhz:.0f}/{sku.max_sm_clock_mhz:.0f} MHz")
    if probe == "allreduce" and size_bytes and ranks and ranks > 1:
        # large-message busbw equals the link's effective beta; small sizes pay 2(n-1) alpha
        pred = model.predict_allreduce(ranks, size_bytes, site.alpha_s, result.value)
        factor = pred.busbw / result.value
        result = result.scaled(factor, f"ring model at {size_bytes:.0f} B, alpha {site.alpha_s * 1e6:.1f} us")
    return result


def link_bandwidth(sku: Sku, site: Site, multi_node: bool) -> tuple[float, str]:
    """One-direction bandwidth of the link an allreduce runs over, and what it is."""
    if multi_node:
        return site.network_Bps, "network (perf.network_GBps)"
    if sku.nvlink_bw:
        return sku.nvlink_bw / 2, f"NVLink, one direction ({sku.source('nvlink_GBps')})"
    return sku.pcie_bw / 2, f"PCIe, one direction ({sku.source('pcie_GBps')})"


def _modelled(probe: str, sku: Sku, dtype: str | None, site: Site, multi_node: bool) -> Expectation | None:
    if sku.kind != "gpu" and not (probe == "allreduce" and multi_node):
        return None      # CPU nodes: only site or calibration figures (no datasheet applies)
    eff = _pick(efficiencies(), probe, "network" if probe == "allreduce" and multi_node else sku.name, dtype)
    if eff is None:
        return None
    eff = float(eff)
    if probe == "gemm":
        peak = sku.peak(dtype or "")
        src = sku.source("peak_tflops")
    elif probe == "membw":
        peak, src = sku.mem_bw, sku.source("mem_bw_GBps")
    else:
        peak, src = link_bandwidth(sku, site, multi_node)
    if not peak:
        return None
    return Expectation(eff * peak, site.fail_ratio * eff * peak, peak, UNITS[probe],
                       f"{eff:.2f} x peak {peak:.4g} {UNITS[probe]} ({src}; efficiency.toml)", peak, eff)


# --- calibration: figures measured on the site's own nodes ---------------------------------

def load_calibration(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"calibration file {path} is unreadable: {exc}",
                         hint="delete it and run `sdiag-agent perf calibrate` again") from None
    if not isinstance(data, dict):
        raise UsageError(f"calibration file {path}: expected an object at the top",
                         hint="delete it and run `sdiag-agent perf calibrate` again")
    return data


def calibration_entry(values: list[float], unit: str, fail_ratio: float = DEFAULT_FAIL_RATIO,
                      note: str = "") -> dict:
    """The expected figure from calibration measurements: their median (pure)."""
    if not values:
        raise ValueError("calibration needs at least one measurement")
    ordered = sorted(values)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"value": median, "lower": fail_ratio * median, "upper": max(ordered) * 1.25, "unit": unit,
            "source": f"calibration {stamp}: median of {len(values)} runs{note}"}


def save_calibration(path: Path, probe: str, sku: str, dtype: str | None, entry: dict) -> None:
    data = load_calibration(path)
    data.setdefault(probe, {}).setdefault(sku, {})[dtype or "*"] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(path)
