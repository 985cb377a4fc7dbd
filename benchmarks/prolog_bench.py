"""How long the prolog's quick check takes on a healthy 8-GPU node profile, interpreter start included.

Runs the prolog N times (default 50) at level quick two ways: the Python entry point alone
(`python -m slurm_diag.health.prolog`) and the full `prolog/prolog.sh` as slurmd runs it (shell,
`timeout`, Python). Prints median and p95 of each; the budget is median <= 0.3 s, p95 <= 0.5 s.
Also prints how long the GPU read took inside those runs (the gpu_count check's duration in the
spooled reports: the child process that reads NVML, its interpreter start included).

    /opt/slurm-diag/venv/bin/python benchmarks/prolog_bench.py [--runs 50] [--profile h100-8-healthy] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET = {"median_s": 0.3, "p95_s": 0.5}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def measure(argv: list[str], env: dict, runs: int) -> list[float]:
    times = []
    for i in range(runs + 3):
        start = time.perf_counter()
        out = subprocess.run(argv, env=env, capture_output=True, text=True)
        took = time.perf_counter() - start
        if out.returncode != 0:
            sys.exit(f"prolog failed (rc {out.returncode}): {out.stderr.strip()}")
        if i >= 3:                      # first runs warm the page cache
            times.append(took)
    return times


def gpu_read_times(home: Path) -> list[float]:
    """The gpu_count check's duration in every spooled report: the GPU read it waited for."""
    times = []
    for path in (home / "spool" / "health").glob("*.json"):
        try:
            checks = json.loads(path.read_text())["checks"]
        except (OSError, ValueError, KeyError):
            continue
        times += [c["duration_s"] for c in checks if c["name"] == "gpu_count" and "duration_s" in c]
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--profile", default="h100-8-healthy")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "SDIAG_HOME": home, "SDIAG_PYTHON": sys.executable,
               "SDIAG_GPU_PROFILE": args.profile, "SLURMD_NODENAME": "bench1", "SLURM_JOB_ID": "1",
               "SLURM_JOB_GPUS": "0,1,2,3,4,5,6,7", "HOME": home, "SPANK_SDIAG_HEALTH": "quick"}
        if os.environ.get("SDIAG_CONFIG"):
            env["SDIAG_CONFIG"] = os.environ["SDIAG_CONFIG"]
        results = {}
        for label, argv in (("python -m slurm_diag.health.prolog", [sys.executable, "-m", "slurm_diag.health.prolog"]),
                            ("prolog/prolog.sh", [str(REPO / "prolog" / "prolog.sh")])):
            times = measure(argv, env, args.runs)
            results[label] = {"runs": len(times), "median_s": round(statistics.median(times), 4),
                              "p95_s": round(p95(times), 4), "max_s": round(max(times), 4)}
        reads = gpu_read_times(Path(home))
    ok = all(r["median_s"] <= BUDGET["median_s"] and r["p95_s"] <= BUDGET["p95_s"] for r in results.values())
    gpu_read = ({"reports": len(reads), "median_s": round(statistics.median(reads), 4),
                 "p95_s": round(p95(reads), 4)} if reads else None)
    if args.json:
        print(json.dumps({"profile": args.profile, "level": "quick", "budget": BUDGET, "results": results,
                          "gpu_read": gpu_read, "within_budget": ok}, indent=2))
    else:
        print(f"prolog quick check, profile {args.profile}, {args.runs} runs each (budget: median <= "
              f"{BUDGET['median_s']} s, p95 <= {BUDGET['p95_s']} s)")
        for label, r in results.items():
            print(f"  {label:38s} median {r['median_s']:.3f} s   p95 {r['p95_s']:.3f} s   max {r['max_s']:.3f} s")
        if gpu_read:
            print(f"  {'of which the GPU read (child process)':38s} median {gpu_read['median_s']:.3f} s   "
                  f"p95 {gpu_read['p95_s']:.3f} s   ({gpu_read['reports']} reports)")
        print("  within budget" if ok else "  OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
