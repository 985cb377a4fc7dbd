"""The diagnosis agent's LLM layer on the team's evaluation set (tests/data/cases).

For each case the engine diagnoses the log (as benchmarks/diagnosis_bench.py does), then the
chosen LLM reasons over it in three rounds and the verifier accepts or rejects its answer.
Prints per split: top-1 accuracy with the LLM off and with it on, how many answers were accepted,
rejected (with the reasons counted) or cut by a budget, tokens generated, tokens/s and seconds
per case. The measure: accuracy with the LLM is never below accuracy without it.

    python benchmarks/agent_bench.py --llm none|fake|transformers|openai [--split dev|test|all]
                                     [--limit N] [--json]

``fake`` is a scripted model that always blames a GPU on a node outside the job, citing a
finding id that does not exist: every one of its answers must be rejected.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from diagnosis_bench import load_cases  # noqa: E402

from slurm_diag.agent import reason  # noqa: E402
from slurm_diag.agent.llm import make_backend  # noqa: E402
from slurm_diag.diagnose import engine, logfile  # noqa: E402

CONTRARIAN = [
    {"keywords": ["gpu"], "entities": ["node999"]},
    {"critique": "the GPU on node999 failed", "agrees": False, "checks": [{"tool": "node_state", "target": "node999"}]},
    {"label": "gpu_hardware", "scope": "infra", "supporting": ["log:xid-79-invented"], "suspect_nodes": ["node999"],
     "suspect_gpus": [7], "alternatives": [], "explanation": "GPU 7 on node999 fell off the bus"},
]


def _reason_kind(text: str) -> str:
    return re.split(r"[:(]", text, maxsplit=1)[0].strip()


def run(cases: list[dict], backend, budget: reason.RunBudget) -> dict:
    n = len(cases)
    off_ok = on_ok = 0
    statuses: Counter = Counter()
    reasons: Counter = Counter()
    changed = Counter()
    tokens = 0
    llm_seconds = wall = 0.0
    for case in cases:
        d = engine.diagnose_log(logfile.from_text(case["log"]), state=case.get("state"), exit_code=case.get("exit_code"))
        start = time.perf_counter()
        out = reason.explain(d, case["log"], backend, budget=budget)
        wall += time.perf_counter() - start
        rec = out["llm"]
        statuses[rec["status"]] += 1
        for r in rec.get("reasons", []):
            reasons[_reason_kind(r)] += 1
        tokens += rec.get("tokens", 0)
        llm_seconds += rec.get("seconds", 0.0)
        off = d.attribution["label"] == case["label"]
        on = out["attribution"]["label"] == case["label"]
        off_ok += off
        on_ok += on
        if out["attribution"]["label"] != d.attribution["label"]:
            changed["fixed" if on else "broke" if off else "wrong_to_wrong"] += 1
        print(f"{sum(statuses.values())}/{n} {case['_path']}: {rec['status']} "
              f"{rec.get('tokens', 0)} tokens {rec.get('seconds', 0.0):.1f} s", file=sys.stderr, flush=True)
    return {"cases": n, "top1_llm_off": off_ok / n if n else None, "top1_llm_on": on_ok / n if n else None,
            "statuses": dict(statuses), "rejection_reasons": dict(reasons), "label_changes": dict(changed),
            "tokens": tokens, "llm_seconds": round(llm_seconds, 2),
            "tokens_per_s": round(tokens / llm_seconds, 1) if llm_seconds else None,
            "seconds_per_case": round(wall / n, 3) if n else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llm", choices=["none", "fake", "transformers", "openai"], default="none")
    ap.add_argument("--split", choices=["dev", "test", "all"], default="all")
    ap.add_argument("--limit", type=int, default=0, help="only the first N cases of each split")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from slurm_diag import config
    cfg = config.load()
    started = time.perf_counter()
    backend = make_backend(args.llm, cfg, script=CONTRARIAN)
    load_s = time.perf_counter() - started
    cases = load_cases()
    names = ["dev", "test"] if args.split == "all" else [args.split]
    results = {"llm": args.llm, "model": getattr(backend, "model_id", None), "load_seconds": round(load_s, 2)}
    for name in names:
        chosen = [c for c in cases if c["split"] == name]
        if args.limit:
            chosen = chosen[:args.limit]
        budget = reason.RunBudget(run_tokens=10 ** 9, run_seconds=10 ** 9)
        results[name] = run(chosen, backend, budget)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"LLM {args.llm} ({results['model']}), loaded in {results['load_seconds']} s")
    for name in names:
        r = results[name]
        print(f"== {name}: {r['cases']} cases")
        print(f"  top-1 LLM off {r['top1_llm_off']:.3f}   LLM on {r['top1_llm_on']:.3f}   "
              f"label changes {r['label_changes']}")
        print(f"  statuses {r['statuses']}")
        print(f"  rejection reasons {r['rejection_reasons']}")
        print(f"  tokens {r['tokens']}  LLM seconds {r['llm_seconds']}  tokens/s {r['tokens_per_s']}  "
              f"seconds/case {r['seconds_per_case']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
