"""One median helper for probes, conditions and verdicts, and one node_name."""

from __future__ import annotations

import re
from pathlib import Path

from slurm_diag.stats import median

PACKAGE = Path(__file__).resolve().parents[2] / "slurm_diag"


def test_median_skips_missing_figures_and_is_none_when_empty():
    assert median([3.0, None, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, None, 3.0, 2.0]) == 2.5
    assert median(x for x in (5.0,)) == 5.0
    assert median([]) is None and median([None, None]) is None


def _definitions(name: str) -> list[str]:
    rx = re.compile(rf"^\s*def _?{name}\(", re.M)
    return sorted(str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py") if rx.search(p.read_text()))


def test_one_median_and_one_node_name_in_the_package():
    assert _definitions("median") == ["slurm_diag/stats.py"]
    assert _definitions("node_name") == ["slurm_diag/health/context.py"]
