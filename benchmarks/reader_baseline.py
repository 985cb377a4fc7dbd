"""The engine against a log-only expert reading of the same cases.

Four readers (an LLM briefed as an HPC administrator, one quarter of the cases each, shuffled and
anonymised: only the log, the scheduler and any state or exit code; no search, no thread, no
label) named a label and scope for every case of tests/data/cases. Their answers are in
benchmarks/results/log_only_reader_answers.jsonl, keyed by the case's file. This prints, per
split, how often the reader and the engine give the set's label, and where each is right and
the other not: how far the log alone decides, and how far the engine is from that. The answers
are a measure, never a source of rules: the test split's answers are close to its labels.

It also plays the agent's "an LLM may only add" path with the reader as the model: where the engine
says ``unknown``, the reader's label goes through the agent's verifier, citing the findings that
argue for it (an error line no rule recognises argues for any cause), and stands only if accepted.
That is an upper estimate of what a strong model adds, never a figure of the engine alone.

    python benchmarks/reader_baseline.py
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from diagnosis_bench import diagnose, load_cases, quoted_threads, thread  # noqa: E402
from slurm_diag.agent import verifier  # noqa: E402

ANSWERS = ROOT / "benchmarks" / "results" / "log_only_reader_answers.jsonl"


def added_by_model(d: dict, row: dict) -> str | None:
    """The label the agent would end with if the reader were its model: the reader's, where the
    engine said unknown (``d``: its diagnosis) and the verifier accepts it; else None (the engine's
    answer stands)."""
    if d["attribution"]["label"] != "unknown" or row["reader_label"] == "unknown":
        return None
    argued = verifier.argued_labels(d).get(row["reader_label"], set())
    answer = {"label": row["reader_label"], "scope": row["reader_scope"], "supporting": sorted(argued),
              "suspect_nodes": [], "suspect_gpus": [], "alternatives": [],
              "explanation": "the cause the log's error line shows"}
    return row["reader_label"] if verifier.verify(answer, d).accepted else None


def main() -> int:
    answers = {}
    for text in ANSWERS.read_text().splitlines():
        if text.strip():
            row = json.loads(text)
            answers[row["case"]] = row
    quoted = quoted_threads()
    counts: dict[str, Counter] = {}
    for case in load_cases():
        row = answers.get(case["_path"])
        if row is None:
            continue
        c = counts.setdefault(case["split"], Counter())
        d = diagnose(case).to_dict()
        got = d["attribution"]
        reader, engine = row["reader_label"] == case["label"], got["label"] == case["label"]
        c["cases"] += 1
        c["reader"] += reader
        c["engine"] += engine
        c["either"] += reader or engine
        c["reader only"] += reader and not engine
        c["engine only"] += engine and not reader
        c["engine unknown, reader right"] += got["label"] == "unknown" and not engine and reader
        added = added_by_model(d, row)
        c["model added"] += added is not None
        c["model added right"] += added == case["label"]
        c["model added wrong"] += added is not None and added != case["label"]
        c["engine + model"] += (added or got["label"]) == case["label"]
        c["user cases"] += case["scope"] == "user"
        c["reader: user called infra"] += case["scope"] == "user" and row["reader_scope"] == "infra"
        c["engine: user called infra"] += case["scope"] == "user" and got["scope"] == "infra"
        if thread(case["source"]) not in quoted:
            c["unquoted"] += 1
            c["unquoted reader"] += reader
            c["unquoted engine"] += engine
    for split in ("dev", "test"):
        c = counts.get(split)
        if not c:
            continue
        n, u = c["cases"], c["unquoted"] or 1
        print(f"== {split}: {n} cases read")
        print(f"  top-1  reader {c['reader'] / n:.3f}   engine {c['engine'] / n:.3f}   either {c['either'] / n:.3f}")
        print(f"  on the {c['unquoted']} cases no message list quotes: reader {c['unquoted reader'] / u:.3f}   "
              f"engine {c['unquoted engine'] / u:.3f}")
        print(f"  right only by the reader {c['reader only']} (of them the engine said unknown: "
              f"{c['engine unknown, reader right']}); right only by the engine {c['engine only']}")
        print(f"  engine, then the reader as the agent's model where the engine said unknown (verified): "
              f"{c['engine + model'] / n:.3f} (added {c['model added']}: {c['model added right']} right, "
              f"{c['model added wrong']} wrong)")
        print(f"  user cases called infra: reader {c['reader: user called infra']}, engine "
              f"{c['engine: user called infra']} (of {c['user cases']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
