"""How long `sdiag-agent explain JOBID` takes on the local cluster, interpreter start included.

Submits a few jobs that fail in different ways (a Python traceback, a missing module, exit 3, a
cgroup OOM), waits until accounting and the store have them, then runs the installed CLI on each
N times (default 10) and prints the median and p95 wall time (the budget: about a second without
an LLM). Also reports whether the explain process imported chromadb, onnxruntime or torch (it
must not unless the cheap evidence left the question open).

    eval $(sdiag-agent devcluster env)
    /opt/slurm-diag/venv/bin/python benchmarks/explain_bench.py [--runs 10] [--jobs ID ...] [--json]
        [--user NAME] [--array N] [--recent]

``--array N`` also submits an array of N tasks, half of them failing two ways, and times explain on
the array's id (every failed task diagnosed; distinct failures once each), reported apart.
``--recent`` also times ``explain --since 1h``: every job of the caller that ended badly in the last
hour, each diagnosed, reported apart with how many jobs it listed.

``--user`` submits and explains as that (existing, ordinary) user instead of root: a user cannot
read the store's credentials, so their explain reads the nodes' records through
``store.nodes_url``.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
BUDGET_S = 1.0
SCRIPTS = {
    "traceback": "#!/bin/sh\npython3 -c 'import json; json.loads(\"{bad\")'\n",
    "missing-module": "#!/bin/sh\npython3 -c 'import flash_attn_not_here'\n",
    "exit3": "#!/bin/sh\necho step one; exit 3\n",
    "oom": "#!/bin/sh\npython3 -c 'import time; b=bytearray(400*1024*1024); time.sleep(5)'\n",
}
HEAVY = ("chromadb", "onnxruntime", "torch")
AS = {}          # subprocess.run's user, group, cwd and env for --user; empty: this process's own


def as_user(name: str) -> dict:
    if os.geteuid() != 0:
        sys.exit("--user runs the jobs and explain as another user: run this as root")
    try:
        who = pwd.getpwnam(name)
    except KeyError:
        sys.exit(f"no user {name!r}: create one (useradd -m {name}) or leave --user out")
    env = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": who.pw_dir, "USER": name, "LOGNAME": name,
           "LANG": "C.UTF-8", **{k: os.environ[k] for k in ("SLURM_CONF", "SDIAG_CONFIG") if k in os.environ}}
    return {"user": who.pw_uid, "group": who.pw_gid, "extra_groups": [], "cwd": "/tmp", "env": env}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def submit_all() -> list[str]:
    ids = []
    for name, script in SCRIPTS.items():
        extra = ["--mem=60M"] if name == "oom" else []
        out = subprocess.run(["sbatch", "--parsable", "-J", f"bench-{name}", "--chdir=/tmp",
                              "-o", "/tmp/sdiag-explain-bench-%j.out", *extra], input=script,
                             capture_output=True, text=True, timeout=30, **AS)
        if out.returncode != 0:
            sys.exit(f"sbatch failed: {out.stderr.strip()} (is the local cluster up? eval $(sdiag-agent devcluster env))")
        ids.append(out.stdout.strip().split(";")[0])
    deadline = time.monotonic() + 120
    for job in ids:
        while time.monotonic() < deadline:
            state = subprocess.run(["sacct", "-X", "-n", "-P", "-j", job, "-o", "State"], capture_output=True,
                                   text=True, timeout=30, **AS).stdout.strip()
            if state and state.split()[0] not in ("PENDING", "RUNNING", "COMPLETING", "REQUEUED"):
                break
            time.sleep(0.5)
    time.sleep(3)          # the epilog's detached ingest moves the hooks' reports into the store
    return ids


ARRAY_SCRIPT = ("#!/bin/sh\ni=$SLURM_ARRAY_TASK_ID\n"
                "if [ $((i % 4)) = 0 ]; then exec python3 -c 'import json; json.loads(\"{bad\")'; fi\nexit $((i % 2))\n")


def submit_array(tasks: int) -> str:
    out = subprocess.run(["sbatch", "--parsable", "-J", "bench-array", "--chdir=/tmp", f"--array=0-{tasks - 1}",
                          "-o", "/tmp/sdiag-explain-bench-%A_%a.out"], input=ARRAY_SCRIPT,
                         capture_output=True, text=True, timeout=30, **AS)
    if out.returncode != 0:
        sys.exit(f"sbatch failed: {out.stderr.strip()}")
    array = out.stdout.strip().split(";")[0]
    deadline = time.monotonic() + 60 + tasks * 2
    while time.monotonic() < deadline and subprocess.run(["squeue", "-h", "-j", array], capture_output=True,
                                                          text=True, timeout=30, **AS).stdout.strip():
        time.sleep(2)
    time.sleep(3)
    return array


def measure(job: str, runs: int, *args: str) -> list[float]:
    """Wall times of ``explain JOB`` (or ``explain ARGS`` when ``job`` is empty), the first run dropped."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        argv = [str(VENV_BIN / "sdiag-agent"), "explain", *([job] if job else []), *args]
        out = subprocess.run(argv, capture_output=True, text=True, **AS)
        took = time.perf_counter() - start
        if out.returncode != 0:
            sys.exit(f"{' '.join(argv[1:])} failed (rc {out.returncode}): {out.stderr.strip()}")
        if i:                                  # the first run warms the page cache
            times.append(took)
    return times


def heavy_imports(job: str) -> list[str]:
    code = ("import json, sys\nfrom slurm_diag.cli import main\ntry:\n    main(['explain', %r, '--json'])\n"
            "except SystemExit:\n    pass\nprint('HEAVY ' + json.dumps([m for m in %r if m in sys.modules]), file=sys.stderr)\n"
            % (job, HEAVY))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, **AS)
    line = [ln for ln in out.stderr.splitlines() if ln.startswith("HEAVY")]
    return json.loads(line[-1].split(" ", 1)[1]) if line else ["(could not tell)"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--jobs", nargs="*", help="explain these jobs instead of submitting new ones")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--user", help="submit and explain as this ordinary user (their explain reads store.nodes_url)")
    ap.add_argument("--array", type=int, default=0, metavar="N", help="also time explain on an N-task array")
    ap.add_argument("--recent", action="store_true", help="also time explain --since 1h")
    args = ap.parse_args()
    if args.user:
        AS.update(as_user(args.user))
    if not os.environ.get("SLURM_CONF"):
        sys.exit("set SLURM_CONF (eval $(sdiag-agent devcluster env))")
    jobs = args.jobs or submit_all()
    per_job = {job: measure(job, args.runs) for job in jobs}
    every = [t for ts in per_job.values() for t in ts]
    result = {"runs": len(every), "median_s": statistics.median(every), "p95_s": p95(every),
              "budget_s": BUDGET_S, "per_job_median_s": {j: statistics.median(t) for j, t in per_job.items()},
              "heavy_imports": heavy_imports(jobs[0])}
    if args.array:
        array = submit_array(args.array)
        took = measure(array, 3)
        result["array"] = {"job_id": array, "tasks": args.array, "median_s": statistics.median(took)}
    if args.recent:
        took = measure("", 3, "--since", "1h")
        listed = subprocess.run([str(VENV_BIN / "sdiag-agent"), "explain", "--since", "1h", "--json"],
                                capture_output=True, text=True, **AS)
        if listed.returncode != 0:
            sys.exit(f"explain --since 1h --json failed (rc {listed.returncode}): {listed.stderr.strip()}")
        result["recent"] = {"jobs": len(json.loads(listed.stdout)["jobs"]), "median_s": statistics.median(took)}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"explain JOBID{' as ' + args.user if args.user else ''} over {len(jobs)} jobs x {args.runs} runs: median {result['median_s']:.3f} s, "
          f"p95 {result['p95_s']:.3f} s (budget about {BUDGET_S:g} s)")
    for job, med in result["per_job_median_s"].items():
        print(f"  job {job}: median {med:.3f} s")
    print(f"  heavy modules imported by explain: {result['heavy_imports'] or 'none'}")
    if args.array:
        arr = result["array"]
        print(f"explain of the {arr['tasks']}-task array {arr['job_id']} ({sum(i % 4 == 0 or i % 2 for i in range(arr['tasks']))} failed): "
              f"median {arr['median_s']:.3f} s over 3 runs")
    if args.recent:
        rec = result["recent"]
        print(f"explain --since 1h ({rec['jobs']} jobs listed, each diagnosed): "
              f"median {rec['median_s']:.3f} s over 3 runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
