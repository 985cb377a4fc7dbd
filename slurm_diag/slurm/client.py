"""The Slurm adapter: a ``SlurmClient`` Protocol and its backend over the Slurm commands.

The only place in slurm-diag that talks to Slurm. Every call is an argv list with a timeout
(``gateway.run``); failures are typed (``slurm_diag.slurm.errors``).
"""

from __future__ import annotations

import os
from dataclasses import replace
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Protocol

from slurm_diag.slurm import gateway, hetjob, job_lookup, parse, submission
from slurm_diag.slurm.errors import (
    InvalidJobId, JobNotFound, NodeNotFound, SlurmCommandError, SlurmUnavailable,
)
from slurm_diag.slurm.records import ACCOUNTING, CONTROLLER, Job, JobArray, Node, NodeEvent, NodeReason, Unreachable


class SlurmClient(Protocol):
    def get_job(self, job_id: str) -> Job | JobArray: ...
    def job_request(self, job_id: str) -> submission.Request:
        """What sbatch took for ``job_id``, from accounting: the command line, and the batch script
        and environment where AccountingStoreFlags keeps them. A part that cannot be read is left out
        of the request's ``read``; the three are asked at once."""
        return self.job_requests([job_id])[job_id]

    def remembered(self, job_ids: Iterable[str]) -> set[str] | None: ...
    def accounting_jobs(self, job_ids: Iterable[str]) -> list[Job]: ...
    def waiting_jobs(self, user: str | None = None) -> list[Job]: ...
    def list_jobs(self, start: datetime, end: datetime, states: Iterable[str] = (), *,
                  name: str | None = None, user: str | None = None) -> list[Job]: ...
    def get_node(self, name: str) -> Node: ...
    def list_nodes(self) -> list[Node]: ...
    def node_reasons(self) -> list[NodeReason]: ...
    def node_events(self, start: datetime, end: datetime, nodes: Iterable[str] = ()) -> list[NodeEvent]: ...
    def submit(self, script: str, args: Iterable[str] = (), workdir: str | None = None) -> str: ...
    def wait(self, job_id: str, timeout: float, poll: float = 0.5,
             on_poll: Callable[[Job | JobArray | None], None] | None = None) -> Job | JobArray: ...
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
             timeout: float | None = None, env: dict[str, str] | None = None) -> gateway.Result:
        if self.bin_dir:
            argv = [str(Path(self.bin_dir) / argv[0]), *argv[1:]]
        env = {**(env or {}), **({"SLURM_CONF": self.conf} if self.conf else {})}
        return gateway.run(argv, timeout=timeout or self.timeout, env=env, input=input, check=check,
                          conf_hint=self.conf)

    def _sacct(self, args: list[str]) -> list[Job]:
        out = self._run(["sacct", "-n", "-P", f"--delimiter={parse.SEP}",
                         "-o", ",".join(parse.SACCT_FIELDS), *args]).stdout
        return parse.sacct_jobs(out)

    # ------------------------------------------------------------ jobs
    def get_job(self, job_id: str) -> Job | JobArray:
        """A job or array task as a Job; an array's id as a JobArray of all its tasks.

        Asks accounting (sacct) and slurmctld (scontrol) and uses whichever answers; the view
        names a daemon that did not. InvalidJobId for text that is not a job id, JobNotFound for
        an unknown job or array task, JobSourcesUnavailable when neither daemon can decide.
        """
        try:
            base, task = parse.job_id(str(job_id))
        except parse.ParseError as exc:
            raise InvalidJobId(str(exc), hint="list your jobs with `squeue --me` or `sacct -X`") from None
        # ask for the whole array: pending tasks and "no such task" are only visible from there;
        # both daemons at once (each answer is a separate process): the lookup costs one round trip
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=2) as pool:
            accounting = pool.submit(self._accounting_answer, base)
            controller = pool.submit(self._controller_answer, base)
            answers = accounting.result(), controller.result()
        view = job_lookup.resolve(base, task, *answers, conf=self.conf)
        if isinstance(view, Job) and view.het_job_id and view.het_job_id != base:
            return self.get_job(view.het_job_id)       # a later component's own id (124 of 123+1): the whole job
        return self._with_request(view)

    def _with_request(self, view: Job | JobArray) -> Job | JobArray:
        """A batch job slurmctld has forgotten, with the output paths and GPUs per task that
        accounting kept of its submission (the same for every task of an array); a job whose path
        scontrol shows wrongly (a backslash: job_lookup.escaped), with the path as it was given."""
        jobs = view.tasks if isinstance(view, JobArray) else (view,)
        needing = [j for j in jobs if job_lookup.needs_request(j) or job_lookup.escaped(j)]
        if not needing:
            return view
        req = self.job_request(needing[0].job_id)        # one task's record: an array's id would print every task's

        def fill(job: Job) -> Job:
            return job_lookup.with_raw_paths(job_lookup.with_request(job, req), req)
        if isinstance(view, JobArray):
            return replace(view, tasks=tuple(fill(t) for t in view.tasks))
        return fill(view)

    def job_request(self, job_id: str) -> submission.Request:
        """What sbatch took for ``job_id``, from accounting: the command line, and the batch script
        and environment where AccountingStoreFlags keeps them. A part that cannot be read is left out
        of the request's ``read``; the three are asked at once."""
        from concurrent.futures import ThreadPoolExecutor

        def ask(args: list[str]) -> str | None:
            try:
                return self._run(["sacct", "-j", job_id, *args]).stdout
            except (SlurmUnavailable, SlurmCommandError):
                return None

        with ThreadPoolExecutor(max_workers=3) as pool:
            line, script, env = pool.map(ask, (["-X", "-n", "-P", "-o", "SubmitLine"], ["-B"], ["--env-vars"]))
        return submission.request(line, submission.stored(script) if script else None,
                                  submission.stored(env) if env else None)

    def remembered(self, job_ids: Iterable[str]) -> set[str] | None:
        """Which of ``job_ids`` slurmctld still holds (ended within MinJobAge, or not ended): one
        squeue; a heterogeneous job by its id. None when slurmctld cannot be asked."""
        ids = list(dict.fromkeys(job_ids))
        if not ids:
            return set()
        try:
            out = self._run(["squeue", "-h", "-t", "all", "-j", ",".join(ids), "-o", "%i"], check=False)
        except SlurmUnavailable:
            return None
        if out.returncode != 0:
            return None
        return {parse.het_base(line.strip()) for line in out.stdout.splitlines() if line.strip()}

    # squeue -t matches a state with a flag (a requeued job held) only by the flag's name
    WAITING_STATES = "PENDING,REQUEUE_HOLD,SPECIAL_EXIT,RESV_DEL_HOLD,SUSPENDED,STOPPED"

    def waiting_jobs(self, user: str | None = None) -> list[Job]:
        """The jobs that wait to start or to go on (pending, held, suspended, stopped), of ``user`` or
        of every user: one squeue. A pending array's waiting tasks are one job (123_[5-9])."""
        args = ["squeue", "-h", "-t", self.WAITING_STATES, "-o", parse.SQUEUE_WAITING_FORMAT]
        out = self._run([*args, *(["-u", user] if user else [])], env={"SLURM_BITSTR_LEN": "0"}).stdout
        try:
            return parse.squeue_waiting(out)
        except parse.ParseError as exc:
            raise SlurmCommandError(["squeue"], 0, str(exc),
                                    hint="a squeue this tool does not read: report it with `squeue --version`") from None

    REQUESTS_PER_CALL = 100

    def accounting_jobs(self, job_ids: Iterable[str]) -> list[Job]:
        """What accounting keeps of ``job_ids``, as get_job reads it for one (every run of a requeued
        job, whatever its time): one sacct per hundred jobs. Ids that are not a job's are skipped."""
        ids = [i for i in dict.fromkeys(job_ids) if _job_id(i)]
        out: list[Job] = []
        for at in range(0, len(ids), self.REQUESTS_PER_CALL):
            out += self._sacct(["-j", ",".join(ids[at:at + self.REQUESTS_PER_CALL]), "--duplicates"])
        return hetjob.collapse(out)

    def job_requests(self, job_ids: Iterable[str]) -> dict[str, submission.Request]:
        """``job_request`` for many jobs, by id: three sacct calls per hundred jobs rather than three per
        job (an agent's pass, a user's recent failures). A part sacct could not give is left out of
        each request's ``read``, as for one job."""
        from concurrent.futures import ThreadPoolExecutor

        ids = list(dict.fromkeys(job_ids))
        out: dict[str, submission.Request] = {i: submission.Request() for i in ids if not _job_id(i)}
        ids = [i for i in ids if i not in out]      # a range of tasks that never ran (12_[3-5]): nothing to ask
        for at in range(0, len(ids), self.REQUESTS_PER_CALL):
            chunk = ids[at:at + self.REQUESTS_PER_CALL]
            refused: list[str] = []

            def ask(args: list[str], listed=",".join(chunk)) -> str | None:
                try:
                    return self._run(["sacct", "-j", listed, *args]).stdout
                except SlurmUnavailable:            # slurmdbd down: no use asking again, job by job
                    refused.append("down")
                    return None
                except SlurmCommandError:
                    refused.append("refused")
                    return None

            with ThreadPoolExecutor(max_workers=3) as pool:
                lines, scripts, envs = pool.map(ask, (["-X", "-n", "-P", f"--delimiter={parse.SEP}", "-o",
                                                       "JobID,SubmitLine"], ["-B"], ["--env-vars"]))
            if "refused" in refused and "down" not in refused and len(chunk) > 1:   # one id spoilt the list
                for job_id in chunk:
                    out.update(self.job_requests([job_id]))
                continue
            lines_by = submission.submit_lines(lines) if lines is not None else None
            scripts_by = submission.stored_each(scripts) if scripts is not None else {}
            envs_by = submission.stored_each(envs) if envs is not None else {}
            for job_id in chunk:
                out[job_id] = submission.request(None if lines_by is None else lines_by.get(job_id, ""),
                                                 scripts_by.get(job_id), envs_by.get(job_id))
        return out

    def _accounting_answer(self, base: str) -> job_lookup.Answer:
        try:
            # --duplicates: a requeued job's earlier runs too (where they ran, how they ended)
            return job_lookup.Answer(jobs=tuple(self._sacct(["-j", base, "--duplicates"])))
        except SlurmUnavailable as exc:
            return job_lookup.Answer(unreachable=Unreachable(ACCOUNTING, "sacct", _last_line(exc)))

    def _controller_answer(self, base: str) -> job_lookup.Answer:
        try:
            result = self._run(["scontrol", "show", "job", "-o", base], check=False)
            if result.returncode != 0:
                said = result.stderr + result.stdout
                if any(m in said for m in _INVALID_JOB) or re.search(r"Job \S+ not found", said):
                    return job_lookup.Answer()
                gateway.raise_for(result, self.conf)
        except SlurmUnavailable as exc:
            return job_lookup.Answer(unreachable=Unreachable(CONTROLLER, "scontrol", _last_line(exc)))
        return job_lookup.Answer(jobs=tuple(parse.scontrol_job_views(result.stdout)))

    def list_jobs(self, start: datetime, end: datetime, states: Iterable[str] = (), *,
                  name: str | None = None, user: str | None = None) -> list[Job]:
        """Jobs that ended in [start, end] (with ``states``, only those states; with ``name`` and
        ``user``, only that job name of that user: a job's earlier runs)."""
        args = ["-u", user] if user else ["-a"]
        args += ["-S", _local(start), "-E", _local(end), "--duplicates"]     # a requeued job's earlier runs
        if name:
            args.append(f"--name={name}")
        states = [s.upper() for s in states]
        if states:
            args += ["-s", ",".join(states)]
        jobs = hetjob.collapse(self._sacct(args))
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
            gateway.raise_for(result, self.conf)
        nodes = parse.scontrol_nodes(result.stdout)
        if not nodes:
            raise NodeNotFound(f"node {name!r} not found", hint="`sdiag-agent nodes` lists the nodes Slurm knows")
        return nodes[0]

    def node_reasons(self) -> list[NodeReason]:
        out = self._run(["sinfo", "-h", "-N", "-R", "-o", parse.SINFO_REASON_FORMAT]).stdout
        return parse.sinfo_reasons(out)

    def node_events(self, start: datetime, end: datetime, nodes: Iterable[str] = ()) -> list[NodeEvent]:
        """Node events (down, drain, fail) that overlap [start, end], from Slurm's accounting: a node
        that died under a job is seen even after it came back."""
        args = ["sacctmgr", "-n", "-P", "show", "event", "Event=Node",
                f"Start={_local(start)}", f"End={_local(end)}",
                f"format={','.join(parse.SACCTMGR_EVENT_FIELDS)}"]
        nodes = [n for n in nodes if n]
        if nodes:
            args.insert(5, f"Nodes={','.join(nodes)}")
        return parse.sacctmgr_events(self._run(args).stdout)

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
             on_poll: Callable[[Job | JobArray | None], None] | None = None) -> Job | JobArray:
        """Poll until the job reaches a terminal state in accounting; TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        job: Job | JobArray | None = None
        while True:
            try:
                job = self.get_job(job_id)
            except JobNotFound:
                job = None
            if on_poll:
                on_poll(job)
            if job is not None and _settled(job):
                return job
            if time.monotonic() >= deadline:
                state = (job.summary if isinstance(job, JobArray) else job.state) if job else "not in accounting"
                raise TimeoutError(f"job {job_id} still {state} after {timeout:g} s")
            time.sleep(poll)

    def _job_control(self, verb: str, job_id: str) -> None:
        result = self._run(["scontrol", verb, str(job_id)], check=False)
        if result.returncode != 0:
            if any(m in result.stderr for m in _INVALID_JOB):
                raise JobNotFound(f"job {job_id} not found by slurmctld", hint="is it still queued or running?")
            gateway.raise_for(result, self.conf)

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
            gateway.raise_for(result, self.conf)

    def queue(self) -> list[dict[str, str]]:
        """Jobs slurmctld holds now (pending and running), as scontrol records."""
        return parse.scontrol_jobs(self._run(["scontrol", "show", "job", "-o"]).stdout)


def _local(when: datetime) -> str:
    """sacct and sacctmgr read times as the local zone's: an aware time in another zone is converted first."""
    return (when.astimezone() if when.tzinfo else when).strftime("%Y-%m-%dT%H:%M:%S")


def _settled(found: Job | JobArray) -> bool:
    """Finished, and every task in accounting (steps, memory) unless slurmdbd is down."""
    tasks = found.tasks if isinstance(found, JobArray) else (found,)
    return found.finished and (bool(found.unreachable) or all(ACCOUNTING in t.sources for t in tasks))


def _job_id(text: str) -> bool:
    try:
        parse.job_id(text)
    except parse.ParseError:
        return False
    return True


def _last_line(exc: SlurmUnavailable) -> str:
    """The daemon's own words: the last line of the command's stderr."""
    lines = exc.stderr.strip().splitlines()
    return lines[-1] if lines else exc.message


def default_client(cfg=None) -> SlurmClient:
    return CommandClient.from_config(cfg)


__all__ = ["SlurmClient", "CommandClient", "default_client", "SlurmCommandError"]
