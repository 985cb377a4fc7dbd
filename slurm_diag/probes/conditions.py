"""The conditions a probe sample ran in, recorded beside the number so a slow figure can be explained.

CPU: current clock, load average, the cgroup CPU quota and how long the cgroup was throttled (the
dev cluster makes a slow node exactly that way). GPU: SM clock, temperature and throttle reasons
from slurm_diag.gpu, imported lazily; when it cannot answer, the sample says "unavailable" and why.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from slurm_diag.stats import median


# --- CPU -----------------------------------------------------------------------------------

def parse_cgroup_paths(text: str) -> dict[str, str]:
    """/proc/self/cgroup -> {"v1:cpu": path, "v2": path} (pure)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            found["v2"] = path
        elif "cpu" in controllers.split(","):
            found["v1:cpu"] = path
    return found


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _ancestors(base: Path, rel: str) -> list[Path]:
    parts = [p for p in rel.split("/") if p]
    return [base.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]


def cgroup_cpu(proc: Path = Path("/proc"), cgroup_root: Path = Path("/sys/fs/cgroup")) -> dict:
    """The tightest CPU quota on this process's cgroup path and its throttled time (seconds)."""
    text = _read(proc / "self" / "cgroup") or ""
    paths = parse_cgroup_paths(text)
    out: dict[str, Any] = {"quota_cpus": None, "throttled_s": None, "cgroup": None}
    if "v1:cpu" in paths:
        base = next((b for b in (cgroup_root / "cpu", cgroup_root / "cpu,cpuacct") if b.is_dir()), None)
        if base is not None:
            out["cgroup"] = "v1:" + paths["v1:cpu"]
            for directory in _ancestors(base, paths["v1:cpu"]):
                quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
                if quota and period and quota.lstrip("-").isdigit() and int(quota) > 0 and int(period) > 0:
                    cpus = int(quota) / int(period)
                    out["quota_cpus"] = cpus if out["quota_cpus"] is None else min(out["quota_cpus"], cpus)
            stat = _read(base.joinpath(*[p for p in paths["v1:cpu"].split("/") if p]) / "cpu.stat")
            out["throttled_s"] = _stat_field(stat, "throttled_time", 1e-9)
            return out
    if "v2" in paths and (cgroup_root / "cgroup.controllers").exists():
        out["cgroup"] = "v2:" + paths["v2"]
        for directory in _ancestors(cgroup_root, paths["v2"]):
            value = _read(directory / "cpu.max")
            if value:
                quota, _, period = value.partition(" ")
                if quota != "max" and period:
                    cpus = int(quota) / int(period)
                    out["quota_cpus"] = cpus if out["quota_cpus"] is None else min(out["quota_cpus"], cpus)
        stat = _read(cgroup_root.joinpath(*[p for p in paths["v2"].split("/") if p]) / "cpu.stat")
        out["throttled_s"] = _stat_field(stat, "throttled_usec", 1e-6)
    return out


def _stat_field(text: str | None, name: str, scale: float) -> float | None:
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if key == name and value.strip().isdigit():
            return int(value) * scale
    return None


def cpu_mhz(proc: Path = Path("/proc"), sys_root: Path = Path("/sys"),
            cpus: Iterable[int] | None = None) -> tuple[float | None, float | None]:
    """(mean current MHz over the CPUs we may use, max MHz) from cpufreq, else /proc/cpuinfo."""
    cpus = sorted(cpus if cpus is not None else os.sched_getaffinity(0))
    cur, top = [], []
    for cpu in cpus:
        freq = sys_root / f"devices/system/cpu/cpu{cpu}/cpufreq"
        now, most = _read(freq / "scaling_cur_freq"), _read(freq / "cpuinfo_max_freq")
        if now and now.isdigit():
            cur.append(int(now) / 1000)
        if most and most.isdigit():
            top.append(int(most) / 1000)
    if not cur:
        text = _read(proc / "cpuinfo") or ""
        per_cpu: dict[int, float] = {}
        current = None
        for line in text.splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "processor" and value.strip().isdigit():
                current = int(value)
            elif key == "cpu MHz" and current is not None:
                try:
                    per_cpu[current] = float(value)
                except ValueError:
                    pass
        cur = [per_cpu[c] for c in cpus if c in per_cpu] or list(per_cpu.values())
    mean = sum(cur) / len(cur) if cur else None
    return mean, (max(top) if top else None)


def cpu_conditions(proc: Path = Path("/proc"), sys_root: Path = Path("/sys"),
                   cgroup_root: Path = Path("/sys/fs/cgroup")) -> dict:
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        allowed = set(range(os.cpu_count() or 1))
    mhz, max_mhz = cpu_mhz(proc, sys_root, allowed)
    load = (_read(proc / "loadavg") or "").split()
    cond: dict[str, Any] = {"cpus": len(allowed), "mhz": mhz, "max_mhz": max_mhz,
                            "loadavg_1m": float(load[0]) if load else None,
                            "loadavg_5m": float(load[1]) if len(load) > 1 else None}
    cond.update(cgroup_cpu(proc, cgroup_root))
    return cond


# --- GPU -----------------------------------------------------------------------------------

def nvml_index(cuda_index: int, visible: str | None = None) -> int:
    """NVML index of CUDA device `cuda_index` under CUDA_VISIBLE_DEVICES (jobs set
    CUDA_DEVICE_ORDER=PCI_BUS_ID so the two orders agree)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES") if visible is None else visible
    if visible:
        entries = [v.strip() for v in visible.split(",") if v.strip()]
        if cuda_index < len(entries) and entries[cuda_index].isdigit():
            return int(entries[cuda_index])
    return cuda_index


def gpu_conditions(cuda_index: int) -> dict:
    """SM clock, max clock, temperature, throttle reasons of one GPU, or {"unavailable": why}."""
    from slurm_diag import gpu as gpu_mod

    index = nvml_index(cuda_index)
    try:
        rows = gpu_mod.snapshot()
    except Exception as exc:      # telemetry must never break a probe; say why it is missing
        return {"unavailable": f"GPU telemetry failed: {exc}"}
    for row in rows:
        if row.get("index") == index:
            return dict(row)
    return {"unavailable": f"NVML reports no GPU with index {index} ({len(rows)} visible)"}


def gpu_name(cuda_index: int) -> str | None:
    """The NVML device name, to find the SKU; None when telemetry cannot tell."""
    try:
        from slurm_diag import gpu as gpu_mod
        reading = gpu_mod.read_gpus()
    except Exception:
        return None
    index = nvml_index(cuda_index)
    for g in getattr(reading, "gpus", []) or []:
        if g.index == index:
            return g.name
    return None


# --- summary over samples ------------------------------------------------------------------

def summarize(samples: list[Mapping[str, Any]]) -> dict:
    """Conditions over a run: median GPU clock (a single reading can catch an idle moment), lowest
    CPU clock, highest load and temperature, every throttle reason, and the cgroup throttled time
    accumulated during the run."""
    cpus = [s["conditions"]["cpu"] for s in samples if isinstance(s.get("conditions", {}).get("cpu"), Mapping)]
    gpus = [s["conditions"]["gpu"] for s in samples if isinstance(s.get("conditions", {}).get("gpu"), Mapping)]
    out: dict[str, Any] = {}
    if cpus:
        cpu = dict(cpus[-1])
        mhz = [c["mhz"] for c in cpus if c.get("mhz")]
        loads = [c["loadavg_1m"] for c in cpus if c.get("loadavg_1m") is not None]
        throttled = [c["throttled_s"] for c in cpus if c.get("throttled_s") is not None]
        cpu["mhz"] = min(mhz) if mhz else None
        cpu["loadavg_1m"] = max(loads) if loads else None
        cpu["throttled_s"] = (max(throttled) - min(throttled)) if len(throttled) > 1 else 0.0 if throttled else None
        out["cpu"] = cpu
    usable = [g for g in gpus if "unavailable" not in g]
    if usable:
        gpu = dict(usable[-1])
        clocks = [g["sm_clock_mhz"] for g in usable if g.get("sm_clock_mhz")]
        temps = [g["temperature_c"] for g in usable if g.get("temperature_c") is not None]
        reasons = sorted({r for g in usable for r in (g.get("throttle_reasons") or [])})
        gpu.update(sm_clock_mhz=median(clocks),
                   temperature_c=max(temps) if temps else None, throttle_reasons=reasons)
        out["gpu"] = gpu
    elif gpus:
        out["gpu"] = dict(gpus[-1])
    return out
