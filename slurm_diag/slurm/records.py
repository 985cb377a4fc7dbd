"""What the Slurm adapter returns: frozen dataclasses, never dicts of strings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

TERMINAL_STATES = frozenset({
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
    "BOOT_FAIL", "DEADLINE", "REVOKED",
})


@dataclass(frozen=True)
class JobStep:
    step_id: str              # "batch", "extern", "0", ...
    name: str
    state: str
    exit_code: int
    signal: int
    elapsed_s: int | None
    nodes: tuple[str, ...]
    max_rss_kb: int | None = None     # the largest task's peak memory
    mem_tot_kb: int | None = None     # every task's peak memory summed (TRESUsageInTot mem), as seff counts
    total_cpu_s: float | None = None  # user + system CPU time of the step
    polled_cpu_s: float | None = None  # the CPU time accounting polled (TRESUsageInTot cpu), kept if a kill lost rusage
    end: str | None = None             # when it ended, as sacct prints it (local time); None while it runs

    @property
    def kind(self) -> str:
        """"batch", "extern" or the step's number, also for a later het component's "+1.extern"."""
        return self.step_id.rsplit(".", 1)[-1]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["nodes"] = list(self.nodes)
        return d


@dataclass(frozen=True)
class EarlierRun:
    """A run of the job before Slurm requeued it (a node failure, a preemption, ``scontrol requeue``),
    as accounting keeps it (``sacct --duplicates``): where it ran and how it ended."""

    state: str                # REQUEUED, NODE_FAIL, PREEMPTED, ...
    state_detail: str
    start: str | None
    end: str | None
    nodes: tuple[str, ...]
    exit_code: int
    signal: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["nodes"] = list(self.nodes)
        return d


@dataclass(frozen=True)
class HetComponent:
    """One component of a heterogeneous job (123+1): what it was given and how it ended."""

    job_id: str               # "123+1"
    job_id_raw: str           # its own id in Slurm (124): what its prolog and epilog know it by
    state: str
    nodes: tuple[str, ...]
    mem_alloc_kb: int | None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["nodes"] = list(self.nodes)
        return d


ACCOUNTING, CONTROLLER = "slurmdbd", "slurmctld"   # the two daemons a job view comes from
OK_STATE = "COMPLETED"


@dataclass(frozen=True)
class Unreachable:
    """A daemon that did not answer while a job was looked up, and what its command said."""

    daemon: str               # "slurmdbd" (asked through sacct) or "slurmctld" (through scontrol)
    command: str
    error: str

    @property
    def loses(self) -> str:
        """What a view without this daemon lacks."""
        if self.daemon == ACCOUNTING:
            return "steps, memory use and jobs slurmctld has already forgotten"
        return "stdout/stderr paths and the live state of pending and running jobs"


@dataclass(frozen=True)
class Job:
    job_id: str               # as users write it: "123" or "123_4" for an array task
    job_id_raw: str           # Slurm's internal id
    name: str
    user: str
    partition: str
    state: str                # base state: FAILED, CANCELLED, ...
    state_detail: str         # as Slurm printed it, e.g. "CANCELLED by 0"
    exit_code: int
    signal: int
    elapsed_s: int | None
    time_limit_s: int | None  # None = unlimited
    nodes: tuple[str, ...]
    node_list: str
    alloc_tres: tuple[tuple[str, str], ...] = ()
    submit: str | None = None
    start: str | None = None
    end: str | None = None
    work_dir: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    reason: str | None = None
    max_rss_kb: int | None = None
    array_job_id: str | None = None
    array_task_id: str | None = None
    steps: tuple[JobStep, ...] = field(default_factory=tuple)
    sources: tuple[str, ...] = ()             # daemons this view came from (ACCOUNTING, CONTROLLER)
    unreachable: tuple[Unreachable, ...] = ()  # daemons that did not answer
    alloc_cpus: int | None = None
    total_cpu_s: float | None = None          # CPU time of every step together
    polled_cpu_s: float | None = None         # the same as accounting polled it, every step together
    mem_used_kb: int | None = None            # seff's "memory utilized": the largest step's summed task peaks
    earlier_runs: tuple[EarlierRun, ...] = ()  # runs before Slurm requeued the job, oldest first
    restarts: int | None = None               # how often slurmctld restarted it (while it remembers the job)
    gpus_per_task: int | None = None          # --gpus-per-task: each task sees only its own (slurmctld's TresPerTask)
    # once slurmctld has forgotten a batch job: what its request was read from in accounting
    # (submission.SUBMIT_LINE, SCRIPT, ENVIRONMENT), which of them named the output path, and
    # whether gpus_per_task is known to be none
    request_read: tuple[str, ...] = ()
    output_from: str | None = None
    gpus_per_task_known: bool = False
    script_file: str | None = None            # the script's file where accounting kept no copy (as it is now)
    # a heterogeneous job (sbatch's "hetjob" separator): the leader's id on each component ("123" on
    # 123+0 and 123+1); on the whole job, its components (slurm.hetjob)
    het_job_id: str | None = None
    het_components: tuple[HetComponent, ...] = ()
    account: str | None = None                # as slurmctld holds it (a pending job's limits are its account's)
    qos: str | None = None
    expected_start: str | None = None         # a pending job: when slurmctld's scheduler expects to start it

    @property
    def mem_alloc_kb(self) -> int | None:
        """Memory Slurm gave the job (AllocTRES mem), in kilobytes."""
        from slurm_diag.slurm.parse import size_kb

        value = dict(self.alloc_tres).get("mem")
        return size_kb(value) if value else None

    @property
    def cpu_efficiency(self) -> float | None:
        """CPU time used over core-walltime (seff's CPU Efficiency), 0..1."""
        if self.total_cpu_s is None or not self.alloc_cpus or not self.elapsed_s:
            return None
        return self.total_cpu_s / (self.alloc_cpus * self.elapsed_s)

    @property
    def mem_efficiency(self) -> float | None:
        """Memory used over memory allocated (seff's Memory Efficiency), 0..1 (above 1: over the limit)."""
        alloc = self.mem_alloc_kb
        if self.mem_used_kb is None or not alloc:
            return None
        return self.mem_used_kb / alloc

    @property
    def gpus(self) -> int:
        """GPUs Slurm gave the job: AllocTRES's gres/gpu, or its typed counts (gres/gpu:a100) where a
        site accounts only those."""
        tres = dict(self.alloc_tres)
        if "gres/gpu" in tres:
            return int(tres["gres/gpu"] or 0)
        return sum(int(v or 0) for k, v in tres.items() if k.startswith("gres/gpu:") and v.isdigit())

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def failed(self) -> bool:
        """Ended in any state but COMPLETED (FAILED, TIMEOUT, CANCELLED, OUT_OF_MEMORY, ...)."""
        return self.finished and self.state != OK_STATE

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kind"] = "job"
        d["nodes"] = list(self.nodes)
        d["alloc_tres"] = dict(self.alloc_tres)
        d["gpus"] = self.gpus
        d["steps"] = [s.to_dict() for s in self.steps]
        d["earlier_runs"] = [r.to_dict() for r in self.earlier_runs]
        d["sources"] = list(self.sources)
        d["request_read"] = list(self.request_read)
        d["het_components"] = [c.to_dict() for c in self.het_components]
        d["unreachable"] = [asdict(u) for u in self.unreachable]
        d.update(mem_alloc_kb=self.mem_alloc_kb, cpu_efficiency=_rounded(self.cpu_efficiency),
                 mem_efficiency=_rounded(self.mem_efficiency))
        return d


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _task_order(job: Job) -> tuple:
    """Failed tasks first, then running and pending ones, then completed; by task number within."""
    rank = 0 if job.failed else 2 if job.state == OK_STATE else 1
    task = job.array_task_id or ""
    return rank, (0, int(task)) if task.isdigit() else (1, 0), task


@dataclass(frozen=True)
class JobArray:
    """A job array as its tasks (each a Job, pending ones included), failed tasks first."""

    array_job_id: str
    tasks: tuple[Job, ...]
    sources: tuple[str, ...] = ()
    unreachable: tuple[Unreachable, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "tasks", tuple(sorted(self.tasks, key=_task_order)))

    @property
    def job_id(self) -> str:
        return self.array_job_id

    @property
    def name(self) -> str:
        return self.tasks[0].name if self.tasks else ""

    @property
    def user(self) -> str:
        return self.tasks[0].user if self.tasks else ""

    @property
    def counts(self) -> dict[str, int]:
        """Tasks per state, the most frequent first."""
        counts: dict[str, int] = {}
        for task in self.tasks:
            counts[task.state] = counts.get(task.state, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def failed(self) -> tuple[Job, ...]:
        return tuple(t for t in self.tasks if t.failed)

    @property
    def summary(self) -> str:
        """``"3 tasks: 1 FAILED, 2 COMPLETED"``."""
        return f"{len(self.tasks)} tasks: " + ", ".join(f"{n} {state}" for state, n in self.counts.items())

    @property
    def finished(self) -> bool:
        return all(t.finished for t in self.tasks)

    def to_dict(self) -> dict:
        return {
            "kind": "array", "array_job_id": self.array_job_id, "name": self.name, "user": self.user,
            "summary": {"tasks": len(self.tasks), "states": self.counts, "finished": self.finished,
                        "failed": [t.job_id for t in self.failed]},
            "tasks": [t.to_dict() for t in self.tasks],
            "sources": list(self.sources), "unreachable": [asdict(u) for u in self.unreachable],
        }


@dataclass(frozen=True)
class Node:
    name: str
    state: str                       # base state: IDLE, MIXED, ALLOCATED, DOWN, ...
    flags: tuple[str, ...]           # DRAIN, NOT_RESPONDING, COMPLETING, ...
    reason: str | None
    reason_user: str | None
    reason_time: str | None
    gres: str
    gpus: int
    gpus_used: int
    partitions: tuple[str, ...]
    cpus: int
    cpus_alloc: int
    real_memory_mb: int
    address: str

    @property
    def drained(self) -> bool:
        return "DRAIN" in self.flags or self.state in {"DRAINED", "DRAINING"}

    @property
    def responding(self) -> bool:
        return "NOT_RESPONDING" not in self.flags and self.state != "DOWN"

    @property
    def runs_jobs(self) -> bool:
        """Slurm would start a job here now: not drained, not down, answering."""
        return not self.drained and self.responding

    def to_dict(self) -> dict:
        d = asdict(self)
        d["flags"] = list(self.flags)
        d["partitions"] = list(self.partitions)
        return d


@dataclass(frozen=True)
class NodeReason:
    """One line of ``sinfo -R``."""

    node: str
    reason: str
    user: str
    time: str
    state: str


@dataclass(frozen=True)
class NodeEvent:
    """One row of Slurm's node event history (``sacctmgr show event``): a node down, drained or
    failing from ``start`` until ``end`` (None while it lasts), with the reason and who set it."""

    node: str
    start: str                # ISO 8601, the controller's local time
    end: str | None
    state: str                # DOWN, DOWN*, DRAIN, DRAIN*, FAIL, ... ('*': not responding)
    reason: str
    user: str

    def to_dict(self) -> dict:
        return asdict(self)
