"""Knowledge-base speed and quality figures: build time, query latency p50/p95 at the shipped size
(and with --big at 10,000 synthetic entries), cold CLI latency, and top-1/top-3 label accuracy on
tests/kb/queries.jsonl (hybrid, and vector similarity alone).

    python benchmarks/kb_bench.py [--big] [--big-size 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "tests" / "kb" / "queries.jsonl"


def _home(tmp: Path, name: str, content_dir: Path | None = None):
    home = tmp / name
    home.mkdir()
    os.environ["SDIAG_HOME"] = str(home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    if content_dir:
        cfg_file = tmp / f"{name}.toml"
        cfg_file.write_text(f'[kb]\ncontent_dir = "{content_dir}"\n')
        os.environ["SDIAG_CONFIG"] = str(cfg_file)
    else:
        os.environ.pop("SDIAG_CONFIG", None)
    from slurm_diag import config
    return config.load()


def _pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _latency(cfg, store, entries, texts, repeats):
    from slurm_diag.kb import api

    api.search(texts[0], cfg=cfg, store=store, entries=entries)     # warm
    times = []
    for _ in range(repeats):
        for text in texts:
            start = time.perf_counter()
            api.search(text, top=5, cfg=cfg, store=store, entries=entries)
            times.append((time.perf_counter() - start) * 1000)
    return _pct(times, 50), _pct(times, 95), len(times)


def _synthetic(entries, size, seed=7):
    """Variants of the shipped entries: other numbers, hosts and device names, shuffled keywords."""
    rng = random.Random(seed)
    out = []
    for i in range(size):
        base = entries[i % len(entries)]
        raw = re.sub(r"\d+", lambda m: str(rng.randint(0, 10 ** len(m.group()))), base.rawtext)
        raw = f"{rng.choice(['node', 'gpu', 'host'])}-{rng.choice('abcdefgh')}{rng.randint(1, 99):02d}: {raw}"
        keys = list(base.problemkey)
        rng.shuffle(keys)
        out.append(replace(base, id=f"syn-{i:05d}", rawtext=raw, problemkey=tuple(keys)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--big", action="store_true", help="also index and query 10,000 synthetic entries (minutes)")
    ap.add_argument("--big-size", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from slurm_diag.kb import api, entries as entries_mod
    from slurm_diag.kb.evaluate import label_accuracy, load_queries

    queries = load_queries(QUERIES)
    texts = [q["text"] for q in queries]
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    cfg = _home(tmp, "shipped")
    entries = entries_mod.load_all(cfg)

    start = time.perf_counter()
    first = api.build(cfg)
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    api.build(cfg, rebuild=True)
    rebuild_s = time.perf_counter() - start
    print(f"entries: {len(entries)}  signatures: {sum(len(e.signatures) for e in entries)}")
    print(f"build (fresh home, incl. one-time ONNX export): {first_s:.1f} s ({first['indexed']} indexed)")
    print(f"rebuild (ONNX cached): {rebuild_s:.1f} s")

    store = api.open_store(cfg)
    p50, p95, n = _latency(cfg, store, entries, texts, args.repeats)
    print(f"query latency at {len(entries)} entries: p50 {p50:.1f} ms  p95 {p95:.1f} ms  ({n} queries, warm process)")

    acc = label_accuracy(queries, lambda t: api.search(t, top=3, cfg=cfg, store=store, entries=entries))
    bare = [replace(e, signatures=()) for e in entries]
    vec = label_accuracy(queries, lambda t: api.search(t, top=3, cfg=cfg, store=store, entries=bare))
    print(f"label accuracy ({acc.n} queries): hybrid top-1 {acc.top1:.3f} top-3 {acc.top3:.3f}; "
          f"vector only top-1 {vec.top1:.3f} top-3 {vec.top3:.3f}")
    for qid, want, got in acc.misses:
        print(f"  miss {qid}: expected {want}, got {list(got)}")

    env = {**os.environ}
    cold = []
    for text in texts[:3]:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from slurm_diag.cli import main; main()", "kb", "search", text, "--json"],
                       capture_output=True, env=env, check=True)
        cold.append(time.perf_counter() - start)
    print(f"cold `sdiag-agent kb search` (new process, index built): median {statistics.median(cold):.2f} s")

    if args.big:
        content = tmp / "big-content"
        content.mkdir()
        synthetic = _synthetic(entries, args.big_size)
        with open(content / "synthetic.jsonl", "w") as fh:
            for e in synthetic:
                fh.write(json.dumps(e.to_dict()) + "\n")
        big_cfg = _home(tmp, "big", content)
        # reuse the exported model instead of exporting again
        (big_cfg.home / "kb" / "model").mkdir(parents=True)
        os.link(cfg.home / "kb" / "model" / "minilm-l6-v2.onnx", big_cfg.home / "kb" / "model" / "minilm-l6-v2.onnx")
        start = time.perf_counter()
        api.build(big_cfg)
        print(f"build at {len(synthetic)} entries: {time.perf_counter() - start:.1f} s")
        big_entries = entries_mod.load_all(big_cfg)
        big_store = api.open_store(big_cfg)
        p50, p95, n = _latency(big_cfg, big_store, big_entries, texts, 1)
        print(f"query latency at {len(big_entries)} entries: p50 {p50:.1f} ms  p95 {p95:.1f} ms  ({n} queries)")


if __name__ == "__main__":
    main()
