"""The agent proposes, a person decides, Slurm does it: the API the agent and the CLI call.

    propose(ctx, action, target, reason=..., attribution=..., findings=...) -> proposal (or Refused)
    approve(ctx, id, note) -> the proposal, executed (done or failed)
    reject(ctx, id, why) -> the proposal, rejected with its reason kept
    expire_due(ctx) -> ids expired now

Each rule (rules.py, breaker.py) is checked at proposal, again at approval against fresh facts,
and again at execution (executor.py). Identity is the calling uid (``Context.caller``).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from slurm_diag.actions import breaker, executor, fingerprint, notify, rules
from slurm_diag.actions import refusal as r
from slurm_diag.actions.refusal import Refused
from slurm_diag.errors import UsageError
from slurm_diag.store.db import now

OPEN = ("proposed", "approved", "executing")
NOT_AGAIN = (*OPEN, "done", "rejected")      # expired and failed ones may be proposed again


def _open_drains(store, besides: str | None = None) -> list[str]:
    return [p["target"] for p in store.proposals() if p["action"] == "drain" and p["state"] in ("approved", "executing")
            and p["id"] != besides]


def _check_now(ctx, doc: dict, *, at_approval: bool) -> None:
    """The rules against what Slurm and the store say now."""
    action, target = doc["action"], doc["target"]
    rules.check_action(action)
    rules.check_attribution(action, target, doc.get("origin", "agent"), doc.get("attribution"),
                            doc.get("findings", []))
    if action == "drain":
        node = ctx.client.get_node(target)
        rules.check_drain_target(node, doc.get("id"))
        if at_approval:
            since = rules.when(doc.get("created")) or now()
            supporting = rules.node_evidence(target, doc.get("attribution"), doc.get("findings", []))
            healthy = rules.healthy_again(supporting, ctx.store.health_reports(node=target, limit=20),
                                          ctx.store.probe_results(node=target, limit=50), since, ctx.policy)
            if healthy:
                raise Refused(r.HEALTHY_AGAIN, f"{target} looks healthy again since it was proposed: {healthy}",
                              hint="nothing to drain; reject the proposal, or propose again if it fails again")
        breaker.enforce(ctx.store, ctx.client, ctx.limits, ctx.actor, target, _open_drains(ctx.store, doc.get("id")),
                        doc.get("id"))
    elif action == "resume":
        node = ctx.client.get_node(target)
        reports = ctx.store.health_reports(node=target, limit=1)
        rules.check_resume(node, reports[0] if reports else None, ctx.policy,
                           ctx.store.probe_results(node=target, limit=200))
    else:
        rules.check_requeue(target, executor.job_record(ctx.client, target))


def propose(ctx, action: str, target: str, *, reason: str, attribution: dict | None = None,
            findings=(), origin: str = "agent", model: str | None = None,
            prompt_version: str | None = None) -> dict:
    """A new proposal, or Refused naming the rule. ``origin`` "person": its reason is its evidence."""
    rules.check_action(action)
    ctx.require_proposer()
    if origin == "person":
        ctx.require_person("make a person's proposal")
    if not reason or not reason.strip():
        raise UsageError("a proposal needs a reason", hint="say what was seen, e.g. --reason 'gpu3 Xid 79'")
    findings = list(findings)
    hashes = fingerprint.hashes(findings, attribution, reason)
    key = fingerprint.key(action, target, hashes, origin)
    for other in ctx.store.proposals():
        if other.get("evidence_key") == key and other["state"] in NOT_AGAIN:
            why = f" (rejected by {other.get('decided_by')}: {other.get('note')})" if other["state"] == "rejected" else ""
            raise Refused(r.DUPLICATE, f"the same {action} of {target} on the same evidence was proposed already "
                                       f"as {other['id']}, now {other['state']}{why}",
                          hint=f"`sdiag-agent actions show {other['id']}`; new evidence makes a new proposal")
    proposal_id = uuid.uuid4().hex[:12]
    drain = rules.drain_reason(proposal_id, reason) if action == "drain" else None
    doc = {"id": proposal_id, "action": action, "target": target, "reason": reason,
           "evidence": [f["id"] for f in findings], "origin": origin, "findings": findings,
           "attribution": attribution, "evidence_hashes": hashes, "evidence_key": key,
           "expires": (now() + timedelta(hours=float(ctx.cfg.get("actions.expiry_h")))).isoformat(),
           "model": model, "prompt_version": prompt_version, "drain_reason": drain,
           "command": rules.command(action, target, drain)}
    _check_now(ctx, doc, at_approval=False)
    ctx.store.add_proposal(doc, ctx.actor)
    doc = ctx.store.proposal(proposal_id)
    notify.send(ctx.cfg, ctx.store, doc, "proposal.created", ctx.actor)
    return doc


def _refused(ctx, doc: dict, exc: Refused) -> Refused:
    ctx.store.audit(ctx.actor, "proposal.approval_refused", doc["id"], {"rule": exc.rule, "why": exc.message})
    return exc


def approve(ctx, proposal_id: str, note: str | None = None) -> dict:
    """Approve and execute (the approver's own command). Approving a done proposal does nothing more."""
    ctx.require_approver("approve proposals")
    doc = ctx.store.proposal(proposal_id)
    if doc["state"] == "done":
        return doc
    if doc["state"] in ("approved", "executing"):
        executor.recover(ctx)
        return ctx.store.proposal(proposal_id)
    if doc["state"] != "proposed":
        raise Refused(r.STATE, f"proposal {proposal_id} is {doc['state']}: it cannot be approved"
                      + (f" ({doc.get('note')})" if doc.get("note") else ""))
    expires = rules.when(doc.get("expires"))
    if expires and now() > expires:
        expired = ctx.store.transition(proposal_id, "expired", ctx.actor, note=f"expired at {doc['expires']}")
        notify.send(ctx.cfg, ctx.store, expired, "proposal.expired", ctx.actor)
        raise Refused(r.EXPIRED, f"proposal {proposal_id} expired at {doc['expires']} (actions.expiry_h) "
                                 "before it was approved", hint="propose again if it is still needed")
    try:
        fingerprint.verify(doc, ctx.store.audit_log(subject=proposal_id))
        _check_now(ctx, doc, at_approval=True)
    except Refused as exc:
        raise _refused(ctx, doc, exc) from None
    doc = ctx.store.transition(proposal_id, "approved", ctx.actor, note=note, expect="proposed")
    notify.send(ctx.cfg, ctx.store, doc, "proposal.approved", ctx.actor)
    try:
        return executor.execute(ctx, doc)
    except UsageError:            # another approver's command is executing it
        return ctx.store.proposal(proposal_id)


def reject(ctx, proposal_id: str, why: str) -> dict:
    """Reject with a reason (kept: the same action on the same evidence is not proposed again)."""
    ctx.require_approver("reject proposals")
    if not why or not why.strip():
        raise UsageError("a rejection needs a reason (--why)", hint="it is kept so the agent learns from it")
    doc = ctx.store.transition(proposal_id, "rejected", ctx.actor, note=why)
    notify.send(ctx.cfg, ctx.store, doc, "proposal.rejected", ctx.actor)
    return doc


def expire_due(ctx) -> list[str]:
    """Undecided proposals past their expiry become ``expired`` (anyone's command does this)."""
    done = []
    for doc in [*ctx.store.proposals("proposed"), *ctx.store.proposals("approved")]:
        expires = rules.when(doc.get("expires"))
        if expires and now() > expires:
            try:
                expired = ctx.store.transition(doc["id"], "expired", ctx.actor, note=f"expired at {doc['expires']}",
                                               expect=doc["state"])
            except UsageError:
                continue
            notify.send(ctx.cfg, ctx.store, expired, "proposal.expired", ctx.actor)
            done.append(doc["id"])
    return done


def housekeeping(ctx) -> dict:
    """What every `actions` command does first: expire what is due, recover what crashed."""
    return {"expired": expire_due(ctx), "recovered": [d["id"] for d in executor.recover(ctx)]}
