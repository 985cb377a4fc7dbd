"""An in-memory Slurm for unit tests of decisions: nodes with state, flags and reason; drain,
resume and list; a minimal job table. It implements ``SlurmClient`` (client.py) and answers the
way ``CommandClient`` does (same models, same typed errors), so code tested against it runs
unchanged against the real cluster, where its behaviour is tested too.

Tests can make it unreachable (``unreachable = True``: every call raises SlurmUnavailable) or change
the world between two calls (``before_call``: a function given the method name and the client,
called under no lock before each call), e.g. an admin's drain landing between a read and a resume.
Thread-safe: concurrent claimants share one instance.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime, timezone
from typing import Callable, Iterable

from slurm_diag.slurm import submission
from slurm_diag.slurm.errors import JobNotFound, NodeNotFound, SlurmUnavailable
from slurm_diag.slurm.records import CONTROLLER, Job, JobArray, Node, NodeEvent, NodeReason


def make_node(name: str, state: str = "IDLE", flags: Iterable[str] = (), reason: str | None = None,
              reason_time: str | None = None, reason_user: str | None = None, gpus: int = 8) -> Node:
    """A node record as ``scontrol show node -o`` would parse to."""
    return Node(name=name, state=state, flags=tuple(flags), reason=reason, reason_user=reason_user,
                reason_time=reason_time, gres=f"gpu:{gpus}" if gpus else "", gpus=gpus, gpus_used=0,
                partitions=("debug",), cpus=2, cpus_alloc=0, real_memory_mb=1000, address="127.0.0.1")


def _stamp(now: float) -> str:
    return datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


class FakeSlurmClient:
    """SlurmClient over a dict of nodes and a dict of jobs."""

    def __init__(self, nodes: Iterable[str | Node] = (), *, clock: Callable[[], float] = time.time,
                 user: str = "root"):
        self._lock = threading.RLock()
        self.nodes: dict[str, Node] = {}
        self.jobs: dict[str, Job] = {}
        self.clock = clock
        self.user = user
        self.unreachable = False
        self.before_call: Callable[[str, "FakeSlurmClient"], None] | None = None
        self.calls: list[tuple[str, tuple]] = []
        self.events: list[NodeEvent] = []        # Slurm's node event history, as sacctmgr shows it
        self._next_job = 1
        self.submitted: dict[str, tuple[str, tuple, str | None]] = {}     # job id -> (script, sbatch args, workdir)
        self.requests: dict[str, submission.Request] = {}      # job id -> what accounting kept of its submission
        for node in nodes:
            self.add_node(node if isinstance(node, Node) else make_node(node))

    # ------------------------------------------------------------ test controls
    def add_node(self, node: Node) -> None:
        with self._lock:
            self.nodes[node.name] = node

    def set_reason(self, name: str, reason: str | None, *, drained: bool = True, user: str = "admin") -> None:
        """What another actor (an admin, slurmctld) does to a node, not recorded as our call."""
        with self._lock:
            self.nodes[name] = self._with_drain(self._node(name), drained, reason, user)

    def drained(self) -> dict[str, str | None]:
        """Drained node -> reason, as ``sinfo -R`` would show it."""
        with self._lock:
            return {n.name: n.reason for n in self.nodes.values() if n.drained}

    # ------------------------------------------------------------ plumbing
    def _call(self, method: str, *args) -> None:
        hook = self.before_call
        if hook is not None:
            hook(method, self)
        with self._lock:
            self.calls.append((method, args))
        if self.unreachable:
            raise SlurmUnavailable(["scontrol", method, *map(str, args)], 1,
                                   "slurm_load_node error: Unable to contact slurm controller (connect failure)",
                                   hint="the fake Slurm was made unreachable by the test")

    def _node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise NodeNotFound(f"node {name!r} not found",
                               hint="`sdiag-agent nodes` lists the nodes Slurm knows") from None

    def _with_drain(self, node: Node, drained: bool, reason: str | None, user: str) -> Node:
        flags = tuple(f for f in node.flags if f != "DRAIN") + (("DRAIN",) if drained else ())
        if drained:
            return dataclasses.replace(node, flags=flags, reason=reason, reason_user=user,
                                       reason_time=_stamp(self.clock()))
        return dataclasses.replace(node, flags=flags, reason=None, reason_user=None, reason_time=None)

    # ------------------------------------------------------------ nodes
    def list_nodes(self) -> list[Node]:
        self._call("list_nodes")
        with self._lock:
            return [self.nodes[name] for name in sorted(self.nodes)]

    def get_node(self, name: str) -> Node:
        self._call("get_node", name)
        with self._lock:
            return self._node(name)

    def node_reasons(self) -> list[NodeReason]:
        self._call("node_reasons")
        with self._lock:
            return [NodeReason(node=n.name, reason=n.reason or "", user=n.reason_user or "",
                               time=n.reason_time or "", state=n.state.lower())
                    for n in self.nodes.values() if n.drained]

    def drain_node(self, name: str, reason: str) -> None:
        if not reason.strip():
            raise ValueError("a drain needs a reason")
        self._call("drain_node", name, reason)
        with self._lock:
            self.nodes[name] = self._with_drain(self._node(name), True, reason, self.user)
            self._close_event(name)
            self.events.append(NodeEvent(name, _stamp(self.clock()), None, "DRAIN", reason, self.user))

    def resume_node(self, name: str) -> None:
        self._call("resume_node", name)
        with self._lock:
            self.nodes[name] = self._with_drain(self._node(name), False, None, self.user)
            self._close_event(name)

    def _close_event(self, name: str) -> None:
        for i, ev in enumerate(self.events):
            if ev.node == name and ev.end is None:
                self.events[i] = dataclasses.replace(ev, end=_stamp(self.clock()))

    def node_events(self, start: datetime, end: datetime, nodes: Iterable[str] = ()) -> list[NodeEvent]:
        self._call("node_events")
        wanted = set(nodes)
        lo, hi = _stamp(start.timestamp()), _stamp(end.timestamp())
        with self._lock:
            return [ev for ev in self.events if (not wanted or ev.node in wanted)
                    and ev.start <= hi and (ev.end is None or ev.end >= lo)]

    # ------------------------------------------------------------ jobs (minimal)
    def submit(self, script: str, args: Iterable[str] = (), workdir: str | None = None) -> str:
        self._call("submit", script)
        with self._lock:
            job_id = str(self._next_job)
            self._next_job += 1
            self.submitted[job_id] = (script, tuple(args), workdir)
            self.jobs[job_id] = Job(job_id=job_id, job_id_raw=job_id, name="fake", user=self.user,
                                    partition="debug", state="PENDING", state_detail="PENDING",
                                    exit_code=0, signal=0, elapsed_s=None, time_limit_s=None,
                                    nodes=(), node_list="None assigned", work_dir=workdir)
            return job_id

    def job_request(self, job_id: str) -> submission.Request:
        """As the real client: a daemon that does not answer leaves the request with nothing read."""
        with self._lock:
            self.calls.append(("job_request", (job_id,)))
            return submission.Request() if self.unreachable else self.requests.get(job_id, submission.Request())

    def job_requests(self, job_ids: Iterable[str]) -> dict[str, submission.Request]:
        ids = list(job_ids)
        with self._lock:
            self.calls.append(("job_requests", tuple(ids)))
            return {i: submission.Request() if self.unreachable else self.requests.get(i, submission.Request())
                    for i in ids}

    def _tasks(self) -> list[Job]:
        """Every job, an array kept under its id as its tasks (as sacct and squeue list them); under the lock."""
        return [t for j in self.jobs.values() for t in (j.tasks if isinstance(j, JobArray) else (j,))]

    def waiting_jobs(self, user: str | None = None) -> list[Job]:
        self._call("waiting_jobs", *([user] if user else []))
        with self._lock:
            jobs = self._tasks()
            return [j for j in jobs if not j.finished and j.state not in ("RUNNING", "COMPLETING")
                    and (user is None or j.user == user)]

    def accounting_jobs(self, job_ids: Iterable[str]) -> list[Job]:
        job_ids = list(job_ids)
        self._call("accounting_jobs", *job_ids)
        with self._lock:
            jobs = {t.job_id: t for t in self._tasks()}
            return [jobs[i] for i in job_ids if i in jobs]

    def remembered(self, job_ids: Iterable[str]) -> set[str] | None:
        """The fake's jobs that a view from slurmctld stands for (CONTROLLER among their sources), or
        whose sources nobody set."""
        job_ids = list(job_ids)
        with self._lock:
            self.calls.append(("remembered", tuple(job_ids)))
            if self.unreachable:
                return None
            return {i for i in job_ids if i in self.jobs and (CONTROLLER in self.jobs[i].sources
                                                               or not self.jobs[i].sources)}

    def get_job(self, job_id: str) -> Job | JobArray:
        self._call("get_job", job_id)
        with self._lock:
            try:
                return self.jobs[str(job_id)]
            except KeyError:
                raise JobNotFound(f"job {job_id} not found in the fake Slurm") from None

    def list_jobs(self, start: datetime, end: datetime, states: Iterable[str] = (), *,
                  name: str | None = None, user: str | None = None) -> list[Job]:
        self._call("list_jobs")
        wanted = {s.upper() for s in states}
        with self._lock:                 # an array kept under its id is listed as its tasks, as sacct lists them
            jobs = self._tasks()
            return [j for j in jobs if j.finished and (not wanted or j.state in wanted)
                    and (name is None or j.name == name) and (user is None or j.user == user)]

    def set_job_state(self, job_id: str, state: str, exit_code: int = 0) -> None:
        with self._lock:
            if str(job_id) not in self.jobs:
                raise JobNotFound(f"job {job_id} not found in the fake Slurm")
            job = self.jobs[str(job_id)]
            self.jobs[job.job_id] = dataclasses.replace(job, state=state, state_detail=state, exit_code=exit_code)

    def wait(self, job_id: str, timeout: float, poll: float = 0.5, on_poll=None) -> Job:
        job = self.get_job(job_id)
        if on_poll:
            on_poll(job)
        if not job.finished:
            raise TimeoutError(f"job {job_id} still {job.state} (the fake Slurm runs nothing)")
        return job

    def _job_state(self, job_id: str, state: str) -> None:
        self._call(state.lower(), job_id)
        self.set_job_state(job_id, state)

    def requeue(self, job_id: str) -> None:
        self._job_state(job_id, "PENDING")

    def hold(self, job_id: str) -> None:
        self._job_state(job_id, "PENDING")

    def release(self, job_id: str) -> None:
        self._job_state(job_id, "PENDING")

    def cancel(self, job_id: str) -> None:
        self._job_state(job_id, "CANCELLED")
