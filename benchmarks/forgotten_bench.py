"""How often `explain` finds the output of a job slurmctld has already forgotten.

slurmctld forgets a job MinJobAge (300 s by default) after it ends, and its `-o`/`-e` paths with it;
22.05's accounting keeps no path as a field. Most jobs users ask about are forgotten by then. This
takes every batch job that ended badly in a window and that slurmctld no longer shows, explains each
one in-process (the code `sdiag-agent explain JOBID --json` runs, same client and store), and counts
the jobs whose output was read, where its path came from, the reasons the rest were not read, and
the causes named.

    eval $(sdiag-agent devcluster env)
    /opt/slurm-diag/venv/bin/python benchmarks/forgotten_bench.py [--since 4h] [--until 15m] [--limit 400]

Run it with ``PYTHONPATH`` pointing at another checkout to compare two versions on the same jobs
(the figures it reads, ``not_checked`` and the attribution, exist in both).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys


def forgotten_jobs(since: str, until: str, limit: int) -> list[str]:
    """Batch jobs (not srun's or salloc's) that ended badly in the window, which scontrol no longer knows."""
    states = "FAILED,TIMEOUT,OUT_OF_MEMORY,NODE_FAIL,CANCELLED"
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-a", "-S", f"now-{since}", "-E", f"now-{until}", "-s", states,
                          "-o", "JobID,SubmitLine"], capture_output=True, text=True, timeout=120, check=True).stdout
    ids = [line.split("|", 1)[0] for line in out.splitlines()
           if "|" in line and line.split("|", 1)[1].split(" ", 1)[0].endswith("sbatch")]
    ids = [i for i in ids if i.replace("_", "").isdigit()][:limit]
    known = subprocess.run(["squeue", "-h", "-a", "-t", "all", "-o", "%i"], capture_output=True, text=True,
                           timeout=60).stdout.split()
    return [i for i in ids if i not in set(known) and i.split("_")[0] not in set(known)]


def _kind(problem: str) -> str:
    for words in ("does not exist", "/dev/null", "may not read", "is a directory", "not a regular file",
                  "path is not known", "empty", "binary"):
        if words in problem:
            return words
    return problem[:50]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--since", default="4hours", help="window start, as sacct's now-X (default 4hours)")
    ap.add_argument("--until", default="15minutes", help="window end, as sacct's now-X (default 15minutes)")
    ap.add_argument("--limit", type=int, default=400)
    args = ap.parse_args()
    if not os.environ.get("SLURM_CONF"):
        sys.exit("set SLURM_CONF (eval $(sdiag-agent devcluster env))")
    from slurm_diag.cli.explain_cmd import _explain_job
    from slurm_diag.errors import SdiagError

    jobs = forgotten_jobs(args.since, args.until, args.limit)
    read, why_not, origins, labels, errors = 0, collections.Counter(), collections.Counter(), collections.Counter(), 0
    for job_id in jobs:
        try:
            doc = _explain_job(job_id)
        except SdiagError:
            errors += 1
            continue
        problems = [f["summary"] for f in doc["findings"]
                    if f["id"].endswith(":unreadable") or f["id"] == "log:unknown-path"]
        if any(item.startswith(("the job's stdout", "the job's stderr", "the job's output"))
               for item in doc.get("not_checked", [])):
            never = any("never started" in item for item in doc["not_checked"])
            why_not[_kind(problems[0]) if problems else "never started" if never else "not looked for"] += 1
        else:
            read += 1
        job = doc.get("job") or {}
        origins["(this version does not say)" if "output" not in job else
                "(no output file: the job never started)" if not job["output"] else
                job["output_from"] or "(slurmctld's)"] += 1
        labels[doc["attribution"]["label"]] += 1
    n = len(jobs) - errors
    print(f"{n} forgotten batch jobs that ended badly ({errors} could not be explained)")
    print(f"output read for {read} of {n}" + (f" ({read / n:.0%})" if n else ""))
    print("not read, by reason: "
          + ", ".join(f"{k} {v}" for k, v in why_not.most_common(8)))
    print("where the path came from: " + ", ".join(f"{k if k.startswith('(') else k.split(':')[0][:70]} {v}" for k, v in origins.most_common(6)))
    print("causes named: " + ", ".join(f"{k} {v}" for k, v in labels.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
