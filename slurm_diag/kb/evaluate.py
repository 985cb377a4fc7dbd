"""Label accuracy of retrieval on labelled queries (tests/kb/queries.jsonl): shared by the
tests and benchmarks/kb_bench.py so both measure the same thing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Accuracy:
    n: int
    top1: float
    top3: float
    misses: tuple[tuple[str, str, tuple[str, ...]], ...]   # (query id, expected, top-3 labels)


def load_queries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def label_accuracy(queries: list[dict], search) -> Accuracy:
    """`search(text) -> list[Hit]`; a query counts at k when its label is among the first k hits."""
    top1 = top3 = 0
    misses = []
    for q in queries:
        labels = tuple(h.label for h in search(q["text"])[:3])
        top1 += bool(labels) and labels[0] == q["label"]
        top3 += q["label"] in labels
        if not labels or labels[0] != q["label"]:
            misses.append((q["id"], q["label"], labels))
    n = len(queries)
    return Accuracy(n, top1 / n if n else 0.0, top3 / n if n else 0.0, tuple(misses))
