"""What ``nvidia-smi -q`` says about a GPU's clocks being held down, measured rather than guessed.

A GPU whose current temperature sits within a couple of degrees of its slowdown or maximum
operating temperature is being clocked down by the driver to stay there (thermal throttling); a
busy GPU (utilisation near 100 %) whose SM clock is well below its maximum is held down by power,
heat or a hardware slowdown. ``nvidia-smi -q`` names each GPU by its PCI bus id, which becomes an
index only through a mapping a health report provides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from slurm_diag.diagnose.extract import normalise_pci

MARGIN_C = 2            # at or within this many degrees of a limit: the driver is holding clocks down
BUSY_PCT = 90           # a GPU this busy runs at (or near) its maximum SM clock unless something holds it down
HELD_SHARE = 0.80       # SM clock below this share of the maximum while busy: held down
_SECTION = re.compile(r"^\s{2,6}(?P<name>[A-Z][A-Za-z ]+?)\s*$")
_SM = re.compile(r"^\s*SM\s*:\s*(?P<mhz>\d+)\s*MHz")
_UTIL = re.compile(r"^\s*Gpu\s*:\s*(?P<pct>\d+)\s*%")
_GPU = re.compile(r"^\s*GPU\s+(?P<bus>[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])\s*$")
_TEMP = re.compile(r"^\s*(?P<what>GPU|Memory) (?P<kind>Current|Slowdown|Max Operating|Shutdown|T\.Limit) Temp\s*:"
                   r"\s*(?P<value>-?\d+)\s*C\b")


@dataclass(frozen=True)
class Hot:
    bus: str | None          # normalised PCI bus id, when the block named one
    what: str                # "GPU" or "Memory"
    current: int | None      # None when only the T.Limit headroom was printed
    limit: int | None
    limit_name: str          # "Slowdown", "Max Operating" or "T.Limit"
    line: int                # 1-based line of the current temperature (or headroom)

    def describe(self) -> str:
        if self.limit_name == "T.Limit":
            return f"{self.what} temperature {self.limit} C below its throttle limit (T.Limit)"
        return f"{self.what} current temperature {self.current} C against its {self.limit_name} Temp of {self.limit} C"


def at_limit(lines) -> list[Hot]:
    """Every GPU (or GPU memory) block whose temperature is within MARGIN_C of its limit."""
    hot: list[Hot] = []
    bus = None
    block: dict[tuple[str, str], tuple[int, int]] = {}
    for n, line in enumerate(lines, 1):
        g = _GPU.match(line)
        if g:
            hot += _judge(bus, block)
            bus, block = normalise_pci(g["bus"]), {}
            continue
        t = _TEMP.match(line)
        if t:
            block[(t["what"], t["kind"])] = (int(t["value"]), n)
    return hot + _judge(bus, block)


def _judge(bus, block) -> list[Hot]:
    out = []
    for what in ("GPU", "Memory"):
        if (what, "T.Limit") in block and (what, "Current") not in block:
            headroom, n = block[(what, "T.Limit")]
            if headroom <= MARGIN_C:
                out.append(Hot(bus, what, None, headroom, "T.Limit", n))
            continue
        if (what, "Current") not in block:
            continue
        current, n = block[(what, "Current")]
        limits = [(block[(what, k)][0], k) for k in ("Max Operating", "Slowdown") if (what, k) in block]
        if not limits:
            continue
        limit, name = min(limits)
        if current >= limit - MARGIN_C:
            out.append(Hot(bus, what, current, limit, name, n))
    return out


@dataclass(frozen=True)
class Held:
    bus: str | None
    sm_mhz: int
    max_sm_mhz: int
    busy_pct: int
    line: int

    def describe(self) -> str:
        return (f"SM clock {self.sm_mhz} MHz at {self.busy_pct} % utilisation, against a maximum of "
                f"{self.max_sm_mhz} MHz ({self.sm_mhz / self.max_sm_mhz:.0%})")


def clocks_held(lines) -> list[Held]:
    """Every GPU block that is busy while its SM clock sits well below the GPU's maximum."""
    out: list[Held] = []
    bus, section, seen = None, "", {}
    for n, line in enumerate(list(lines) + ["GPU 0000:00:00.0"], 1):
        g = _GPU.match(line)
        if g:
            if {"Clocks", "Max Clocks", "Utilization"} <= seen.keys():
                (sm, at), (top, _), (busy, _) = seen["Clocks"], seen["Max Clocks"], seen["Utilization"]
                if busy >= BUSY_PCT and top > 0 and sm < HELD_SHARE * top:
                    out.append(Held(bus, sm, top, busy, at))
            bus, section, seen = normalise_pci(g["bus"]), "", {}
            continue
        sec = _SECTION.match(line)
        if sec:
            section = sec["name"]
            continue
        sm, util = _SM.match(line), _UTIL.match(line)
        if sm and section in ("Clocks", "Max Clocks") and section not in seen:
            seen[section] = (int(sm["mhz"]), n)
        elif util and section == "Utilization":
            seen["Utilization"] = (int(util["pct"]), n)
    return out
