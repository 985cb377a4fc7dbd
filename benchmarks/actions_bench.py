"""Time from approval to the node being drained, on the real local cluster.

For each run: a person's drain proposal for a node (`sdiag-agent actions propose drain NODE`), then
`sdiag-agent actions approve ID` as a separate command, as an admin would; then the node is resumed.
Prints three figures per run and their median/max:
  effect_s   approval recorded -> drain verified in Slurm (the proposal's approval_to_effect_s:
             the executor's rule re-checks, the cap's claim round trips and the verification)
  command_s  wall time of the whole `actions approve` command, interpreter start included
  seen_s     from starting `approve` until `scontrol show node` (polled separately) shows the drain
Run it under the cluster lock; it leaves the node resumed and the breaker as it found it.

    flock /tmp/sdiag-cluster.lock /opt/slurm-diag/venv/bin/python benchmarks/actions_bench.py [--runs 5] [--node node3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slurm_diag", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def drained(node: str, env: dict) -> bool:
    out = subprocess.run(["scontrol", "show", "node", "-o", node], env=env, capture_output=True, text=True,
                         timeout=10).stdout
    return "DRAIN" in out.split("State=", 1)[-1].split()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--node", default="node3")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base = Path(os.path.expanduser("~/.sdiag/devcluster"))
    env = {**os.environ, "SLURM_CONF": str(base / "etc" / "slurm.conf"),
           "SDIAG_CONFIG": str(base / "etc" / "sdiag.toml")}
    if drained(args.node, env):
        sys.exit(f"{args.node} is drained already; resume it first")
    runs = []
    for i in range(args.runs):
        proposed = cli("actions", "propose", "drain", args.node, "--reason", f"bench run {i} {time.time():.0f}", env=env)
        if proposed.returncode != 0:
            sys.exit(f"propose failed: {proposed.stderr.strip()}")
        pid = proposed.stdout.split()[0]
        seen: list[float] = []
        start = time.perf_counter()

        def watch():
            while time.perf_counter() - start < 60:
                if drained(args.node, env):
                    seen.append(time.perf_counter() - start)
                    return
                time.sleep(0.02)
        watcher = threading.Thread(target=watch)
        watcher.start()
        approved = cli("actions", "approve", pid, env=env)
        command_s = time.perf_counter() - start
        watcher.join()
        if approved.returncode != 0:
            sys.exit(f"approve failed: {approved.stderr.strip()}")
        shown = json.loads(cli("actions", "show", pid, "--json", env=env).stdout)
        runs.append({"effect_s": shown["proposal"]["approval_to_effect_s"], "command_s": round(command_s, 3),
                     "seen_s": round(seen[0], 3) if seen else None})
        subprocess.run(["scontrol", "update", f"NodeName={args.node}", "State=RESUME"], env=env, timeout=10)
    summary = {k: {"median": statistics.median(r[k] for r in runs), "max": max(r[k] for r in runs)}
               for k in ("effect_s", "command_s", "seen_s") if all(r[k] is not None for r in runs)}
    if args.json:
        print(json.dumps({"runs": runs, "summary": summary}, indent=2))
        return 0
    for i, r in enumerate(runs):
        print(f"run {i}: approval->drained {r['effect_s']:.3f} s   approve command {r['command_s']:.3f} s   "
              f"seen by scontrol {r['seen_s']} s")
    for key, s in summary.items():
        print(f"{key:10} median {s['median']:.3f} s   max {s['max']:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
