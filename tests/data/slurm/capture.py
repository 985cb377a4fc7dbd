"""Refresh the captured Slurm output under tests/data/slurm/ from the real local cluster.

Run as root with the local cluster up:  python tests/data/slurm/capture.py [arrays|events|requeued]
It submits jobs that end in each interesting state (FAILED, TIMEOUT, OUT_OF_MEMORY, CANCELLED,
NODE_FAIL, an array, a multi-node job with steps), drains a node, and saves the raw output of
sacct, scontrol and sinfo exactly as the adapter asks for it. Takes about a minute and a half.
With ``arrays``, only the job arrays (a failed task, held, partly running) are captured; with
``requeued``, only a job Slurm requeued after its node failed (sacct --duplicates); with ``het``,
only a heterogeneous job whose second component's step failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from slurm_diag.devcluster import cluster, daemons
from slurm_diag.slurm import parse

OUT = Path(__file__).parent
lay = cluster.layout()
ENV = {"SLURM_CONF": str(lay.slurm_conf), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}


def sh(*argv: str, input: str | None = None) -> str:
    return subprocess.run(argv, input=input, capture_output=True, text=True, env=ENV, timeout=60, check=True).stdout


def sbatch(script: str, *args: str) -> str:
    return sh("sbatch", "--parsable", "--chdir=/tmp", "-o", "/tmp/sdiag-capture-%j.out", *args,
              input=script).strip().split(";")[0]


def sacct(job: str, *more: str) -> str:
    return sh("sacct", "-n", "-P", f"--delimiter={parse.SEP}", "-o", ",".join(parse.SACCT_FIELDS), "-j", job, *more)


def wait_done(job: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = sh("sacct", "-n", "-X", "-P", "-o", "State", "-j", job).split()
        if states and all(s not in {"PENDING", "RUNNING", "REQUEUED", "COMPLETING"} for s in states):
            return
        time.sleep(0.5)
    raise SystemExit(f"job {job} did not finish in {timeout} s")


def save(name: str, text: str) -> None:
    (OUT / name).write_text(text)
    print(f"wrote {name} ({len(text.splitlines())} lines)")


def wait_running(job: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sh("squeue", "-h", "-o", "%T", "-j", job).strip() == "RUNNING":
            return
        time.sleep(0.3)
    raise SystemExit(f"job {job} did not start in {timeout} s")


def scontrol_job(job: str) -> str:
    return sh("scontrol", "show", "job", "-o", job)


def wait_accounted(job: str, timeout: float = 30) -> None:
    """Accounting learns of a new job a moment after slurmctld does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sacct(job).strip():
            return
        time.sleep(0.3)
    raise SystemExit(f"job {job} did not reach accounting in {timeout} s")


def capture_arrays() -> None:
    """Arrays as `sdiag-agent job <arrayid>` asks for them: sacct -j ID and scontrol show job ID."""
    failed = sbatch("#!/bin/sh\n[ \"$SLURM_ARRAY_TASK_ID\" = 1 ] && exit 7; exit 0\n",
                    "-J", "arr7", "--array=1-3")
    held = sbatch("#!/bin/sh\nexit 0\n", "-J", "held", "--array=1-5", "--hold")
    partial = sbatch("#!/bin/sh\nsleep 30\n", "-J", "one-at-a-time", "--array=1-4%1")
    wait_done(failed)
    wait_accounted(held)
    wait_running(f"{partial}_1")
    wait_accounted(partial)
    for name, job in (("array_failed", failed), ("array_held", held), ("array_partial", partial)):
        save(f"sacct_{name}.txt", sacct(job))
        save(f"scontrol_{name}.txt", scontrol_job(job))
    sh("scancel", held, partial)
    with open(OUT / "job_ids.txt", "a") as ids:
        ids.write(f"array_failed {failed}\narray_held {held}\narray_partial {partial}\n")


def capture_events() -> None:
    """Node events as the diagnosis asks for them: a drain still open (end Unknown) whose reason
    holds a '|', beside the history the cluster already has."""
    sh("scontrol", "update", "NodeName=node2", "State=DRAIN", "Reason=sdiag: xid: gpu1 Xid 79 | fallen off the bus")
    time.sleep(1)
    save("sacctmgr_events.txt", sh("sacctmgr", "-n", "-P", "show", "event", "Event=Node", "Start=now-1days",
                                   f"format={','.join(parse.SACCTMGR_EVENT_FIELDS)}"))
    sh("scontrol", "update", "NodeName=node2", "State=RESUME")


def capture_requeued() -> None:
    """A requeueable job whose node's slurmd dies under it: NODE_FAIL, then Slurm runs it again on
    another node. sacct --duplicates lists both runs, oldest first."""
    job = sbatch("#!/bin/sh\necho started on $SLURMD_NODENAME\nsleep 100\necho done\n", "-J", "requeue-me",
                 "--requeue")
    wait_running(job)
    node = sh("squeue", "-h", "-o", "%N", "-j", job).strip()
    daemons.kill(cluster.daemon(lay, f"slurmd-{node}"))
    try:                  # NODE_FAIL ends the first run; wait for the second, elsewhere, to complete
        deadline = time.monotonic() + 240
        while sh("sacct", "-n", "-X", "-P", "-o", "State", "-j", job).split() != ["COMPLETED"]:
            if time.monotonic() > deadline:
                raise SystemExit(f"job {job} was not run again to completion in 240 s")
            time.sleep(1)
    finally:
        cluster.up(lay, say=lambda m: None)          # ReturnToService=2 may have resumed it already
        subprocess.run(["scontrol", "update", f"NodeName={node}", "State=RESUME"], env=ENV, capture_output=True,
                       timeout=60)
    save("sacct_requeued.txt", sacct(job, "--duplicates"))


def capture_het() -> None:
    """A heterogeneous job (two components on two nodes) whose second component's step fails, as
    `sdiag-agent job ID` asks for it: sacct -j ID, scontrol show job ID."""
    job = sbatch("#!/bin/sh\n#SBATCH -w node1\n#SBATCH hetjob\n#SBATCH -w node2\n"
                 "srun --het-group=0 hostname\nsrun --het-group=1 sh -c 'exit 3'\n", "-J", "het")
    wait_done(job)
    save("sacct_het.txt", sacct(job))
    save("scontrol_het.txt", scontrol_job(job))
    with open(OUT / "job_ids.txt", "a") as ids:
        ids.write(f"het {job}\n")


def main() -> None:
    if sys.argv[1:] == ["het"]:
        capture_het()
        return
    if sys.argv[1:] == ["requeued"]:
        capture_requeued()
        return
    if sys.argv[1:] == ["arrays"]:
        capture_arrays()
        return
    if sys.argv[1:] == ["events"]:
        capture_events()
        return
    steps = sbatch("#!/bin/sh\nsrun -N2 hostname\nsrun -N1 false\nexit 0\n",
                   "-J", "two-node", "-N", "2", "-w", "node[1-2]", "--gres=gpu:2", "--time=10")
    wait_done(steps)
    nodefail = sbatch("#!/bin/sh\nsleep 300\n", "-J", "on-node4", "-w", "node4", "--no-requeue")
    wait_running(nodefail)
    jobs = {
        "failed": sbatch("#!/bin/sh\necho start; exit 3\n", "-J", "exit3"),
        "timeout": sbatch("#!/bin/sh\nsleep 300\n", "-J", "too-long", "--time=0:05"),
        "oom": sbatch("#!/bin/sh\npython3 -c 'import time; b=bytearray(400*1024*1024); time.sleep(20)'\n",
                      "-J", "hog", "--mem=60M", "-w", "node3"),
        "array": sbatch("#!/bin/sh\n[ \"$SLURM_ARRAY_TASK_ID\" = 2 ] && exit 7; exit 0\n",
                        "-J", "arr", "--array=1-3"),
        "steps": steps,
        "cancelled": sbatch("#!/bin/sh\nsleep 300\n", "-J", "to-cancel", "-w", "node2"),
        "nodefail": nodefail,
    }
    wait_running(jobs["cancelled"])
    save("scontrol_job_running.txt", sh("scontrol", "show", "job", "-o", jobs["cancelled"]))
    save("scontrol_job_array.txt", sh("scontrol", "show", "job", "-o", jobs["array"]))
    sh("scancel", jobs["cancelled"])
    sh("scontrol", "update", "NodeName=node2", "State=DRAIN", "Reason=sdiag: gpu3 clock=200 MHz (expected >= 1755)")
    # kill node4's slurmd the hard way: its job ends NODE_FAIL once slurmctld gives up on it
    daemons.kill(cluster.daemon(lay, "slurmd-node4"))
    for key in ("failed", "oom", "array", "cancelled"):
        wait_done(jobs[key])
    time.sleep(1)
    save("scontrol_nodes.txt", sh("scontrol", "show", "node", "-o"))
    save("sinfo_reasons.txt", sh("sinfo", "-h", "-N", "-R", "-o", parse.SINFO_REASON_FORMAT))
    wait_done(jobs["timeout"])
    wait_done(jobs["nodefail"])
    save("scontrol_nodes_down.txt", sh("scontrol", "show", "node", "-o"))
    for key, job in jobs.items():
        save(f"sacct_{key}.txt", sacct(job))
    save("job_ids.txt", "".join(f"{k} {v}\n" for k, v in jobs.items()))
    subprocess.run(["scontrol", "update", "NodeName=node2", "State=RESUME"], env=ENV, timeout=30)
    cluster.up(lay, say=lambda m: print(m, file=sys.stderr))


if __name__ == "__main__":
    main()
