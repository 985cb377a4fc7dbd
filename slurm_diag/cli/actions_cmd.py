"""`sdiag-agent actions list|show|approve|reject|propose|breaker|kb-add`: proposals, decisions, the
circuit breaker.

Approving, rejecting and resetting the breaker need an approver by uid (root, SlurmUser,
access.approvers; never access.agent_user): anyone else is refused with exit 4. A rule that says no
(drained by someone else, healthy again, expired, the breaker...) exits 1 naming the rule.
"""

from __future__ import annotations

import json
from pathlib import Path
import time

import click

from slurm_diag.cli.output import emit_json, table


def _ctx():
    from slurm_diag.actions import Context

    return Context.from_config()


def _housekeeping(ctx) -> dict:
    from slurm_diag.actions import housekeeping

    done = housekeeping(ctx)
    for pid in done["expired"]:
        click.echo(f"expired {pid}", err=True)
    for pid in done["recovered"]:
        click.echo(f"recovered {pid} (its executor had stopped): {ctx.store.proposal(pid)['state']}", err=True)
    return done


def _say(doc: dict) -> None:
    click.echo(f"{doc['id']}  {doc['action']} {doc['target']}  {doc['state']}"
               + (f"  by {doc['decided_by']}" if doc.get("decided_by") else ""))
    if doc.get("outcome"):
        click.echo(f"  {doc['outcome']}")
    if doc.get("approval_to_effect_s") is not None:
        click.echo(f"  approval to effect: {doc['approval_to_effect_s']:.2f} s")


def _breaker_line(state: dict) -> str:
    limits = state["limits"]
    held = ", ".join(state["held"]) if state["known"] else f"unknown ({state['error']})"
    head = (f"breaker TRIPPED at {state['at']} by {state['by']}: {state['why']}  (reset: sdiag-agent actions "
            "breaker reset)") if state["tripped"] else "breaker closed"
    return f"{head}\n  held by slurm-diag: {held or 'none'}  (limit {limits['max_nodes']} node(s), " \
           f"{limits['max_partition_pct']:g}% of a partition)"


@click.group("actions")
def command() -> None:
    """Node and job actions: the agent proposes, an approver decides, Slurm does it."""


@command.command("list")
@click.option("--state", type=click.Choice(["proposed", "approved", "executing", "done", "failed", "rejected",
                                            "expired"]), default=None, help="only proposals in this state")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def list_cmd(state: str | None, as_json: bool) -> None:
    """Proposals and the circuit breaker's state (expires what is due, recovers crashed executions)."""
    from slurm_diag.actions import breaker

    ctx = _ctx()
    ctx.require_proposer("see proposals")
    done = _housekeeping(ctx)
    status = breaker.status(ctx.store, ctx.client, ctx.limits)
    proposals = ctx.store.proposals(state)
    if as_json:
        emit_json({"breaker": status, "proposals": proposals, **done}, schema="actions_list")
        return
    click.echo(_breaker_line(status))
    if not proposals:
        click.echo("no proposals" + (f" in state {state}" if state else ""))
        return
    table([[p["id"], p["state"], p["action"], p["target"], (p.get("created") or "")[:19], p.get("proposed_by") or "",
            p.get("decided_by") or "", p["reason"][:60]] for p in proposals],
          ["ID", "STATE", "ACTION", "TARGET", "CREATED", "BY", "DECIDED BY", "REASON"])


@command.command("show")
@click.argument("proposal_id")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def show(proposal_id: str, as_json: bool) -> None:
    """One proposal: its evidence quoted, the attribution, the exact Slurm command, the jobs on the
    target now, the GPUs and partition share it takes offline, and its audit trail."""
    from slurm_diag.actions.report import details

    ctx = _ctx()
    ctx.require_proposer("see proposals")
    _housekeeping(ctx)
    doc = details(ctx, ctx.store.proposal(proposal_id))
    if as_json:
        emit_json(doc, schema="actions_show")
        return
    p, now = doc["proposal"], doc["target_now"]
    click.echo(f"proposal {p['id']}: {p['action']} {p['target']}  [{p['state']}]")
    click.echo(f"  reason     {p['reason']}")
    click.echo(f"  proposed   by {p.get('proposed_by')} at {p.get('created')} ({p.get('origin', 'agent')}); "
               f"expires {p.get('expires')}")
    if p.get("model") or p.get("prompt_version"):
        click.echo(f"  agent      model {p.get('model')}, prompt {p.get('prompt_version')}")
    a = p.get("attribution")
    if a:
        click.echo(f"  attribution {a['label']} ({a['scope']}, {a['component']}, confidence {a['confidence']:.2f}): "
                   f"{a['explanation']}")
    for f in p.get("findings", []):
        click.echo(f"  evidence   [{f['source']} {f['severity']}] {f.get('node') or ''} {f['summary']}")
    click.echo(f"  command    {' '.join(doc['command'])}")
    if now["known"] and p["action"] == "requeue":
        click.echo(f"  target now job {p['target']} {now.get('state')}  reason {now.get('reason') or '-'}")
    elif now["known"]:
        click.echo(f"  target now {now.get('state')}  reason {now.get('reason') or '-'}  GPUs {now.get('gpus')}  "
                   f"running jobs {', '.join(now['jobs']) or 'none'}")
        for part in now["partitions"]:
            click.echo(f"  partition  {part['name']}: takes {part['share_pct']:g}% of its {part['nodes']} node(s) offline")
    else:
        click.echo(f"  target now unknown: {now.get('error')}")
    if p.get("outcome"):
        click.echo(f"  outcome    {p['outcome']}")
    click.echo("  audit")
    for row in doc["audit"]:
        click.echo(f"    {row['time'][:19]}  {row['actor']:10} {row['event']}")


@command.command("approve")
@click.argument("proposal_id")
@click.option("--note", default=None, help="a note kept with the decision")
def approve_cmd(proposal_id: str, note: str | None) -> None:
    """Approve a proposal and execute it now, as you (exit 4 if you may not approve, 1 if a rule
    refuses or the execution fails)."""
    from slurm_diag.actions import approve

    ctx = _ctx()
    ctx.require_approver("approve proposals")
    _housekeeping(ctx)
    start = time.monotonic()
    doc = approve(ctx, proposal_id, note)
    _say(doc)
    click.echo(f"  command ran and verified in {time.monotonic() - start:.2f} s" if doc["state"] == "done"
               else f"  not done: {doc['state']}")
    if doc["state"] != "done":
        raise SystemExit(1)


@command.command("reject")
@click.argument("proposal_id")
@click.option("--why", required=True, help="the reason, kept: the same action on the same evidence is not proposed again")
def reject_cmd(proposal_id: str, why: str) -> None:
    """Reject a proposal with a reason."""
    from slurm_diag.actions import reject

    ctx = _ctx()
    ctx.require_approver("reject proposals")
    _housekeeping(ctx)
    _say(reject(ctx, proposal_id, why))


@command.command("propose")
@click.argument("action", type=click.Choice(["drain", "resume", "requeue"]))
@click.argument("target")
@click.option("--reason", required=True, help="what you saw: it stands as the proposal's evidence")
def propose_cmd(action: str, target: str, reason: str) -> None:
    """A person's own proposal (every rule applies; an approver still decides)."""
    from slurm_diag.actions import propose

    ctx = _ctx()
    ctx.require_proposer()
    _housekeeping(ctx)
    doc = propose(ctx, action, target, reason=reason, origin="person")
    _say(doc)
    click.echo(f"  will run: {' '.join(doc['command'])}\n  approve: sdiag-agent actions approve {doc['id']}")


@command.command("breaker")
@click.argument("what", type=click.Choice(["status", "reset"]), default="status")
@click.option("--note", default=None, help="why it is reset (kept in the audit log)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def breaker_cmd(what: str, note: str | None, as_json: bool) -> None:
    """The circuit breaker: `status` (default) or `reset` (approvers only) after a trip."""
    from slurm_diag.actions import breaker

    ctx = _ctx()
    if what == "reset":
        ctx.require_approver("reset the circuit breaker")
        was = breaker.reset(ctx.store, ctx.actor, note)
        if not as_json:
            click.echo("breaker reset" + (f" (it had tripped at {was['at']}: {was['why']})" if was["tripped"]
                                          else " (it was not tripped)"))
    status = breaker.status(ctx.store, ctx.client, ctx.limits)
    if as_json:
        emit_json(status, schema="actions_breaker")
    elif what == "status":
        click.echo(_breaker_line(status))


@command.command("kb-add")
@click.argument("proposal_id")
@click.option("--log", "log_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="the log lines that showed it (default: the evidence's summaries)")
def kb_add_cmd(proposal_id: str, log_path: str | None) -> None:
    """Add an executed proposal's infra attribution to the knowledge base (the `kb add` loop)."""
    from slurm_diag.actions.feedback import kb_entry_input
    from slurm_diag.cli.kb_cmd import added_line
    from slurm_diag.kb.add import add

    ctx = _ctx()
    ctx.require_approver("add to the knowledge base")
    attribution, excerpt = kb_entry_input(ctx.store.proposal(proposal_id),
                                          Path(log_path).read_text(encoding="utf-8", errors="replace") if log_path else None)
    info = add(attribution, excerpt)
    click.echo(json.dumps(info) if not info.get("added") else added_line(info))
