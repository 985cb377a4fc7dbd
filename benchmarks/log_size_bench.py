"""What a job's log costs the engine, by its length (explain_bench.py's jobs print a few lines).

A log is a job's progress lines (the common case: nothing matches a sign) ending in a traceback;
the engine reads at most the last 256 KiB of a real log (logfile.DEFAULT_MAX_BYTES), about 3,000
such lines. Prints the median of several runs per length, and the cost per 1,000 lines.

    python benchmarks/log_size_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slurm_diag.diagnose import engine, logfile  # noqa: E402

TAIL = ('Traceback (most recent call last):\n  File "/home/alice/train.py", line 88, in <module>\n'
        "    cfg['lr']\nKeyError: 'lr'\n")


def log_of(lines: int) -> logfile.LogText:
    body = "\n".join(f"epoch 3 step {i} loss {2.0 - i * 1e-4:.4f} lr 3e-4 grad_norm 0.91 {1234.5 + i % 7:.1f} "
                     f"samples/s" for i in range(lines))
    return logfile.from_text(body + "\n" + TAIL)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    engine.diagnose_log(log_of(10))                    # compile what the first lines need
    for lines in (100, 1000, 3000):
        log = log_of(lines)
        took = []
        for _ in range(args.runs):
            start = time.perf_counter()
            engine.diagnose_log(log)
            took.append(time.perf_counter() - start)
        median = statistics.median(took)
        print(f"{lines:>5} lines ({len(log.text()) / 1024:.0f} KiB): median {median * 1000:.0f} ms "
              f"over {args.runs} runs, {median * 1000 / lines * 1000:.0f} ms per 1,000 lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
