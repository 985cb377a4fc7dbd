"""The one median helper: probes, conditions and verdicts all take medians of lists that may be
empty or hold missing figures (None)."""

from __future__ import annotations

import statistics
from typing import Iterable


def median(values: Iterable[float | None]) -> float | None:
    """Median of the values that are not None; None when there are none."""
    found = [v for v in values if v is not None]
    return statistics.median(found) if found else None
