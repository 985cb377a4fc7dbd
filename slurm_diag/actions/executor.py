"""Execute an approved proposal through the Slurm adapter, verify it, and recover one a crash left
in ``executing``.

    approved --(this process: pid, host)--> executing --(verified in Slurm)--> done | failed

Every rule is checked again here, against what Slurm says now. Idempotent: a node already drained
with this proposal's reason is not drained again, so approving twice drains once, and a re-run
after a crash continues from what Slurm shows (``cap.claim`` redoes a doorway a dead claimant
left half-written). A proposal whose executor is gone (its pid no longer runs on this host, or
``actions.stale_executing_s`` passed) is recovered by the next approver's command.
"""

from __future__ import annotations

import os
import signal
import socket
from datetime import timedelta

from slurm_diag.actions import breaker, fingerprint, notify, rules
from slurm_diag.actions import refusal as r
from slurm_diag.actions.refusal import Refused
from slurm_diag.errors import UsageError
from slurm_diag.health import cap
from slurm_diag.slurm.errors import SlurmError
from slurm_diag.store.db import now

FAULT_ENV = "SDIAG_ACTIONS_FAULT"   # tests only: "after-executing" or "after-slurm" kill this process there
DONE_JOB_STATES = ("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING")


def _checkpoint(stage: str) -> None:
    """A crash on purpose, for the recovery tests (SIGKILL: nothing is cleaned up)."""
    if os.environ.get(FAULT_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


def execute(ctx, doc: dict) -> dict:
    """Run an approved proposal (the approver's own process); returns it done or failed."""
    started = now()
    doc = ctx.store.transition(doc["id"], "executing", ctx.actor, expect="approved", updates={"executor": {
        "pid": os.getpid(), "host": socket.gethostname(), "user": ctx.actor, "started": started.isoformat()}})
    _checkpoint("after-executing")
    return run(ctx, doc)


def run(ctx, doc: dict) -> dict:
    """Do the action of an ``executing`` proposal and verify it; idempotent."""
    try:
        rules.check_action(doc["action"])
        fingerprint.verify(doc, ctx.store.audit_log(subject=doc["id"]))
        rules.check_attribution(doc["action"], doc["target"], doc.get("origin", "agent"), doc.get("attribution"),
                                doc.get("findings", []))
        expires = rules.when(doc.get("expires"))
        if expires and now() > expires:
            raise Refused(r.EXPIRED, f"proposal {doc['id']} expired at {doc['expires']} before it was executed")
        outcome = ACTIONS[doc["action"]](ctx, doc)
    except Refused as exc:
        return finish(ctx, doc, "failed", exc.message)
    except SlurmError as exc:
        return finish(ctx, doc, "failed", f"Slurm refused or did not answer: {exc.message}")
    return finish(ctx, doc, "done", outcome)


def finish(ctx, doc: dict, state: str, outcome: str) -> dict:
    decided = rules.when(doc.get("decided"))
    took = round((now() - decided).total_seconds(), 3) if decided and state == "done" else None
    doc = ctx.store.transition(doc["id"], state, ctx.actor, updates={
        "outcome": outcome, "executed": now().isoformat(), "approval_to_effect_s": took})
    notify.send(ctx.cfg, ctx.store, doc, f"proposal.{state}", ctx.actor)
    return doc


def _drain(ctx, doc: dict) -> str:
    node_name, pid, reason = doc["target"], doc["id"], doc["drain_reason"]
    node = ctx.client.get_node(node_name)
    if rules.is_ours(node, pid) and not rules.claiming(node):
        return f"{node_name} is drained with {node.reason!r} (already, by this proposal: not drained again)"
    rules.check_drain_target(node, pid)
    limits = ctx.limits
    breaker.enforce(ctx.store, ctx.client, limits, ctx.actor, node_name, proposal_id=pid)
    claim = cap.claim(ctx.client, node_name, reason, limits.max_nodes, partition_pct=limits.max_partition_pct)
    _checkpoint("after-slurm")
    if not claim.held:
        if claim.capped:
            breaker.trip(ctx.store, ctx.actor, claim.note, pid)
            raise Refused(r.BREAKER, f"{claim.note}; the circuit breaker tripped")
        raise Refused(r.BREAKER if claim.known else r.SLURM, claim.note)
    after = ctx.client.get_node(node_name)
    if not (rules.is_ours(after, pid) and not rules.claiming(after)):
        raise Refused(r.VERIFY, f"{node_name} should be drained with {reason!r}; Slurm shows "
                                f"{'+'.join([after.state, *after.flags])} with {after.reason!r}")
    return f"{node_name} drained with {after.reason!r} ({claim.note})"


def _resume(ctx, doc: dict) -> str:
    node = ctx.client.get_node(doc["target"])
    if not node.drained and (doc.get("executor") or {}).get("recovering"):
        return f"{node.name} is not drained (resumed before the crash)"
    reports = ctx.store.health_reports(node=node.name, limit=1)
    rules.check_resume(node, reports[0] if reports else None, ctx.policy,
                       ctx.store.probe_results(node=node.name, limit=200))
    outcome, note = cap.resume_if_reason(ctx.client, node.name, node.reason)
    _checkpoint("after-slurm")
    if outcome != "resumed":
        raise Refused(r.NOT_SDIAG_DRAIN, note)
    after = ctx.client.get_node(node.name)
    if after.drained:
        raise Refused(r.VERIFY, f"{node.name} should be resumed; Slurm shows it drained with {after.reason!r}")
    return f"{node.name} resumed (was drained with {node.reason!r})"


def job_record(client, job_id: str) -> dict | None:
    """slurmctld's record of the job (scontrol fields), or None when it no longer holds it."""
    for rec in client.queue():
        if rec.get("JobId") == str(job_id):
            return rec
    return None


def _requeue(ctx, doc: dict) -> str:
    job_id = doc["target"]
    record = job_record(ctx.client, job_id)
    before = (doc.get("executor") or {}).get("restarts_before")
    if record is not None and before is not None and int(record.get("Restarts") or 0) > before:
        return f"job {job_id} was requeued already (restarts {record.get('Restarts')}): not requeued again"
    rules.check_requeue(job_id, record)
    restarts = int(record.get("Restarts") or 0)
    ctx.store.audit(ctx.actor, "proposal.requeue_started", doc["id"], {"restarts_before": restarts})
    doc.setdefault("executor", {})["restarts_before"] = restarts
    ctx.client.requeue(job_id)
    _checkpoint("after-slurm")
    after = job_record(ctx.client, job_id) or {}
    state = after.get("JobState", "gone")
    if int(after.get("Restarts") or 0) <= restarts and state not in DONE_JOB_STATES:
        raise Refused(r.VERIFY, f"job {job_id} should be requeued; slurmctld shows {state}, restarts "
                                f"{after.get('Restarts')}")
    return f"job {job_id} requeued ({state}, restarts {after.get('Restarts')})"


ACTIONS = {"drain": _drain, "resume": _resume, "requeue": _requeue}


def _gone(executor: dict, stale_s: float) -> bool:
    """Is the process that started this execution gone (crashed or killed)?"""
    started = rules.when(executor.get("started"))
    if started is None or now() - started > timedelta(seconds=stale_s):
        return True
    if executor.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(executor.get("pid", 0)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def recover(ctx) -> list[dict]:
    """Finish what crashed: proposals left ``executing`` by a process that is gone, and approved
    ones never started. Only an approver's command recovers (it acts on Slurm with its own rights)."""
    if not ctx.may_approve:
        return []
    finished = []
    stale_s = float(ctx.cfg.get("actions.stale_executing_s"))
    for doc in ctx.store.proposals("executing"):
        if not _gone(doc.get("executor") or {}, stale_s):
            continue
        ctx.store.audit(ctx.actor, "proposal.recovering", doc["id"], {"executor": doc.get("executor")})
        restarts = [e["detail"].get("restarts_before") for e in ctx.store.audit_log(subject=doc["id"])
                    if e["event"] == "proposal.requeue_started"]
        doc = dict(doc, executor={**(doc.get("executor") or {}), "recovering": True,
                                  **({"restarts_before": restarts[0]} if restarts else {})})
        finished.append(run(ctx, doc))
    for doc in ctx.store.proposals("approved"):
        try:
            finished.append(execute(ctx, doc))
        except UsageError:          # another command took it meanwhile
            continue
    return finished
