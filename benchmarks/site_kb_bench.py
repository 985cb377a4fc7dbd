"""What a site's own confirmed causes do for the next jobs: a simulation on the evaluation set.

For every `dev` case the engine leaves `unknown`, the confirmed cause is recorded the way an
administrator would with `kb add --label --scope --why --text` (the signature derived from the
excerpt's key line, as `kb add` derives it when given no --signature). Those entries, and only
those, are then given to the engine on:

- the `test` split: other threads, other sites. Few should change; the figure that matters is how
  many a site entry turns wrong (an entry deciding for a job it was not written for);
- the `dev` split, leaving out the entries from the case's own thread: the same.

A site's failures recur at that site, which this set of single threads cannot show; this measures
the cost side (wrong decisions from entries written elsewhere), not the recurrence gain.

    python benchmarks/site_kb_bench.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from diagnosis_bench import load_cases, thread  # noqa: E402

from slurm_diag.diagnose import engine, kb_hits, logfile  # noqa: E402
from slurm_diag.errors import SdiagError  # noqa: E402
from slurm_diag.kb.add import attribution_from_words, entry_from_attribution  # noqa: E402
from slurm_diag.kb.entries import ADDED_FILE, Entry  # noqa: E402


def _label(case: dict, entries=None) -> str:
    log = logfile.from_text(case["log"])
    return engine.diagnose_log(log, kb_entries=(lambda: entries) if entries else None).attribution["label"]


def site_entries(cases: list[dict]) -> tuple[list[tuple[str, Entry]], int]:
    """(thread, entry) for every dev case left unknown whose cause is confirmed; and how many
    of them `kb add` refused (no usable key line)."""
    out, refused = [], 0
    for case in cases:
        if case["split"] != "dev" or case["label"] == "unknown" or _label(case) != "unknown":
            continue
        try:
            words = attribution_from_words(case["label"], case["scope"], case["confirmation"], job_id=None)
            doc = entry_from_attribution(words, case["log"], own_words=True)
        except SdiagError:
            refused += 1
            continue
        doc["id"] = f"{doc['id']}-{len(out)}"
        out.append((thread(case["source"]), Entry.from_dict(doc, origin=f"/site/kb/{ADDED_FILE}:{len(out) + 1}")))
    return out, refused


def measure(cases: list[dict], entries: list[tuple[str, Entry]], split: str) -> dict:
    changed = right = wrong = fixed = broke = 0
    for case in cases:
        if case["split"] != split:
            continue
        own = thread(case["source"])
        usable = [e for t, e in entries if t != own]
        before, after = _label(case), _label(case, usable)
        if before == after:
            continue
        changed += 1
        right += after == case["label"]
        wrong += after != case["label"]
        fixed += after == case["label"] and before != case["label"]
        broke += before == case["label"] and after != case["label"]
    return {"split": split, "cases": sum(c["split"] == split for c in cases), "changed": changed,
            "right": right, "wrong": wrong, "fixed": fixed, "broke": broke}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cases = load_cases()
    entries, refused = site_entries(cases)
    deciding = sum(kb_hits.decisive(e.signatures[0]) for _, e in entries)
    rows = [measure(cases, entries, "test"), measure(cases, entries, "dev")]
    if args.json:
        print(json.dumps({"entries": len(entries), "deciding": deciding, "refused": refused, "rows": rows}))
        return 0
    print(f"site entries from dev cases left unknown: {len(entries)} ({deciding} specific enough to decide; "
          f"{refused} refused by kb add)")
    for r in rows:
        print(f"  {r['split']:4} {r['cases']} cases: {r['changed']} changed, {r['right']} of them right "
              f"({r['fixed']} fixed), {r['wrong']} wrong ({r['broke']} were right before)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
