"""Throughput the job printed about itself (it/s, samples/s, tokens/s, TFLOP/s, ...), and whether
it fell while the job ran.

A job that slows down part-way, with no error, points at the node (a GPU heating up and clocking
down, a slowed CPU) rather than at its code, which does the same work each step. The series is
read per unit in log order; a sustained drop (the last samples against the best early ones) is a
finding, weak on its own: the performance model and the node's probes decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = r"(?P<value>\d+(?:[.,]\d+)?)"
_UNITS = {
    "it/s": r"it/s", "s/it": r"s/it", "samples/s": r"samples?/s(?:ec)?", "tokens/s": r"(?:tokens?|tok)/s(?:ec)?",
    "img/s": r"(?:images?|img)/s(?:ec)?", "TFLOP/s": r"TFLOP/?S|TFLOPs/s", "GB/s": r"GB/s",
    "TPS": r"TPS", "steps/s": r"steps?/s(?:ec)?",
}
_SERIES = [(unit, re.compile(rf"{_NUMBER}\s*(?:{rx})\b", re.IGNORECASE)) for unit, rx in _UNITS.items()]
_THROTTLE_CUES = re.compile(r"\b(?:thermal|temperature|temp|°C|\d{2}\s?C\b|clock|MHz|power|watt|W\b|throttl)",
                            re.IGNORECASE)
MIN_SAMPLES = 4
MIN_DROP = 0.10


@dataclass(frozen=True)
class Drop:
    unit: str
    early: float            # the best of the first samples
    late: float             # the mean of the last samples
    samples: int
    first_line: int         # 1-based
    last_line: int
    throttle_cues: bool     # the lines also speak of temperature, clocks or power

    @property
    def share(self) -> float:
        return 1 - self.late / self.early if self.early else 0.0


def series(lines) -> dict[str, list[tuple[int, float]]]:
    """unit -> [(line number, value)], the first matching figure of each line."""
    out: dict[str, list[tuple[int, float]]] = {}
    for n, line in enumerate(lines, 1):
        for unit, rx in _SERIES:
            m = rx.search(line)
            if m:
                out.setdefault(unit, []).append((n, float(m["value"].replace(",", "."))))
                break
    return out


def sustained_drop(lines) -> Drop | None:
    """The largest sustained fall in any printed throughput, if it is at least MIN_DROP."""
    lines = list(lines)
    best: Drop | None = None
    for unit, points in series(lines).items():
        if len(points) < MIN_SAMPLES:
            continue
        values = [v for _, v in points]
        if unit == "s/it":                       # time per step: higher is slower
            values = [1 / v for v in values if v > 0]
            if len(values) < MIN_SAMPLES:
                continue
        k = max(1, len(values) // 4)
        early, late = max(values[:max(2, k)]), sum(values[-k:]) / k
        if early <= 0 or 1 - late / early < MIN_DROP:
            continue
        if any(v > early * 1.02 for v in values[-k:]):
            continue                              # it recovered: not a sustained drop
        first, last = points[0][0], points[-1][0]
        cues = any(_THROTTLE_CUES.search(lines[n - 1]) for n, _ in points)
        drop = Drop(unit, early, late, len(points), first, last, cues)
        if best is None or drop.share > best.share:
            best = drop
    return best


# Megatron's straggler detector: "MnEtpt/Rnk: 88.82TF/30 | MxEtpt/Rnk: 608.83TF/13", the slowest and
# fastest rank's throughput in one report
_RANK_SPREAD = re.compile(r"MnEtpt/Rnk:\s*(?P<low>\d+(?:\.\d+)?)TF/(?P<low_rank>\d+)\s*\|\s*"
                          r"MxEtpt/Rnk:\s*(?P<high>\d+(?:\.\d+)?)TF/(?P<high_rank>\d+)")
STRAGGLER_SHARE = 0.5


@dataclass(frozen=True)
class Straggler:
    line: int               # 1-based
    rank: int
    low: float
    high: float


def straggler(lines) -> Straggler | None:
    """The first per-rank report whose slowest rank does less than STRAGGLER_SHARE of the fastest's work."""
    for n, line in enumerate(lines, 1):
        m = _RANK_SPREAD.search(line)
        if m and float(m["high"]) > 0 and float(m["low"]) / float(m["high"]) < STRAGGLER_SHARE:
            return Straggler(n, int(m["low_rank"]), float(m["low"]), float(m["high"]))
    return None
