"""A probe sweep as data: which jobs to submit, in what order, with which script and sbatch options,
and what a finished job means for its results. Pure functions; `submit.py` does the I/O.

Why the jobs form one chain (each depends `afterany` on the one before): a fair comparison needs
every node measured under the same conditions. On a cluster whose nodes share hardware (the local
cluster runs four slurmd on the same two cores) concurrent probes would measure each other, and
a slowed node would even free cycles for its peers. So one node measures at a time, with the
whole node (`--exclusive`), and the rounds are interleaved (round 0 on every node, then round 1,
each round starting one node further along) so that a burst of outside load hits one round of one
node rather than every round of it: the 2-of-3 rule then filters it out.
"""

from __future__ import annotations

import re
import secrets
import shlex
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from slurm_diag.errors import UsageError

NODE_PROBES = ("gemm", "membw")
MULTI_NODE_PROBES = ("allreduce",)
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_MEM = re.compile(r"^\d+[KMGT]?$", re.IGNORECASE)


@dataclass(frozen=True)
class PlannedJob:
    """One sbatch submission of a sweep: the node(s) it runs on and the round it measures."""

    index: int
    nodes: tuple[str, ...]
    round: int

    @property
    def label(self) -> str:
        return f"{','.join(self.nodes)} round {self.round}"

    @property
    def log_name(self) -> str:
        return f"{'+'.join(self.nodes)}-r{self.round}-%j.out"


@dataclass(frozen=True)
class Sweep:
    """What `probe submit` was asked for; saved as the sweep's manifest beside its results."""

    sweep_id: str
    probe: str
    nodes: tuple[str, ...]
    rounds: int
    params: dict = field(default_factory=dict)
    threads: int = 0            # 0: the probe's own default (every CPU of the allocation)
    mem: str = "0"              # sbatch --mem; 0 = all of the node's memory
    time_min: int = 15
    deadline_min: int = 0       # minutes a job may wait beyond the chain ahead of it (sbatch --deadline); 0: none
    python: str = "python3"
    results_dir: str = ""

    def to_dict(self) -> dict:
        doc = asdict(self)
        doc["nodes"] = list(self.nodes)
        return doc

    @classmethod
    def from_dict(cls, doc: dict) -> "Sweep":
        return cls(**{**doc, "nodes": tuple(doc["nodes"])})


def new_sweep_id(probe: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S")
    return f"{probe}-{stamp}-{secrets.token_hex(2)}"


def check(sweep: Sweep) -> None:
    """Refuse what cannot work, naming the option to change."""
    if sweep.probe not in NODE_PROBES + MULTI_NODE_PROBES:
        raise UsageError(f"unknown probe {sweep.probe!r}", hint="use gemm, membw or allreduce")
    if not sweep.nodes:
        raise UsageError("--nodes names no node", hint="e.g. --nodes node[1-4]")
    if len(set(sweep.nodes)) != len(sweep.nodes):
        raise UsageError(f"--nodes names a node twice: {','.join(sweep.nodes)}")
    if sweep.probe in MULTI_NODE_PROBES and len(sweep.nodes) < 2:
        raise UsageError(f"{sweep.probe} needs at least 2 nodes, got {len(sweep.nodes)}",
                         hint="e.g. --nodes node[1-2]")
    if sweep.rounds < 1:
        raise UsageError(f"--rounds {sweep.rounds}: need at least 1", hint="3 lets the 2-of-3 rule confirm a flag")
    if not _MEM.match(sweep.mem):
        raise UsageError(f"--mem {sweep.mem!r} is not an sbatch memory size", hint="e.g. 0 (all), 500M, 4G")
    if sweep.time_min < 1:
        raise UsageError(f"--time-limit {sweep.time_min}: need at least 1 minute")
    if sweep.deadline_min < 0:
        raise UsageError(f"a deadline of {sweep.deadline_min} min: need 0 (none) or more")
    for key in ("round",):
        if key in sweep.params:
            raise UsageError(f"--param {key}=... is set by the sweep itself", hint="use --rounds")


def plan(sweep: Sweep) -> list[PlannedJob]:
    """The chain, in submission order. Node probes: one job per node and round, rounds interleaved
    and rotated; a multi-node probe: one job over all nodes per round."""
    if sweep.probe in MULTI_NODE_PROBES:
        return [PlannedJob(r, sweep.nodes, r) for r in range(sweep.rounds)]
    jobs, n = [], len(sweep.nodes)
    for r in range(sweep.rounds):
        shift = r % n
        for node in sweep.nodes[shift:] + sweep.nodes[:shift]:
            jobs.append(PlannedJob(len(jobs), (node,), r))
    return jobs


def job_script(sweep: Sweep, job: PlannedJob) -> str:
    """The batch script of one job (jobs/probe_node.sbatch and jobs/allreduce.sbatch are the
    hand-run forms of the same thing). Results go to the sweep's directory, written atomically."""
    argv = [sweep.python, "-m", "slurm_diag.probes", sweep.probe, "--out-dir", sweep.results_dir,
            "--param", f"round={job.round}"]
    params = dict(sweep.params)
    if sweep.threads and sweep.probe == "membw":
        params.setdefault("threads", sweep.threads)
    for key, value in params.items():
        argv += ["--param", f"{key}={value}"]
    lines = ["#!/bin/bash",
             f"# generated by `sdiag-agent probe submit` for sweep {sweep.sweep_id}: {job.label}",
             "set -euo pipefail",
             "export CUDA_DEVICE_ORDER=PCI_BUS_ID"]
    if sweep.threads:
        lines.append("export " + " ".join(f"{v}={sweep.threads}" for v in THREAD_VARS))
    command = " ".join(shlex.quote(a) for a in argv)
    if sweep.probe in MULTI_NODE_PROBES:
        lines.append(f"exec srun --mpi=pmix --kill-on-bad-exit=1 {command}")
    else:
        lines.append(f"exec {command}")
    return "\n".join(lines) + "\n"


def sbatch_args(sweep: Sweep, job: PlannedJob, log_dir: str, after: str | None) -> list[str]:
    """sbatch options of one job; `after` is the job id it waits for (any end state)."""
    args = [f"--job-name=sdiag-{sweep.probe}", f"--nodelist={','.join(job.nodes)}",
            f"--nodes={len(job.nodes)}", "--ntasks-per-node=1", "--exclusive", f"--mem={sweep.mem}",
            f"--time={sweep.time_min}", "--signal=B:TERM@30",
            f"--output={Path(log_dir) / job.log_name}",
            f"--comment=sdiag-sweep={sweep.sweep_id}"]
    if after:
        args += [f"--dependency=afterany:{after}", "--kill-on-invalid-dep=yes"]
    # Slurm removes a pending job that can no longer end by its deadline (its node drained, the queue
    # full): state DEADLINE, and what waits on it `afterany` runs. Seen on Slurm 22.05: a job with
    # --time=1 and a deadline 2 min out, on a drained node, ended DEADLINE after 60 s, the job chained
    # after it 10 s later. Each job's deadline leaves room for the whole chain up to it at its limit.
    if sweep.deadline_min:
        args.append(f"--deadline=now+{deadline_minutes(sweep, job.index + 1)}minutes")
    return args


def deadline_minutes(sweep: Sweep, jobs: int) -> int:
    """Minutes from submission by which the first ``jobs`` jobs of the chain must have ended."""
    return sweep.deadline_min + jobs * sweep.time_min


# --- what a finished job means ---------------------------------------------------------------

def log_path(log_dir: str, job: PlannedJob, job_id: str) -> str:
    return str(Path(log_dir) / job.log_name.replace("%j", job_id))


def failure_reason(state: str | None, exit_code: int | None, signal: int | None, found_files: int,
                   valid_docs: int) -> str | None:
    """Why a job's results cannot count, or None when they can (pure)."""
    if state is None:
        return "never reached accounting"
    if state != "COMPLETED":
        code = f", exit code {exit_code}" if exit_code is not None else ""
        sig = f", signal {signal}" if signal else ""
        return f"{state}{code}{sig}"
    if exit_code:
        return f"COMPLETED with exit code {exit_code}"
    if not found_files:
        return "COMPLETED but wrote no result file"
    if not valid_docs:
        return "COMPLETED but its result is marked invalid"
    return None


def invalidate(docs: list[dict], why: str) -> list[dict]:
    """Results of a job that did not complete never count as valid, whatever the file says."""
    for doc in docs:
        doc["valid"] = False
        doc.setdefault("conditions", {})["interrupted"] = doc.get("conditions", {}).get("interrupted") or why
    return docs


def log_tail(text: str, lines: int = 3, width: int = 200) -> str:
    """The last lines of a job log, control characters removed, for one message line."""
    clean = "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in text)
    tail = [ln.strip()[:width] for ln in clean.strip().splitlines()[-lines:] if ln.strip()]
    return " | ".join(tail)
