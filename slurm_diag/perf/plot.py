"""One picture of a sweep: each subject's figure per (probe, dtype), coloured by verdict, with the
model's expectation and the fleet median drawn across. Input is a plain list of ProbeResults."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, Mapping, Sequence

from slurm_diag.errors import EnvironmentProblem, UsageError

COLOURS = {"OK": "#4c9a2a", "WARN": "#e0a526", "CRITICAL": "#c0392b", "UNKNOWN": "#7f8c8d", None: "#5b7db1"}
SCALE = {"FLOP/s": (1e12, "TFLOP/s"), "B/s": (1e9, "GB/s")}


def _subject(doc: Mapping[str, Any]) -> str:
    return doc["node"] if doc.get("gpu") is None else f"{doc['node']}/gpu{doc['gpu']}"


def _scale(unit: str, largest: float) -> tuple[float, str]:
    """TFLOP/s for GPUs, GFLOP/s when the figures are smaller (CPU nodes)."""
    div, label = SCALE.get(unit, (1.0, unit))
    if unit == "FLOP/s" and largest < 1e12:
        return 1e9, "GFLOP/s"
    return div, label


def plot_results(results: Sequence[Mapping[str, Any]], out: Path, title: str | None = None) -> Path:
    """Render valid results to a PNG at `out`; returns the path."""
    valid = [r for r in results if r.get("valid")]
    if not valid:
        raise UsageError("nothing to plot: no valid probe results", hint="run a probe first")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise EnvironmentProblem(f"matplotlib is not importable: {exc}",
                                 hint="pip install 'slurm-diag[probes]'") from None
    panels: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in valid:
        panels[(r["probe"], r.get("dtype"), r["unit"])][_subject(r)].append(r)
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(6, 0.5 * max(len(p) for p in panels.values()) + 3),
                                                      3.2 * len(panels)), squeeze=False)
    for ax, ((probe, dtype, unit), by_subject) in zip(axes[:, 0], sorted(panels.items(), key=lambda kv: str(kv[0]))):
        names = sorted(by_subject)
        div, label = _scale(unit, max(r["value"] for n in names for r in by_subject[n]))
        values = [statistics.median(r["value"] for r in by_subject[n]) / div for n in names]
        colours = [COLOURS.get(((by_subject[n][-1].get("verdict") or {}).get("status")), COLOURS[None]) for n in names]
        ax.bar(range(len(names)), values, color=colours)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.axhline(statistics.median(values), color="black", linestyle=":", linewidth=1, label="fleet median")
        expected = [(r.get("expected") or {}).get("value") for n in names for r in by_subject[n]]
        expected = [e for e in expected if e]
        if expected:
            ax.axhline(statistics.median(expected) / div, color="#2c3e50", linestyle="--", linewidth=1,
                       label="expected")
        ax.set_ylabel(label)
        ax.set_title(f"{probe}" + (f" {dtype}" if dtype else ""), fontsize=10)
        ax.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
