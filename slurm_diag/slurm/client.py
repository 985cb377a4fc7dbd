"""The Slurm adapter: a ``SlurmClient`` Protocol and its backend over the Slurm commands.

The only place in slurm-diag that talks to Slurm. Every call is an argv list with a timeout
(``runner.run``); failures are typed (``slurm_diag.slurm.errors``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Protocol

from slurm_diag.slurm import parse, runner
from slurm_diag.slurm.errors import JobNotFound, NodeNotFound, SlurmCommandError
from slurm_diag.slurm.models import Job, Node, NodeReason


class SlurmClient(Protocol):
    def get_job(self, job_id: str) -> Job: ...
    def list_jobs(self, start: datetime, end: datetime, states: Iterable[str] = ()) -> list[Job]: ...
    def get_node(self, name: str) -> Node: ...
    def list_nodes(self) -> list[Node]: ...
    def node_reasons(self) -> list[NodeReason]: ...
    def submit(self, script: str, args: Iterable[str] = (), workdir: str | None = None) -> str: ...
    def wait(self, job_id: str, timeout: float, poll: float = 0.5,
             on_poll: Callable[[Job | None], None] | None = None) -> Job: ...
    def drain_node(self, name: str, reason: str) -> None: ...
    def resume_node(self, name: str) -> None: ...
    def requeue(self, job_id: str) -> None: ...
    def hold(self, job_id: str) -> None: ...
    def release(self, job_id: str) -> None: ...
    def cancel(self, job_id: str) -> None: ...


_INVALID_JOB = ("Invalid job id specified", "Invalid job id")
_INVALID_NODE = ("Invalid node name specified", "not found", "Node name specified")


class CommandClient:
    """SlurmClient over scontrol, sacct, squeue, sinfo, sbatch and scancel."""

    def __init__(self, conf: str | None = None, timeout: float = 30.0, bin_dir: str | None = None):
        self.conf = conf or os.environ.get("SLURM_CONF") or None
        self.timeout = timeout
        self.bin_dir = bin_dir or None

    @classmethod
    def from_config(cls, cfg=None) -> "CommandClient":
        from slurm_diag import config as config_mod

        cfg = cfg or config_mod.load()
        return cls(conf=cfg.get("slurm.conf") or None, timeout=float(cfg.get("slurm.timeout_s")),
                   bin_dir=cfg.get("slurm.bin_dir") or None)

    # ------------------------------------------------------------ plumbing
    def _run(self, argv: list[str], *, input: str | None = None, check: bool = True,
             timeout: float | None = None) -> runner.Result:
        if self.bin_dir:
            argv = [str(Path(self.bin_dir) / argv[0]), *argv[1:]]
        env = {"SLURM_CONF": self.conf} if self.conf else {}
        return runner.run(argv, timeout=timeout or self.timeout, env=env, input=input, check=check,
                          conf_hint=self.conf)

    def _sacct(self, args: list[str]) -> list[Job]:
        out = self._run(["sacct", "-n", "-P", f"--delimiter={parse.SEP}",
                         "-o", ",".join(parse.SACCT_FIELDS), *args]).stdout
        return parse.sacct_jobs(out)

    # ------------------------------------------------------------ jobs
    def get_job(self, job_id: str) -> Job:
        job_id = str(job_id).strip()
        if not job_id or not all(c.isdigit() or c in "_." for c in job_id):
            raise JobNotFound(f"{job_id!r} is not a job id", hint="job ids look like 1234 or 1234_5")
        jobs = self._sacct(["-j", job_id])
        match = [j for j in jobs if j.job_id == job_id] or [j for j in jobs if j.job_id_raw == job_id]
        live = self._scontrol_job(job_id)
        if not match:
            if live is None:
                raise JobNotFound(f"job {job_id} not found in accounting (sacct) or in slurmctld",
                                  hint="check the id with `sacct -X -u $USER`; records older than "
                                       "the purge window are gone")
            raise JobNotFound(f"job {job_id} is known to slurmctld but not yet to accounting",
                              hint="retry in a second")
        job = match[0]
        if live:
            job = dataclasses.replace(
                job, stdout=live.get("StdOut") or job.stdout, stderr=live.get("StdErr") or job.stderr,
                work_dir=job.work_dir or live.get("WorkDir"),
                reason=job.reason or _reason_or_none(live.get("Reason")))
        return job

    def _scontrol_job(self, job_id: str) -> dict[str, str] | None:
        result = self._run(["scontrol", "show", "job", "-o", job_id], check=False)
        if result.returncode != 0:
            if any(m in result.stderr for m in _INVALID_JOB):
                return None
            runner.raise_for(result, self.conf)
        records = parse.scontrol_jobs(result.stdout)
        for rec in records:
            task = f"{rec.get('ArrayJobId')}_{rec.get('ArrayTaskId')}"
            if rec.get("JobId") == job_id or task == job_id:
                return rec
        return records[0] if records else None

    def list_jobs(self, start: datetime, end: datetime, states: Iterable[str] = ()) -> list[Job]:
        """Jobs that ended in [start, end] (with ``states``, only those states)."""
        args = ["-a", "-S", start.strftime("%Y-%m-%dT%H:%M:%S"), "-E", end.strftime("%Y-%m-%dT%H:%M:%S")]
        states = [s.upper() for s in states]
        if states:
            args += ["-s", ",".join(states)]
        jobs = self._sacct(args)
        return [j for j in jobs if not states or j.state in states]

    # ------------------------------------------------------------ nodes
    def list_nodes(self) -> list[Node]:
        return parse.scontrol_nodes(self._run(["scontrol", "show", "node", "-o"]).stdout)

    def get_node(self, name: str) -> Node:
        result = self._run(["scontrol", "show", "node", "-o", name], check=False)
        if result.returncode != 0:
            if any(m in result.stderr + result.stdout for m in _INVALID_NODE):
                raise NodeNotFound(f"node {name!r} not found",
                                   hint="`sdiag-agent nodes` lists the nodes Slurm knows")
            runner.raise_for(result, self.conf)
        nodes = parse.scontrol_nodes(result.stdout)
        if not nodes:
            raise NodeNotFound(f"node {name!r} not found", hint="`sdiag-agent nodes` lists the nodes Slurm knows")
        return nodes[0]

    def node_reasons(self) -> list[NodeReason]:
        out = self._run(["sinfo", "-h", "-N", "-R", "-o", parse.SINFO_REASON_FORMAT]).stdout
        return parse.sinfo_reasons(out)

    def _update_node(self, name: str, *fields: str) -> None:
        self.get_node(name)  # a clear NodeNotFound instead of scontrol's terse message
        self._run(["scontrol", "update", f"NodeName={name}", *fields])

    def drain_node(self, name: str, reason: str) -> None:
        if not reason.strip():
            raise ValueError("a drain needs a reason")
        self._update_node(name, "State=DRAIN", f"Reason={reason}")

    def resume_node(self, name: str) -> None:
        self._update_node(name, "State=RESUME")

    def set_node_weight(self, name: str, weight: int) -> None:
        """Scheduling weight: Slurm fills lower-weight nodes first."""
        self._update_node(name, f"Weight={int(weight)}")

    # ------------------------------------------------------------ submit and control
    def submit(self, script: str, args: Iterable[str] = (), workdir: str | None = None) -> str:
        """Submit a script given as text (``#!`` first line); return the job id."""
        argv = ["sbatch", "--parsable", *args]
        if workdir:
            argv.append(f"--chdir={workdir}")
        return parse.sbatch_job_id(self._run(argv, input=script).stdout)

    def wait(self, job_id: str, timeout: float, poll: float = 0.5,
             on_poll: Callable[[Job | None], None] | None = None) -> Job:
        """Poll until the job reaches a terminal state in accounting; TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        job: Job | None = None
        while True:
            try:
                job = self.get_job(job_id)
            except JobNotFound:
                job = None
            if on_poll:
                on_poll(job)
            if job is not None and job.finished:
                return job
            if time.monotonic() >= deadline:
                state = job.state if job else "not in accounting"
                raise TimeoutError(f"job {job_id} still {state} after {timeout:g} s")
            time.sleep(poll)

    def _job_control(self, verb: str, job_id: str) -> None:
        result = self._run(["scontrol", verb, str(job_id)], check=False)
        if result.returncode != 0:
            if any(m in result.stderr for m in _INVALID_JOB):
                raise JobNotFound(f"job {job_id} not found by slurmctld", hint="is it still queued or running?")
            runner.raise_for(result, self.conf)

    def requeue(self, job_id: str) -> None:
        self._job_control("requeue", job_id)

    def hold(self, job_id: str) -> None:
        self._job_control("hold", job_id)

    def release(self, job_id: str) -> None:
        self._job_control("release", job_id)

    def cancel(self, job_id: str) -> None:
        result = self._run(["scancel", str(job_id)], check=False)
        if result.returncode != 0:
            if any(m in result.stderr for m in _INVALID_JOB):
                raise JobNotFound(f"job {job_id} not found by slurmctld")
            runner.raise_for(result, self.conf)

    def queue(self) -> list[dict[str, str]]:
        """Jobs slurmctld holds now (pending and running), as scontrol records."""
        return parse.scontrol_jobs(self._run(["scontrol", "show", "job", "-o"]).stdout)


def _reason_or_none(text: str | None) -> str | None:
    return None if not text or text == "None" else text


def default_client(cfg=None) -> SlurmClient:
    return CommandClient.from_config(cfg)


__all__ = ["SlurmClient", "CommandClient", "default_client", "SlurmCommandError"]
