"""The diagnosis agent's LLM layer on the team's evaluation set (tests/data/cases).

For each case the engine diagnoses the log (as benchmarks/diagnosis_bench.py does), then the
chosen LLM reasons over it in three rounds and the verifier accepts or rejects its answer.
Prints per split: top-1 accuracy with the LLM off and with it on, how many answers were accepted,
rejected (with the reasons counted) or cut by a budget, tokens generated, tokens/s and seconds
per case. The measure: accuracy with the LLM is never below accuracy without it.

    python benchmarks/agent_bench.py --llm none|fake|transformers|openai [--split dev|test|all]
                                     [--limit N [--spread]] [--only-unknown] [--json] [--job-seconds S]
                                     [--url URL [--api-key-file FILE] | --serve-llamacpp [--threads N]]

``openai`` asks the endpoint in the config (llm.openai_url), or ``--url``; ``--serve-llamacpp`` starts
llama.cpp's server (llama-cpp-python) with SmolLM2-135M-Instruct on 127.0.0.1 for the run and stops it
afterwards.

``--only-unknown`` keeps the cases where the engine alone says ``unknown``: the only ones where a
model's answer may add a cause (elsewhere it can only confirm or be rejected).

``fake`` is a scripted model that always blames a GPU on a node outside the job, citing a
finding id that does not exist: every one of its answers must be rejected.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from diagnosis_bench import load_cases  # noqa: E402

from slurm_diag.agent import reason  # noqa: E402
from slurm_diag.agent.llm import llamacpp_server, make_backend, smollm2  # noqa: E402
from slurm_diag.agent.llm.openai_api import OpenAIBackend  # noqa: E402
from slurm_diag.diagnose import engine, logfile  # noqa: E402
from slurm_diag.errors import SdiagError  # noqa: E402

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
    examples: dict[str, str] = {}
    tokens = prompt_tokens = 0
    llm_seconds = wall = 0.0
    for case in cases:
        d = _engine(case)
        start = time.perf_counter()
        out = reason.explain(d, case["log"], backend, budget=budget)
        wall += time.perf_counter() - start
        rec = out["llm"]
        statuses[rec["status"]] += 1
        for r in rec.get("reasons", []):
            reasons[_reason_kind(r)] += 1
            examples.setdefault(_reason_kind(r), r[:200])
        tokens += rec.get("tokens", 0)
        prompt_tokens += sum(r.get("prompt_tokens") or 0 for r in rec.get("transcript", []))
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
            "statuses": dict(statuses), "rejection_reasons": dict(reasons), "reason_examples": examples,
            "label_changes": dict(changed),
            "tokens": tokens, "prompt_tokens": prompt_tokens, "llm_seconds": round(llm_seconds, 2),
            "tokens_per_s": round(tokens / llm_seconds, 1) if llm_seconds else None,
            "seconds_per_case": round(wall / n, 3) if n else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llm", choices=["none", "fake", "transformers", "openai"], default="none")
    ap.add_argument("--split", choices=["dev", "test", "all"], default="all")
    ap.add_argument("--limit", type=int, default=0, help="only the first N cases of each split")
    ap.add_argument("--spread", action="store_true",
                    help="with --limit: N cases spread evenly over each split (in path order, so across its "
                         "labels), not the first N")
    ap.add_argument("--only-unknown", action="store_true",
                    help="only the cases where the engine alone says unknown (where a model may add a cause)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--url", help="openai: the endpoint's base URL (default: llm.openai_url in the config)")
    ap.add_argument("--api-key-file", help="openai with --url: a file holding the endpoint's API key")
    ap.add_argument("--serve-llamacpp", action="store_true",
                    help="openai: start llama.cpp's server with SmolLM2-135M on 127.0.0.1 for this run")
    ap.add_argument("--threads", type=int, default=2, help="--serve-llamacpp: the server's CPU threads")
    ap.add_argument("--n-ctx", type=int, default=4096, help="--serve-llamacpp: the server's context in tokens")
    ap.add_argument("--job-seconds", type=float, default=0,
                    help="the LLM's time budget per case (default: llm.job_seconds in the config)")
    args = ap.parse_args(argv)
    if (args.url or args.serve_llamacpp) and args.llm != "openai":
        ap.error("--url and --serve-llamacpp go with --llm openai")
    from slurm_diag import config
    cfg = config.load()
    started = time.perf_counter()
    server = None
    if args.serve_llamacpp:
        # a SIGTERM (timeout, scancel) unwinds through the finally below, which stops the server
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        log = Path(cfg.home) / "llm" / "llama-server.log"
        server = llamacpp_server.start(smollm2.gguf_path(), model_id=smollm2.MODEL_ID, log=log,
                                       threads=args.threads, n_ctx=args.n_ctx)
        backend = OpenAIBackend(server.url, api_key=server.api_key, timeout_s=600)
    elif args.url:
        backend = OpenAIBackend.from_settings({**cfg.get("llm"), "openai_url": args.url, "openai_model": "",
                                               "api_key_file": args.api_key_file or ""})
    else:
        backend = make_backend(args.llm, cfg, script=CONTRARIAN)
    load_s = time.perf_counter() - started
    try:
        results = bench(args, backend, load_s, cfg.get("llm"))
    finally:
        if server:
            server.stop()
    if server:
        results["server"] = {"kind": "llama.cpp (llama-cpp-python)", "threads": args.threads, "n_ctx": args.n_ctx}
    report(args, results)
    return 0


def bench(args, backend, load_s: float, settings: dict) -> dict:
    cases = load_cases()
    names = ["dev", "test"] if args.split == "all" else [args.split]
    results = {"llm": args.llm, "model": getattr(backend, "model_id", None), "url": getattr(backend, "url", None),
               "load_seconds": round(load_s, 2), "limit": args.limit or None, "spread": args.spread,
               "only_unknown": args.only_unknown,
               "job_budget": {"tokens": settings["job_tokens"], "seconds": args.job_seconds or settings["job_seconds"]}}
    for name in names:
        chosen = [c for c in cases if c["split"] == name]
        if args.only_unknown:
            chosen = [c for c in chosen if _engine(c).attribution["label"] == "unknown"]
        if args.limit and args.spread and args.limit < len(chosen):
            chosen = [chosen[i * len(chosen) // args.limit] for i in range(args.limit)]
        elif args.limit:
            chosen = chosen[:args.limit]
        budget = reason.RunBudget(job_tokens=settings["job_tokens"],
                                  job_seconds=args.job_seconds or settings["job_seconds"],
                                  run_tokens=10 ** 9, run_seconds=10 ** 9)
        results[name] = run(chosen, backend, budget)
    return results


def _engine(case: dict):
    """The engine's diagnosis of a case's log, as the agent sees it (no knowledge base)."""
    return engine.diagnose_log(logfile.from_text(case["log"]), state=case.get("state"), exit_code=case.get("exit_code"))


def report(args, results: dict) -> None:
    names = [k for k in ("dev", "test") if k in results]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    where = f" at {results['url']}" if results.get("url") else ""
    print(f"LLM {args.llm} ({results['model']}{where}), loaded in {results['load_seconds']} s, per case at most "
          f"{results['job_budget']['tokens']} tokens and {results['job_budget']['seconds']:g} s")
    for name in names:
        r = results[name]
        print(f"== {name}: {r['cases']} cases")
        print(f"  top-1 LLM off {r['top1_llm_off']:.3f}   LLM on {r['top1_llm_on']:.3f}   "
              f"label changes {r['label_changes']}")
        print(f"  statuses {r['statuses']}")
        print(f"  rejection reasons {r['rejection_reasons']}")
        for kind, text in r["reason_examples"].items():
            print(f"    e.g. {text}")
        print(f"  tokens {r['tokens']} (prompts read: {r['prompt_tokens']})  LLM seconds {r['llm_seconds']}  "
              f"tokens/s {r['tokens_per_s']}  "
              f"seconds/case {r['seconds_per_case']}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SdiagError as exc:
        print(f"agent_bench: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
