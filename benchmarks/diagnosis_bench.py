"""Accuracy of the diagnosis engine on the team's evaluation set (tests/data/cases), with no LLM.

Prints, per split (dev: may be studied and tuned on; test: never tuned on): top-1 and top-3 label
accuracy, scope accuracy, how often the engine names a cause at all and how often that cause is
right, extraction precision and recall (nodes, GPUs, Xids; and the attribution's suspect nodes
against the nodes the thread implicates), accuracy per label,
a confusion table, and how many user-scope cases were called infra (those would become drains:
the target is 0). Top-1 is also given over the cases whose thread none of the message lists in
tests/data/messages quoted: their compilers worked apart from this set and sometimes drew a line
from one of its threads, and the rules written from those lines have then seen that thread.

    python benchmarks/diagnosis_bench.py [--split dev|test|all] [--tag TAG] [--show-misses] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from functools import lru_cache
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slurm_diag.diagnose import engine, logfile  # noqa: E402
from slurm_diag.schemas import ATTRIBUTION_LABELS  # noqa: E402

CASES = ROOT / "tests" / "data" / "cases"
MESSAGES = ROOT / "tests" / "data" / "messages"
_THREAD = (re.compile(r"github\.com/([^/\s]+/[^/\s]+)/(?:issues|pull|discussions)/(\d+)"),
           re.compile(r"([\w.-]+/[\w.-]+)#(\d+)"))


def load_cases() -> list[dict]:
    cases = []
    for path in sorted(CASES.glob("*/*.json")):
        doc = json.loads(path.read_text())
        doc["_path"] = str(path.relative_to(ROOT))
        cases.append(doc)
    return cases


_KB: list = []


def thread(source: str) -> str | None:
    """'owner/repo#N' (lowercase) for a GitHub thread named by URL or by owner/repo#N."""
    for rx in _THREAD:
        m = rx.search(source or "")
        if m:
            return f"{m[1]}#{m[2]}".lower()
    return None


@lru_cache(maxsize=1)
def quoted_threads() -> frozenset[str]:
    """The threads any line of the message lists (tests/data/messages/*.jsonl) was taken from
    (read once: each split's score asks)."""
    out: set[str] = set()
    for path in sorted(MESSAGES.glob("*.jsonl")):
        for text in path.read_text().splitlines():
            if text.strip():
                doc = json.loads(text)
                for source in doc.get("sources") or [doc.get("source", "")]:
                    if thread(source):
                        out.add(thread(source))
    return frozenset(out)


def kb_entries():
    """The shipped knowledge base (signatures only, no chromadb), loaded once."""
    if not _KB:
        from slurm_diag.kb.entries import load_dir, content_dir
        _KB.extend(load_dir(content_dir()))
    return _KB


def diagnose(case: dict):
    """The engine's whole Diagnosis of one case's log (with its state and exit code when given)."""
    return engine.diagnose_log(logfile.from_text(case["log"]), state=case.get("state"),
                               exit_code=case.get("exit_code"), kb_entries=kb_entries)


def run_case(case: dict) -> dict:
    d = diagnose(case)
    ranked = [d.attribution["label"]] + [a["label"] for a in d.alternatives if a["label"] != d.attribution["label"]]
    return {"label": d.attribution["label"], "scope": d.attribution["scope"], "top3": ranked[:3],
            "extracted": d.extracted, "explanation": d.attribution["explanation"],
            "suspect_nodes": d.attribution.get("suspect_nodes", [])}


def _pr(found: list, truth: list) -> tuple[int, int, int]:
    f, t = set(found), set(truth)
    return len(f & t), len(f), len(t)


def score(cases: list[dict]) -> dict:
    n = len(cases)
    top1 = top3 = scope_ok = user_as_infra = 0
    per_label: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    confusion: Counter = Counter()
    extraction = {k: [0, 0, 0] for k in ("nodes", "gpus", "xids")}
    suspects = [0, 0, 0]                   # the attribution's suspect nodes against the thread's
    answered = [0, 0]                      # cases the engine named a cause for, and of them right
    misses = []
    quoted = quoted_threads()
    unquoted = [0, 0]
    for case in cases:
        got = run_case(case)
        truth = case["label"]
        if thread(case["source"]) not in quoted:
            unquoted[0] += got["label"] == truth
            unquoted[1] += 1
        per_label[truth][1] += 1
        confusion[(truth, got["label"])] += 1
        if got["label"] == truth:
            top1 += 1
            per_label[truth][0] += 1
        else:
            misses.append((case, got))
        top3 += truth in got["top3"]
        scope_ok += got["scope"] == case["scope"]
        user_as_infra += case["scope"] == "user" and got["scope"] == "infra"
        if got["label"] != "unknown":
            answered[0] += 1
            answered[1] += got["label"] == truth
        for i, v in enumerate(_pr(got["suspect_nodes"], case["suspects"].get("nodes", []))):
            suspects[i] += v
        for key in extraction:
            hit, found, real = _pr(got["extracted"][key], case["suspects"].get(key, []))
            extraction[key][0] += hit
            extraction[key][1] += found
            extraction[key][2] += real
    return {
        "cases": n,
        "top1": top1 / n if n else None,
        "top3": top3 / n if n else None,
        "scope": scope_ok / n if n else None,
        "top1_unquoted": unquoted[0] / unquoted[1] if unquoted[1] else None,
        "unquoted_cases": unquoted[1],
        "user_called_infra": user_as_infra,
        "user_cases": sum(c["scope"] == "user" for c in cases),
        "per_label": {k: {"correct": v[0], "cases": v[1]} for k, v in sorted(per_label.items())},
        "confusion": {f"{t} -> {g}": c for (t, g), c in sorted(confusion.items()) if t != g},
        "extraction": {k: {"precision": (v[0] / v[1]) if v[1] else None, "recall": (v[0] / v[2]) if v[2] else None,
                           "found": v[1], "expected": v[2]} for k, v in extraction.items()},
        "answered": answered[0],
        "right_when_answered": answered[1] / answered[0] if answered[0] else None,
        "suspect_nodes": {"precision": suspects[0] / suspects[1] if suspects[1] else None,
                          "recall": suspects[0] / suspects[2] if suspects[2] else None,
                          "found": suspects[1], "expected": suspects[2]},
        "_misses": misses,
    }


def show(name: str, s: dict, show_misses: bool) -> None:
    if not s["cases"]:
        print(f"{name}: no cases")
        return
    print(f"== {name}: {s['cases']} cases")
    print(f"  top-1 {s['top1']:.3f}   top-3 {s['top3']:.3f}   scope {s['scope']:.3f}   "
          f"user-scope called infra: {s['user_called_infra']} of {s['user_cases']}")
    if s["unquoted_cases"]:
        print(f"  top-1 {s['top1_unquoted']:.3f} on the {s['unquoted_cases']} cases whose thread no message list quoted")
    if s["answered"]:
        print(f"  named a cause (not unknown) in {s['answered']} of {s['cases']} ({s['answered'] / s['cases']:.3f}); "
              f"right in {s['right_when_answered']:.3f} of those")
    for key, v in s["extraction"].items():
        p = "-" if v["precision"] is None else f"{v['precision']:.2f}"
        r = "-" if v["recall"] is None else f"{v['recall']:.2f}"
        print(f"  extraction {key:5} precision {p:>5} recall {r:>5}  (found {v['found']}, expected {v['expected']})")
    v = s["suspect_nodes"]
    p = "-" if v["precision"] is None else f"{v['precision']:.2f}"
    r = "-" if v["recall"] is None else f"{v['recall']:.2f}"
    print(f"  suspect nodes (the attribution's) precision {p:>5} recall {r:>5}  (named {v['found']}, "
          f"expected {v['expected']})")
    print("  per label (correct/cases):")
    for label in ATTRIBUTION_LABELS:
        if label in s["per_label"]:
            v = s["per_label"][label]
            print(f"    {label:14} {v['correct']:3}/{v['cases']:<3}")
    if s["confusion"]:
        print("  confusions (truth -> engine: count):")
        for pair, count in sorted(s["confusion"].items(), key=lambda kv: -kv[1]):
            print(f"    {pair:34} {count}")
    if show_misses:
        for case, got in s["_misses"]:
            print(f"  MISS {case['_path']}: {case['label']}/{case['scope']} -> {got['label']}/{got['scope']}: "
                  f"{got['explanation'][:140]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=["dev", "test", "all"], default="all")
    ap.add_argument("--show-misses", action="store_true", help="list the dev split's misses (never the test split's)")
    ap.add_argument("--tag", help="only the cases carrying this tag (e.g. a batch added later: batch-2026-12-01)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    cases = [c for c in load_cases() if not args.tag or args.tag in c.get("tags", [])]
    splits = {"dev": [c for c in cases if c["split"] == "dev"], "test": [c for c in cases if c["split"] == "test"]}
    names = ["dev", "test"] if args.split == "all" else [args.split]
    results = {name: score(splits[name]) for name in names}
    if args.json:
        print(json.dumps({k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} for k, v in results.items()},
                         indent=2))
        return 0
    for name in names:
        show(name, results[name], args.show_misses and name == "dev")
    return 0


if __name__ == "__main__":
    sys.exit(main())
