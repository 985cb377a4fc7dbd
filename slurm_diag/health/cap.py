"""The blast-radius cap: may slurm-diag hold one more node drained?

``claim(client, node, reason, cap)`` answers for one node and, when the answer is yes, the node is
already drained with ``reason`` when it returns. Every drain slurm-diag makes goes through it (the
prolog, the epilog, the HealthCheckProgram and approved proposals), so there is one cap, read by
``limits(cfg)`` for every path: at most ``actions.breaker.max_nodes`` nodes (0: the default,
``health.policy.max_drained_nodes``) and at most ``actions.breaker.max_partition_pct`` percent of
any partition the node is in (never less than one node of it: a bad node in a one-node partition
can still be kept from jobs).

Nodes are different hosts, so no local lock can coordinate them; slurmctld can, because it
applies updates one at a time and ``scontrol show node`` returns one consistent snapshot. Each
node's drain reason is a register that only that node's claimant writes and everyone reads:

* counted against the cap: drained nodes whose reason starts with ``sdiag:`` or is Slurm's own
  "Prolog error"/"Epilog error" (slurmctld writes those when our hook exits non-zero, before the
  drainer restores our reason; a failure of another site hook is counted too: the safe side).
  Any other drain belongs to someone else: never counted, never touched.
* a claim's reason is the readable reason plus a suffix: ``sdiag: clocks: gpu3 SM clock 200 MHz,
  ... [claiming]`` while choosing, then ``... [claim 7]``. Drains without a number (older ones,
  hook errors, a claimant that died while choosing) rank first, as number 0.

The protocol is Lamport's bakery with ``cap`` places and no queue:

1. list the nodes; if the counted others (not in a doorway) already reach ``cap``, stop (nothing
   written: a shortcut, steps 2-4 alone are safe).
2. doorway: drain with ``[claiming]``; list; drain with ``[claim N]``, N = 1 + the largest number seen.
3. list until no other node shows a fresh ``[claiming]`` (bounded by ``deadline_s``).
4. hold iff fewer than ``cap`` counted others rank before (N, node name), and, in each partition
   the node is in, fewer than that partition's allowance; else withdraw.

Withdrawing resumes the node only if its reason is still exactly ours (re-read first). Any Slurm
error or the deadline passing means the count is unknown: withdraw, do not drain, say so.

Race analysis. Suppose cap + 1 claimants hold; let L be the last of them in (N, name) order and
S the snapshot of L's step 3. For every other holder O: if S showed O with its number, L counted
O before it; if S showed O as a number-0 drain (hook error, stale claiming), L counted it too; S
did not show O choosing (L waited for that); otherwise O's doorway began after S, so O's step-2 list
saw L's number and N_O > N_L, contradicting O before L. So L saw cap others before it and withdrew.
The same argument, read over the holders in one partition (every claimant sees the same
membership in the node list), bounds each partition by its allowance.
Why not "drain with a time key, list, keep the first cap": with cap 1, A takes key 100 and stalls,
B takes 200, drains, lists only itself and holds; A then drains, lists, ranks itself first and holds
too. Keys taken before the write do not follow the order the writes land; the doorway fixes that.
A claimant that cannot see the answer fails safe (fewer drains, never more). A ``[claiming]``
older than ``STALE_CHOOSING_S`` by slurmctld's own clock (the hooks are killed after 30 s) is a
dead claimant's drain: counted, not waited for.

Windows Slurm cannot close (it has no compare-and-set): an admin's drain landing between our read
and our write (step 1 to 2, or the re-read and resume of a withdrawal) is overwritten, within one
scontrol round trip. Calls happen only on the drain path, each under the client's timeout, and the
claim's deadline is checked between its steps (past it: withdraw, fail safe).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from datetime import datetime

from slurm_diag.health.policy import MAX_REASON, is_sdiag_reason
from slurm_diag.slurm.errors import NodeNotFound, SlurmError

HOOK_REASONS = ("Prolog error", "Epilog error")
CLAIMING = "[claiming]"
_SUFFIX = re.compile(r"\s\[(claiming|claim (\d+))\]$")
DEADLINE_S = 5.0          # the whole claim, on the prolog's drain path
CALL_TIMEOUT_S = 2.0      # each scontrol call the hooks make for a claim
POLL_S = 0.2
STALE_CHOOSING_S = 60.0


def limits(cfg) -> tuple[int, float]:
    """(nodes, percent of any partition): the one limit on the drains slurm-diag holds."""
    nodes = int(cfg.get("actions.breaker.max_nodes")) or int(cfg.get("health.policy.max_drained_nodes"))
    return nodes, float(cfg.get("actions.breaker.max_partition_pct"))


def partition_sizes(nodes) -> dict[str, list[str]]:
    members: dict[str, list[str]] = {}
    for n in nodes:
        for part in n.partitions:
            members.setdefault(part, []).append(n.name)
    return members


def partition_allowed(size: int, pct: float) -> int:
    """Nodes of a partition of ``size`` slurm-diag may hold: ``pct`` percent, at least one."""
    return max(1, math.floor(size * pct / 100 + 1e-9))


def partition_full(nodes, node: str, holders, pct: float) -> str | None:
    """Why one more held node in ``node``'s partitions would pass ``pct``, or None (pure)."""
    me = next((n for n in nodes if n.name == node), None)
    if me is None or pct >= 100:
        return None
    for part, members in sorted(partition_sizes(nodes).items()):
        if part not in me.partitions:
            continue
        here = sorted(set(holders) & set(members) - {node})
        allowed = partition_allowed(len(members), pct)
        if len(here) >= allowed:
            return (f"partition {part} already has {len(here)} of its {len(members)} node(s) held by slurm-diag "
                    f"({', '.join(here)}), limit {pct:g}% = {allowed} (actions.breaker.max_partition_pct)")
    return None


@dataclass(frozen=True)
class Claim:
    """The answer: ``held`` means the node is drained by slurm-diag under the cap."""

    held: bool
    note: str
    reason: str | None = None                     # the reason Slurm holds when held
    known: bool = True                            # False: Slurm could not tell, nothing drained
    holders: tuple[str, ...] = field(default=())  # counted nodes ranked before this one

    @property
    def capped(self) -> bool:
        """Not drained because the limit was reached (known, with holders): what trips the breaker."""
        return not self.held and self.known and bool(self.holders)


def counts(node) -> bool:
    """Does this node count against the cap (slurm-diag's drain, or a hook-error drain)?"""
    reason = (node.reason or "").strip()
    return node.drained and (is_sdiag_reason(reason) or reason in HOOK_REASONS)


def held_nodes(nodes) -> list[str]:
    """Names of the nodes counted against the cap, from one listing."""
    return sorted(n.name for n in nodes if counts(n))


def with_claim(reason: str, number: int | None) -> str:
    """The readable reason with its claim suffix, within Slurm's reason length."""
    tag = CLAIMING if number is None else f"[claim {number}]"
    return f"{human(reason)[:MAX_REASON - len(tag) - 1].rstrip()} {tag}"


def human(reason: str | None) -> str:
    """The reason without its claim suffix."""
    return _SUFFIX.sub("", (reason or "").strip())


def claim_number(reason: str | None) -> int | None:
    match = _SUFFIX.search((reason or "").strip())
    return int(match.group(2)) if match and match.group(2) else None


def _choosing(reason: str | None) -> bool:
    return (reason or "").strip().endswith(CLAIMING)


def _seconds(stamp: str | None) -> float | None:
    try:
        return datetime.fromisoformat(stamp).timestamp() if stamp else None
    except ValueError:
        return None


def _fresh_choosing(node, now_stamp: str | None) -> bool:
    """Still inside its doorway: ``[claiming]`` written less than STALE_CHOOSING_S ago (controller clock)."""
    if not (counts(node) and _choosing(node.reason)):
        return False
    then, now = _seconds(node.reason_time), _seconds(now_stamp)
    return then is None or now is None or now - then < STALE_CHOOSING_S


def _rank_key(node) -> tuple[int, str]:
    return (claim_number(node.reason) or 0, node.name)


def _find(nodes, name: str):
    for n in nodes:
        if n.name == name:
            return n
    raise NodeNotFound(f"node {name!r} is not in Slurm's node list",
                       hint="is SLURMD_NODENAME the name slurm.conf gives this node?")


def _cap_reached(node: str, holders: list[str], cap: int) -> str:
    return (f"not drained: cap reached, {len(holders)} node(s) held or claimed by slurm-diag rank before "
            f"{node} ({', '.join(holders)}) and the limit is {cap} node(s); the job runs. "
            f"Next: look at {node} by hand, or resume one of those nodes, or raise the cap")


def _partition_reached(node: str, why: str) -> str:
    return (f"not drained: cap reached, {why}; the job runs. Next: look at {node} by hand, or resume one "
            "of those nodes, or raise the limit")


def claim(client, node: str, reason: str, cap: int, *, partition_pct: float = 100.0,
          deadline_s: float = DEADLINE_S, poll_s: float = POLL_S, clock=time.monotonic,
          sleep=time.sleep) -> Claim:
    """Drain ``node`` with ``reason`` if slurm-diag may hold one more node drained (see above)."""
    if cap <= 0:
        return Claim(False, "not drained: health.policy.max_drained_nodes = 0 (slurm-diag may drain nothing)")
    deadline = clock() + deadline_s
    written: tuple[str, ...] = ()        # every reason we may have put on the node
    try:
        nodes = client.list_nodes()
        me = _find(nodes, node)
        if me.drained and not _choosing(me.reason):
            if is_sdiag_reason(me.reason):
                return Claim(True, f"already drained by slurm-diag ({me.reason!r})", reason=me.reason)
            return Claim(False, f"not drained again: {node} is already drained ({me.reason!r}) by someone "
                                "else or by Slurm after a hook error: left alone")
        if clock() >= deadline:
            return Claim(False, f"not drained (fail safe): Slurm took longer than {deadline_s:g} s to list the "
                                "nodes, so the count is unknown; nothing was written", known=False)
        others = sorted(n.name for n in nodes if n.name != node and counts(n) and not _choosing(n.reason))
        if len(others) >= cap:
            return Claim(False, _cap_reached(node, others, cap), holders=tuple(others))
        if full := partition_full(nodes, node, others, partition_pct):
            return Claim(False, _partition_reached(node, full), holders=tuple(others))
        written = (with_claim(reason, None),)
        client.drain_node(node, written[0])
        top = max((claim_number(n.reason) or 0 for n in client.list_nodes() if n.name != node and counts(n)),
                  default=0)
        if clock() >= deadline:
            note = withdraw(client, node, written)
            return Claim(False, f"not drained (fail safe): Slurm answered too slowly to finish the claim within "
                                f"{deadline_s:g} s; {note}", known=False)
        mine = with_claim(reason, top + 1)
        written += (mine,)
        client.drain_node(node, mine)
        while True:
            nodes = client.list_nodes()
            me = _find(nodes, node)
            if (me.reason or "").strip() != mine:
                return Claim(False, f"not drained by slurm-diag: {node}'s reason changed to {me.reason!r} "
                                    "while claiming (someone else acted): left alone")
            choosing = [n.name for n in nodes if n.name != node and _fresh_choosing(n, me.reason_time)]
            if not choosing:
                break
            if clock() >= deadline:
                note = withdraw(client, node, written)
                return Claim(False, f"not drained (fail safe): {', '.join(choosing)} still choosing after "
                                    f"{deadline_s:g} s, so the count is unknown; {note}", known=False)
            sleep(poll_s)
        key = _rank_key(me)
        before = sorted(n.name for n in nodes if n.name != node and counts(n) and _rank_key(n) < key)
        if len(before) >= cap:
            undone = withdraw(client, node, written)
            return Claim(False, f"{_cap_reached(node, before, cap)} ({undone})", holders=tuple(before))
        if full := partition_full(nodes, node, before, partition_pct):
            undone = withdraw(client, node, written)
            return Claim(False, f"{_partition_reached(node, full)} ({undone})", holders=tuple(before))
        return Claim(True, f"drained: slurm-diag holds {len(before) + 1} of at most {cap} node(s)",
                     reason=mine, holders=tuple(before))
    except SlurmError as exc:
        note = withdraw(client, node, written) if written else "nothing was written"
        return Claim(False, f"not drained (fail safe): could not count the nodes slurm-diag holds drained: "
                            f"{exc.message}; {note}. Next: check slurmctld, then look at {node} by hand",
                     known=False)


def withdraw(client, node: str, ours) -> str:
    """Resume ``node`` only if its reason is still exactly one of ``ours``; says what happened."""
    outcome, note = resume_if_reason(client, node, ours)
    if outcome == "resumed":
        return "claim withdrawn"
    if outcome == "not drained":
        return "nothing to withdraw (the node is not drained)"
    return f"claim not withdrawn: {note}"


def resume_if_reason(client, node: str, expected) -> tuple[str, str]:
    """Resume ``node`` if it is still drained with exactly ``expected`` (a reason, or a tuple of
    reasons that are all ours), read just before.

    Returns (outcome, note), outcome one of "resumed", "not drained", "reason changed", "failed".
    Slurm has no compare-and-set: a drain landing in the one round trip between this read and the
    resume is still lost; one landing any time before is kept."""
    wanted = {(r or "").strip() for r in ((expected,) if expected is None or isinstance(expected, str) else expected)}
    try:
        now = client.get_node(node)
        if not now.drained:
            return "not drained", f"{node} is no longer drained (someone resumed it)"
        if (now.reason or "").strip() not in wanted:
            return "reason changed", (f"{node}'s reason changed from {expected!r} to {now.reason!r} since "
                                      "it was read: someone else's drain, left alone")
        client.resume_node(node)
    except SlurmError as exc:
        return "failed", (f"resume of {node} failed: {exc.message}; it stays drained with {expected!r} "
                          f"and counts against the cap. Next: `scontrol update NodeName={node} State=RESUME` "
                          "once the node is fine")
    return "resumed", "resumed"
