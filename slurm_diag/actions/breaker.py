"""The circuit breaker (NVIDIA NVSentinel's model) over the one count of drains slurm-diag holds.

Held nodes are counted exactly as the blast-radius cap counts them (``health.cap.counts``: drains
whose reason starts with ``sdiag:``, plus hook-error drains), whoever made them: the prolog, the
HealthCheckProgram or an approved proposal. An approved drain is executed through ``cap.claim``
with the breaker's node limit, so a prolog and an approval racing for the last place cannot both
take it (the bakery protocol in cap.py).

A drain that would exceed the limit (N nodes, or P% of any partition the node is in) trips the
breaker: no proposal's drain is executed until an approver runs `actions breaker reset`. A prolog,
epilog or HealthCheckProgram that was stopped by the same limit trips it too, when its spooled
record reaches the store (store/ingest.py); the hooks themselves obey the live count, not the latch,
because they cannot read the database on the job's path. Its state
is a pair of events in the append-only audit log (store/latch.py): the latest decides, and
who tripped or reset it, when and why, is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from slurm_diag.actions.refusal import BREAKER, Refused
from slurm_diag.health.cap import held_nodes, limits, partition_allowed, partition_full, partition_sizes
from slurm_diag.slurm.errors import SlurmError
from slurm_diag.store.latch import reset, state, trip  # noqa: F401  (the latch's record, re-exported)


@dataclass(frozen=True)
class Limits:
    max_nodes: int
    max_partition_pct: float

    @classmethod
    def from_config(cls, cfg) -> "Limits":
        return cls(*limits(cfg))

    def describe(self) -> str:
        return f"at most {self.max_nodes} node(s) and {self.max_partition_pct:g}% of any partition"


def would_exceed(nodes, target: str, limits: Limits, pending=()) -> str | None:
    """Why draining ``target`` would exceed the limits, or None. ``pending``: nodes other approved
    drains are about to take (counted as held)."""
    held = (set(held_nodes(nodes)) | set(pending)) - {target}
    if len(held) + 1 > limits.max_nodes:
        return (f"draining {target} would make {len(held) + 1} node(s) held by slurm-diag "
                f"({', '.join(sorted(held)) or 'none'} already), limit {limits.max_nodes}")
    full = partition_full(nodes, target, held, limits.max_partition_pct)
    return f"draining {target}: {full}" if full else None


def enforce(store, client, limits: Limits, actor: str, target: str, pending=(), proposal_id: str | None = None) -> None:
    """Refuse a drain of ``target`` while the breaker is open; trip it (and refuse) when the drain
    would exceed the limits. At proposal, at approval and at execution alike."""
    now = state(store)
    if now["tripped"]:
        raise Refused(BREAKER, f"the circuit breaker is open since {now['at']} ({now['why']}): no drain until "
                               "an approver runs `sdiag-agent actions breaker reset`")
    why = would_exceed(client.list_nodes(), target, limits, pending)
    if why:
        trip(store, actor, why, proposal_id)
        raise Refused(BREAKER, f"{why}: the circuit breaker tripped, {target} was not drained",
                      hint="look at the held nodes (`sdiag-agent actions breaker`); an approver resets it")


def status(store, client, limits: Limits) -> dict:
    """The breaker's state and what slurm-diag holds now (``known`` False when Slurm did not answer)."""
    doc = {**state(store), "limits": {"max_nodes": limits.max_nodes,
                                      "max_partition_pct": limits.max_partition_pct},
           "known": True, "held": [], "partitions": [], "error": None}
    try:
        nodes = client.list_nodes()
    except SlurmError as exc:
        doc.update(known=False, error=exc.message)
        return doc
    held = held_nodes(nodes)
    doc["held"] = held
    for part, members in sorted(partition_sizes(nodes).items()):
        doc["partitions"].append({"name": part, "nodes": len(members), "held": len(set(held) & set(members)),
                                  "allowed": partition_allowed(len(members), limits.max_partition_pct)})
    return doc
