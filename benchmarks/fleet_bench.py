"""Does a fleet sweep flag the slow node every time and a healthy node never, on the real cluster?

  SDIAG_CONFIG=... python benchmarks/fleet_bench.py [--sweeps 20] [--node node3] [--quota 0.3]
      [--probe gemm] [--rounds 3] [--n 256] [--threads 1]

Runs SWEEPS healthy sweeps of every node of the local cluster, then SWEEPS sweeps with NODE slowed
for real (`devcluster slow NODE --cpu-quota QUOTA`, undone at the end whatever happens), exactly as
`sdiag-agent probe submit PROBE --nodes ... --wait` does (same code, in process). Targets: 0 false
flags (a healthy node WARN or CRITICAL) over the healthy sweeps and over the slowed sweeps' other
nodes; the slowed node flagged in every slowed sweep (20/20). Results go to a temporary home and
SQLite store, never to the site's. Prints figures only; it checks nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from slurm_diag import config
from slurm_diag.devcluster import cluster
from slurm_diag.probes import submit as sub
from slurm_diag.probes import sweep as sw
from slurm_diag.slurm import CommandClient
from slurm_diag.store import Store


def one_sweep(client, store, cfg, args, nodes, home) -> tuple[sub.Outcome, float]:
    sweep_id = sw.new_sweep_id(args.probe)
    sweep = sw.Sweep(sweep_id=sweep_id, probe=args.probe, nodes=tuple(nodes), rounds=args.rounds,
                     params={"n": str(args.n), "repeats": "3", "min_sample_s": "0.05"} if args.probe == "gemm"
                     else {"n": str(args.n), "repeats": "3"}, threads=args.threads,
                     python=sys.executable, results_dir=os.path.join(home, "probes", sweep_id))
    t0 = time.monotonic()
    outcome = sub.run_sweep(client, store, cfg, sweep, say=lambda m: None, job_timeout=120)
    return outcome, time.monotonic() - t0


def line(kind: str, i: int, outcome: sub.Outcome, seconds: float) -> str:
    ratios = " ".join(f"{v.node}={v.ratio_fleet:.2f}" if v.ratio_fleet is not None else f"{v.node}=-"
                      for v in sorted(outcome.verdicts, key=lambda v: v.node))
    flagged = ",".join(sorted({v.node for v in outcome.flagged})) or "-"
    failed = f" failed={len(outcome.failures)}" if outcome.failures else ""
    return f"{kind:7} {i + 1:2}  {seconds:5.1f} s  flagged={flagged:12} median ratio to fleet: {ratios}{failed}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweeps", type=int, default=20)
    parser.add_argument("--node", default="node3")
    parser.add_argument("--quota", type=float, default=0.3)
    parser.add_argument("--probe", choices=["gemm", "membw"], default="gemm")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=256, help="gemm matrix size or membw elements")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    lay = cluster.layout(cfg=config.load())
    client = CommandClient(conf=str(lay.slurm_conf), timeout=30)
    nodes = lay.node_names
    home = tempfile.mkdtemp(prefix="sdiag-fleet-bench-")
    os.environ["SDIAG_HOME"] = home                   # calibration and results: nowhere permanent
    cfg = config.load()
    store = Store(f"sqlite:///{home}/store.db")
    print(f"cluster {lay.base} ({len(nodes)} nodes); {args.probe} n={args.n}, {args.threads} thread(s), "
          f"{args.rounds} rounds, one node at a time; results under {home}")
    started = time.monotonic()
    healthy_false, slow_false, detected, failures, times = 0, 0, 0, 0, []
    healthy_ratios, slow_ratios = [], []
    lone_rounds = 0         # a healthy node flagged in one round only: what the 2-of-3 rule absorbed
    for i in range(args.sweeps):
        outcome, seconds = one_sweep(client, store, cfg, args, nodes, home)
        times.append(seconds)
        healthy_false += len({v.node for v in outcome.flagged})
        failures += len(outcome.failures)
        healthy_ratios += [v.ratio_fleet for v in outcome.verdicts if v.ratio_fleet is not None]
        lone_rounds += sum(v.rounds_flagged for v in outcome.verdicts if v not in outcome.flagged)
        print(line("healthy", i, outcome, seconds), flush=True)
    cluster.slow(lay, args.node, args.quota)
    try:
        for i in range(args.sweeps):
            outcome, seconds = one_sweep(client, store, cfg, args, nodes, home)
            times.append(seconds)
            flagged = {v.node for v in outcome.flagged}
            detected += args.node in flagged
            slow_false += len(flagged - {args.node})
            failures += len(outcome.failures)
            slow_ratios += [v.ratio_fleet for v in outcome.verdicts if v.node == args.node and v.ratio_fleet]
            healthy_ratios += [v.ratio_fleet for v in outcome.verdicts
                               if v.node != args.node and v.ratio_fleet is not None]
            lone_rounds += sum(v.rounds_flagged for v in outcome.verdicts
                               if v.node != args.node and v not in outcome.flagged)
            print(line("slowed", i, outcome, seconds), flush=True)
    finally:
        cluster.unslow(lay, args.node)
    total = time.monotonic() - started
    n = args.sweeps
    print()
    print(f"false flags, healthy sweeps:           {healthy_false} of {n * len(nodes)} node verdicts "
          f"in {n} sweeps (target 0)")
    print(f"false flags, other nodes when slowed:  {slow_false} of {n * (len(nodes) - 1)} node verdicts (target 0)")
    print(f"{args.node} (quota {args.quota} CPU) flagged:      {detected}/{n} sweeps (target {n}/{n})")
    print(f"healthy node-rounds flagged alone:     {lone_rounds} of {n * len(nodes) * args.rounds + n * (len(nodes) - 1) * args.rounds}"
          f" (outside load on the shared cores; the 2-of-3 rule keeps them from a flag)")
    if healthy_ratios:
        print(f"healthy nodes, verdict ratio to fleet: min {min(healthy_ratios):.3f}, "
              f"max {max(healthy_ratios):.3f} (the flagged round's ratio when one round was flagged)")
    if slow_ratios:
        print(f"{args.node}, median ratio to fleet:       {statistics.median(slow_ratios):.3f} "
              f"(max {max(slow_ratios):.3f})")
    print(f"failed jobs:                           {failures}")
    print(f"time: {total:.0f} s for {2 * n} sweeps ({statistics.median(times):.1f} s median per sweep of "
          f"{len(nodes) * args.rounds} jobs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
