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
    max_rss_kb: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["nodes"] = list(self.nodes)
        return d


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

    @property
    def gpus(self) -> int:
        tres = dict(self.alloc_tres)
        return int(tres.get("gres/gpu", "0") or 0)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    def to_dict(self) -> dict:
        d = asdict(self)
        d["nodes"] = list(self.nodes)
        d["alloc_tres"] = dict(self.alloc_tres)
        d["gpus"] = self.gpus
        d["steps"] = [s.to_dict() for s in self.steps]
        return d


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
