"""Durations of successive runs of the same job, as a CI page, a workflow report or a ticket lists
them, and whether the later runs became much slower than the earlier ones.

A job that did not change and went from under an hour to several hours, run after run, points at
where it ran (a slower or degraded node) rather than at its code: weak evidence on its own, named
so that someone compares the nodes of the fast and the slow runs. Runs that failed are left out:
their durations say nothing about speed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from statistics import median

MIN_RUNS = 4
MIN_EACH_SIDE = 2
MIN_RATIO = 1.5          # every later run at least this much slower than every earlier one

_PART = r"(?P<n{i}>\d+)\s*(?P<u{i}>hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b"
_DURATION = re.compile(r"(?<![\d.:])" + _PART.format(i=1) + r"(?:\s*" + _PART.format(i=2) + r")?(?:\s*"
                       + _PART.format(i=3) + r")?", re.IGNORECASE)
_SECONDS = {"h": 3600, "m": 60, "s": 1}
_FAILED = re.compile(r"\b(?:fail\w*|error|timeout|timed out|cancel\w*|killed|aborted)\b", re.IGNORECASE)
_LEADING_NUMBER = re.compile(r"^\W*(\d+)\b")
# sacct's Elapsed ([D-]HH:MM:SS) on a whole job's COMPLETED row (not a step's "123.batch")
_CLOCK = re.compile(r"(?<![\w:.-])(?:(?P<d>\d+)-)?(?P<h>\d{1,2}):(?P<m>\d\d):(?P<s>\d\d)(?![\w:.])")
_SACCT_JOB_ROW = re.compile(r"^\s*\d+(?:_\d+)?\s.*\bCOMPLETED\b")


@dataclass(frozen=True)
class Slowdown:
    before: float            # median seconds of the earlier runs
    after: float             # median seconds of the later runs
    runs: int
    slow_runs: int
    first_line: int          # 1-based, in log order
    last_line: int

    @property
    def ratio(self) -> float:
        return self.after / self.before


def _seconds(m: re.Match) -> int:
    total = 0
    for i in (1, 2, 3):
        if m[f"n{i}"]:
            total += int(m[f"n{i}"]) * _SECONDS[m[f"u{i}"][0].lower()]
    return total


def runs(lines) -> list[tuple[int, int, int | None]]:
    """(line, seconds, leading run number or None) for each line holding exactly one duration."""
    out = []
    for n, line in enumerate(lines, 1):
        found = [(m.start(), _seconds(m)) for m in _DURATION.finditer(line) if _seconds(m) > 0]
        if not found and _SACCT_JOB_ROW.match(line):
            found = [(m.start(), _clock_seconds(m)) for m in _CLOCK.finditer(line)]
        if len(found) != 1 or found[0][1] <= 0:
            continue
        lead = _LEADING_NUMBER.match(line)
        out.append((n, found[0][1], int(lead[1]) if lead and lead.end() <= found[0][0] else None))
    return out


def _clock_seconds(m: re.Match) -> int:
    return int(m["d"] or 0) * 86400 + int(m["h"]) * 3600 + int(m["m"]) * 60 + int(m["s"])


def later_runs_slower(lines) -> Slowdown | None:
    lines = list(lines)
    found = runs(lines)
    if len(found) < MIN_RUNS or any(_FAILED.search(lines[n - 1]) for n, _, _ in found):
        return None
    numbers = [k for _, _, k in found]
    chronological = found
    if None not in numbers and all(a > b for a, b in zip(numbers, numbers[1:])):
        chronological = found[::-1]                   # newest first, as CI pages list them
    values = [s for _, s, _ in chronological]
    for k in range(MIN_EACH_SIDE, len(values) - MIN_EACH_SIDE + 1):
        if min(values[k:]) >= MIN_RATIO * max(values[:k]):
            return Slowdown(median(values[:k]), median(values[k:]), len(values), len(values) - k,
                            found[0][0], found[-1][0])
    return None


def hms(seconds: float) -> str:
    h, rem = divmod(int(seconds), 3600)
    return f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"
