"""Verdicts: is a node or GPU slow, and why? Pure functions over lists of measurements.

A subject is flagged only when it is below the model (FAIL under the expectation's lower line,
0.90 x by default; WARN under 0.95 x) AND, where there are enough peers, an outlier in the fleet
(modified z-score 0.6745 (x - median) / MAD below -3.5 with a deficit over 5 %), and only when
2 of 3 repeats agree. Without a model figure the fleet decides alone; with too few peers the
model decides alone. Inside a node, a GPU under 0.90 x the node's median is flagged as well.
The one-line message says why, from the conditions recorded beside each number.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from slurm_diag.perf.expect import Expectation
from slurm_diag.stats import median
from slurm_diag.status import Status


@dataclass(frozen=True)
class Thresholds:
    fail_ratio: float = 0.90        # used when an expectation carries no lower line
    warn_ratio: float = 0.95
    z_cut: float = -3.5
    min_deficit: float = 0.05
    severe_ratio: float = 0.35      # below this share of the others' median: an outlier however noisy they are
    min_peers: int = 4              # subjects (itself included) needed for a fleet comparison
    repeats_needed: int = 2
    gpu_node_ratio: float = 0.90

    @classmethod
    def from_config(cls, cfg) -> "Thresholds":
        return cls(**cfg.get("perf.verdict"))


@dataclass(frozen=True)
class Measurement:
    """One probe figure for one subject (a node, or a GPU of a node) in one round of repeats."""

    node: str
    probe: str
    value: float
    dtype: str | None = None
    gpu: int | None = None
    sku: str = ""
    round: int = 0
    expected: Expectation | None = None        # at full clock; the verdict scales it itself
    conditions: Mapping[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return self.node if self.gpu is None else f"{self.node} gpu{self.gpu}"


@dataclass(frozen=True)
class RoundCheck:
    status: Status
    ratio_expected: float | None
    ratio_fleet: float | None
    ratio_node: float | None
    z: float | None
    basis: str


@dataclass(frozen=True)
class Verdict:
    subject: str
    node: str
    gpu: int | None
    probe: str
    dtype: str | None
    status: Status
    message: str
    basis: str                       # model+fleet, model, fleet, none
    rounds: int
    rounds_flagged: int
    ratio_expected: float | None
    ratio_fleet: float | None
    ratio_node: float | None
    cause: str | None                # clock-limited, cpu-quota, loaded, cpu-clock, or None

    def as_dict(self) -> dict:
        """The ProbeResult `verdict` object."""
        return {"status": self.status.name, "message": self.message}


# --- statistics ----------------------------------------------------------------------------

def modified_z(x: float, values: Sequence[float]) -> float:
    """Iglewicz-Hoaglin modified z-score; with MAD = 0 any departure is infinitely far."""
    med = statistics.median(values)
    mad = statistics.median(abs(v - med) for v in values)
    if mad == 0:
        return 0.0 if x == med else (float("-inf") if x < med else float("inf"))
    return 0.6745 * (x - med) / mad


def _model_status(x: float, exp: Expectation, th: Thresholds) -> Status:
    lower = exp.lower if exp.lower else th.fail_ratio * exp.value
    if x < lower:
        return Status.CRITICAL
    if x < th.warn_ratio * exp.value:
        return Status.WARN
    return Status.OK


def check_round(m: Measurement, peers: Sequence[float], node_gpus: Sequence[float],
                th: Thresholds) -> RoundCheck:
    """One subject in one round: model, fleet and within-node checks combined."""
    x = m.value
    exp = m.expected if m.expected and m.expected.value > 0 else None
    model = _model_status(x, exp, th) if exp else None
    ratio_e = x / exp.value if exp else None
    ratio_f = z = None
    outlier = False
    if len(peers) >= th.min_peers:
        others = list(peers)
        if x in others:              # compared with the others only: with four nodes, one slow node
            others.remove(x)         # inside its own baseline hides itself (its MAD grows with it)
        med = statistics.median(others)
        z = modified_z(x, others)
        ratio_f = x / med if med else None
        outlier = (z < th.z_cut and x < (1 - th.min_deficit) * med) or x < th.severe_ratio * med
    if model is not None and ratio_f is not None:
        status, basis = (model if outlier else Status.OK), "model+fleet"
    elif model is not None:
        status, basis = model, "model"
    elif ratio_f is not None:
        basis = "fleet"
        status = Status.OK if not outlier else (
            Status.CRITICAL if ratio_f < th.fail_ratio else Status.WARN)
    else:
        status, basis = Status.UNKNOWN, "none"
    ratio_n = None
    if m.gpu is not None and len(node_gpus) >= 2:
        node_med = statistics.median(node_gpus)
        ratio_n = x / node_med if node_med else None
        if ratio_n is not None and ratio_n < th.gpu_node_ratio:
            status = Status.CRITICAL
            basis = basis + "+node"
    return RoundCheck(status, ratio_e, ratio_f, ratio_n, z, basis)


# --- explanations --------------------------------------------------------------------------

def explain(m: Measurement, th: Thresholds) -> tuple[str | None, str]:
    """(cause, text) from the conditions recorded with the measurement."""
    cond = m.conditions or {}
    gpu = cond.get("gpu") if isinstance(cond.get("gpu"), Mapping) else {}
    cpu = cond.get("cpu") if isinstance(cond.get("cpu"), Mapping) else {}
    sm, mx = gpu.get("sm_clock_mhz"), gpu.get("max_sm_clock_mhz")
    if sm and mx and sm < 0.9 * mx:
        reasons = gpu.get("throttle_reasons") or []
        why = f" ({', '.join(reasons)})" if reasons else ""
        text = f"at SM clock {sm:.0f} MHz of {mx:.0f}{why}"
        if m.probe == "gemm" and m.expected:
            scaled = m.expected.value * sm / mx
            if m.value >= th.fail_ratio * scaled:
                return "clock-limited", f"{text}: clock-limited"
            return "clock-limited", f"{text}: {m.value / scaled:.2f}× even the clock-scaled figure"
        return "clock-limited", f"{text}: clock-limited"
    parts, cause = [], None
    quota, cpus = cpu.get("quota_cpus"), cpu.get("cpus")
    if quota and cpus and quota < cpus:
        parts.append(f"CPU quota limited ({quota:g} of {cpus} CPUs)")
        cause = "cpu-quota"
    elif cpu.get("throttled_s"):
        parts.append(f"CPU quota limited (cgroup throttled {cpu['throttled_s']:.2f} s)")
        cause = "cpu-quota"
    load = cpu.get("loadavg_1m")
    if load and cpus and load > cpus + 0.5:
        parts.append(f"loaded (load {load:.1f} on {cpus} CPUs)")
        cause = cause or "loaded"
    mhz, max_mhz = cpu.get("mhz"), cpu.get("max_mhz")
    if mhz and max_mhz and mhz < 0.9 * max_mhz:
        parts.append(f"CPU clock {mhz:.0f} of {max_mhz:.0f} MHz")
        cause = cause or "cpu-clock"
    if gpu.get("throttle_reasons"):
        parts.append("throttle: " + ", ".join(gpu["throttle_reasons"]))
    return cause, "; ".join(parts)


def _combine(subject_ms: list[Measurement], checks: list[RoundCheck], th: Thresholds) -> Verdict:
    m0 = subject_ms[0]
    flagged = [(c, m) for c, m in zip(checks, subject_ms) if c.status in (Status.WARN, Status.CRITICAL)]
    n = len(checks)
    if len(flagged) >= th.repeats_needed:
        ranked = sorted((c.status for c, _ in flagged), reverse=True)
        status = ranked[th.repeats_needed - 1]          # CRITICAL only when enough rounds say so
        note = ""
    elif flagged and n < th.repeats_needed:
        status = Status.WARN
        note = f" ({len(flagged)} of {n} runs; run {th.repeats_needed - n} more to confirm)"
    elif all(c.status == Status.UNKNOWN for c in checks):
        status, note = Status.UNKNOWN, ""
    else:
        status, note = Status.OK, ""
    basis_checks = [c for c, _ in flagged] if flagged else checks
    r_e = median(c.ratio_expected for c in basis_checks)
    r_f = median(c.ratio_fleet for c in basis_checks)
    r_n = median(c.ratio_node for c in basis_checks)
    worst = min(flagged, key=lambda cm: cm[1].value)[1] if flagged else min(subject_ms, key=lambda m: m.value)
    cause, why = explain(worst, th)
    name = f"{m0.subject} {m0.probe}" + (f" {m0.dtype}" if m0.dtype else "")
    figures = []
    if r_e is not None:
        figures.append(f"{r_e:.2f}× expected")
    if r_f is not None:
        figures.append(f"{r_f:.2f}× fleet median")
    if r_n is not None and (r_n < th.gpu_node_ratio or status != Status.OK):
        figures.append(f"{r_n:.2f}× node median")
    if status == Status.UNKNOWN:
        text = f"{name}: no expectation and only {len(subject_ms)} run(s) with too few peers to compare"
    else:
        text = f"{name} " + ", ".join(figures)
        if status == Status.OK and r_e is not None and r_e < th.warn_ratio and r_f is not None:
            text += " (below the model but not a fleet outlier: check the model or a fleet-wide cause)"
        if status != Status.OK and why:
            text += ("; " if not why.startswith("at ") else " ") + why
        text += note
    return Verdict(m0.subject, m0.node, m0.gpu, m0.probe, m0.dtype, status, text,
                   checks[0].basis if checks else "none", n, len(flagged), r_e, r_f, r_n,
                   cause if status != Status.OK else None)


def judge(measurements: Iterable[Measurement], thresholds: Thresholds | None = None) -> list[Verdict]:
    """One verdict per subject (node, or node+GPU) and (probe, dtype, sku), worst first."""
    th = thresholds or Thresholds()
    groups: dict[tuple, list[Measurement]] = defaultdict(list)
    for m in measurements:
        groups[(m.probe, m.dtype, m.sku)].append(m)
    verdicts = []
    for group in groups.values():
        by_round: dict[int, list[Measurement]] = defaultdict(list)
        for m in group:
            by_round[m.round].append(m)
        by_subject: dict[tuple, list[tuple[Measurement, RoundCheck]]] = defaultdict(list)
        for round_ms in by_round.values():
            peers = [m.value for m in round_ms]
            node_gpus: dict[str, list[float]] = defaultdict(list)
            for m in round_ms:
                if m.gpu is not None:
                    node_gpus[m.node].append(m.value)
            for m in round_ms:
                check = check_round(m, peers, node_gpus.get(m.node, []), th)
                by_subject[(m.node, m.gpu)].append((m, check))
        for pairs in by_subject.values():
            pairs.sort(key=lambda mc: mc[0].round)
            verdicts.append(_combine([m for m, _ in pairs], [c for _, c in pairs], th))
    return sorted(verdicts, key=lambda v: (-v.status.severity, v.node, v.gpu if v.gpu is not None else -1))


def measurements_from_results(results: Iterable[Mapping[str, Any]],
                              expectation: Callable[[Mapping[str, Any]], Expectation | None]
                              ) -> list[Measurement]:
    """ProbeResult documents -> Measurements. Invalid results are dropped. The round is
    params.round when given, else the result's position in time among its subject's results."""
    valid = [r for r in results if r.get("valid")]
    valid.sort(key=lambda r: r.get("time", ""))
    seen: dict[tuple, int] = defaultdict(int)
    out = []
    for r in valid:
        key = (r["node"], r.get("gpu"), r["probe"], r.get("dtype"))
        params = r.get("params") or {}
        rnd = params.get("round")
        if rnd is None:
            rnd = seen[key]
        seen[key] += 1
        out.append(Measurement(node=r["node"], probe=r["probe"], value=float(r["value"]),
                               dtype=r.get("dtype"), gpu=r.get("gpu"), sku=params.get("sku", ""),
                               round=int(rnd), expected=expectation(r),
                               conditions=r.get("conditions") or {}))
    return out
