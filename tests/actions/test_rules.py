"""Each rule of the actions, decided against the fake Slurm and a real SQLite store: refused at
proposal, at approval and at execution, naming the rule."""

from __future__ import annotations

import json
import sys

import pytest

from slurm_diag.actions import approve, propose, reject
from slurm_diag.actions import refusal as r
from slurm_diag.actions import executor, rules
from slurm_diag.actions.refusal import Refused
from slurm_diag.errors import PermissionRefused
from slurm_diag.slurm.errors import NodeNotFound

from tests.actions.helpers import (
    AGENT, ALICE, BOB, CAROL, ROOT, SLURMUSER, as_caller, attribution, health_finding, log_finding, make, report,
    stamp,
)


def _drain(ctx, node="node3", **kw):
    found = kw.pop("findings", None) or [health_finding(node, f"health:{node}:clocks:3")]
    return propose(as_caller(ctx, AGENT), "drain", node, reason=f"gpu3 SM clock 200 MHz on {node}",
                   attribution=kw.pop("attribution", None) or attribution(found), findings=found,
                   model="smollm2-135m", prompt_version="dot-v3", **kw)


def _refused(rule, fn, *a, **kw):
    with pytest.raises(Refused) as info:
        fn(*a, **kw)
    assert info.value.rule == rule, info.value.message
    return info.value


# ------------------------------------------------------------ whitelist
def test_whitelist_only_drain_resume_requeue(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    for action in ("reboot", "shell", "drain; rm -rf /", "scontrol"):
        _refused(r.WHITELIST, propose, ctx, action, "node3", reason="x", origin="person")
        with pytest.raises(Refused):
            rules.command(action, "node3")
    assert rules.command("drain", "node3", "sdiag: p1: x") == [
        "scontrol", "update", "NodeName=node3", "State=DRAIN", "Reason=sdiag: p1: x"]
    assert ctx.client.calls == [] and ctx.store.proposals() == []


def test_whitelist_rechecked_at_execution(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    ctx.store.transition(doc["id"], "approved", "alice")
    ctx.store.transition(doc["id"], "executing", "alice")
    done = executor.run(ctx, dict(ctx.store.proposal(doc["id"]), action="reboot"))
    assert done["state"] == "failed" and "whitelist" in done["outcome"]
    assert not ctx.client.nodes["node3"].drained


# ------------------------------------------------------------ drain evidence
def test_drain_needs_a_health_or_probe_finding_on_that_node(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    logs = [log_finding()]
    _refused(r.NO_NODE_EVIDENCE, _drain, ctx, findings=logs, attribution=attribution(logs))
    elsewhere = [health_finding("node1", "health:node1:clocks:3")]
    _refused(r.NO_NODE_EVIDENCE, _drain, ctx, findings=elsewhere, attribution=attribution(elsewhere))
    ok = [health_finding("node3", "health:node3:clocks:3", severity="OK")]
    _refused(r.NO_NODE_EVIDENCE, _drain, ctx, findings=ok, attribution=attribution(ok))
    uncited = [health_finding()]
    _refused(r.NO_NODE_EVIDENCE, _drain, ctx, findings=uncited, attribution=attribution([]))
    probe = [{"id": "probe:abc", "source": "probe", "node": "node3", "severity": "CRITICAL",
              "summary": "gemm 40% of expected", "raw": {"probe": "gemm"}}]
    assert _drain(ctx, findings=probe, attribution=attribution(probe))["state"] == "proposed"


def test_drain_never_for_user_scope(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    found = [health_finding()]
    _refused(r.USER_SCOPE, _drain, ctx, findings=found, attribution=attribution(found, scope="user", label="gpu_oom"))
    _refused(r.NOT_INFRA, propose, as_caller(ctx, AGENT), "drain", "node3", reason="x", findings=found)


def test_drain_node_must_exist_and_not_be_drained_by_someone_else(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    with pytest.raises(NodeNotFound):
        _drain(ctx, node="node9")
    ctx.client.set_reason("node3", "admin: bios update", user="admin")
    _refused(r.DRAINED_BY_OTHER, _drain, ctx)
    ctx.client.set_reason("node3", "sdiag: clocks: gpu3 [claim 1]")
    _refused(r.ALREADY_DRAINED, _drain, ctx)


def test_log_text_in_the_reason_cannot_widen_what_is_proposed(tmp_path, monkeypatch):
    """An LLM or a log may write anything into the reason: the rules read only findings."""
    ctx = make(tmp_path, monkeypatch)
    logs = [log_finding()]
    _refused(r.NO_NODE_EVIDENCE, propose, as_caller(ctx, AGENT), "drain", "node3",
             reason="health check CRITICAL on node3 (trust me)", attribution=attribution(logs), findings=logs)


# ------------------------------------------------------------ resume
def test_resume_only_an_sdiag_drain_with_clean_latest_checks(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    person = dict(origin="person", reason="checks clean again")
    _refused(r.NOT_SDIAG_DRAIN, propose, ctx, "resume", "node3", **person)
    ctx.client.set_reason("node2", "admin: bios update")
    _refused(r.DRAINED_BY_OTHER, propose, ctx, "resume", "node2", **person)
    ctx.client.set_reason("node3", "sdiag: clocks: gpu3 SM clock 200 MHz [claim 1]")
    _refused(r.NOT_CLEAN, propose, ctx, "resume", "node3", **person)             # no check on record
    ctx.store.add_health_report(report("node3", "CRITICAL", 0))
    _refused(r.NOT_CLEAN, propose, ctx, "resume", "node3", **person)
    ctx.store.add_health_report(report("node3", "OK", 0.01))
    doc = propose(ctx, "resume", "node3", **person)
    # the node fails again before approval: the resume is refused at approval
    ctx.store.add_health_report(report("node3", "CRITICAL", 0.02))
    _refused(r.NOT_CLEAN, approve, ctx, doc["id"])
    assert ctx.client.nodes["node3"].drained


def test_resume_needs_a_clean_check_newer_than_the_drain_and_no_failing_probe(tmp_path, monkeypatch):
    """A clean report from before the drain says nothing about the node now; a probe that failed
    since (per GPU, newest result) keeps it drained too."""
    ctx = make(tmp_path, monkeypatch)
    person = dict(origin="person", reason="checks clean again")
    ctx.store.add_health_report(report("node3", "OK", -5))
    ctx.client.set_reason("node3", "sdiag: clocks: gpu3 [claim 1]")
    e = _refused(r.NOT_CLEAN, propose, ctx, "resume", "node3", **person)
    assert "older than its drain" in e.message
    ctx.store.add_health_report(report("node3", "OK", 0))
    probe = {"probe": "gemm", "node": "node3", "gpu": 3, "dtype": "fp64", "metric": "flops", "unit": "FLOP/s",
             "valid": True, "expected": None}
    ctx.store.add_probe_result({**probe, "value": 1e9, "time": stamp(-3),
                                "verdict": {"status": "CRITICAL", "message": "0.2x the fleet"}})
    e = _refused(r.NOT_CLEAN, propose, ctx, "resume", "node3", **person)
    assert "gemm GPU 3 at" in e.message and "CRITICAL (0.2x the fleet)" in e.message
    ctx.store.add_probe_result({**probe, "value": 5e9, "time": stamp(0), "verdict": {"status": "OK", "message": "ok"}})
    assert propose(ctx, "resume", "node3", **person)["state"] == "proposed"


def test_resume_executes_and_someone_elses_drain_at_execution_is_left(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    ctx.client.set_reason("node3", "sdiag: clocks: gpu3 [claim 1]")
    ctx.store.add_health_report(report("node3", "OK", 0))
    doc = propose(ctx, "resume", "node3", origin="person", reason="clean")
    assert approve(ctx, doc["id"])["state"] == "done" and not ctx.client.nodes["node3"].drained
    ctx.client.set_reason("node3", "sdiag: clocks: gpu3 [claim 2]")
    ctx.store.add_health_report(report("node3", "OK", 0))      # a check after this drain (not only its second)
    doc = propose(ctx, "resume", "node3", origin="person", reason="clean again")
    ctx.store.transition(doc["id"], "approved", "alice")
    ctx.client.set_reason("node3", "admin: replacing gpu3")                   # lands before execution
    assert executor.execute(ctx, ctx.store.proposal(doc["id"]))["state"] == "failed"
    assert ctx.client.nodes["node3"].reason == "admin: replacing gpu3"


# ------------------------------------------------------------ requeue
def _job(ctx, job_id="77", **fields):
    ctx.client.records[job_id] = {"JobId": job_id, "JobState": "NODE_FAIL", "BatchFlag": "1", "Requeue": "1",
                                  "Restarts": "0", "NodeList": "node3", **fields}


def test_requeue_only_a_requeueable_job_attributed_to_infra(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    agent = as_caller(ctx, AGENT)
    found = [health_finding()]
    infra = attribution(found, job_id="77")
    _refused(r.NOT_REQUEUEABLE, propose, agent, "requeue", "77", reason="node3 failed", attribution=infra, findings=found)
    _job(ctx, Requeue="0")
    _refused(r.NOT_REQUEUEABLE, propose, agent, "requeue", "77", reason="node3 failed", attribution=infra, findings=found)
    _job(ctx, BatchFlag="0")
    _refused(r.NOT_REQUEUEABLE, propose, agent, "requeue", "77", reason="node3 failed", attribution=infra, findings=found)
    _job(ctx, JobState="COMPLETED")
    _refused(r.NOT_REQUEUEABLE, propose, agent, "requeue", "77", reason="node3 failed", attribution=infra, findings=found)
    _job(ctx)
    _refused(r.USER_SCOPE, propose, agent, "requeue", "77", reason="oom", findings=found,
             attribution=attribution(found, scope="user", label="host_oom", job_id="77"))
    _refused(r.NOT_INFRA, propose, agent, "requeue", "77", reason="x", findings=found,
             attribution=attribution(found, job_id="78"))
    doc = propose(agent, "requeue", "77", reason="node3 failed under it", attribution=infra, findings=found)
    done = approve(ctx, doc["id"])
    assert done["state"] == "done" and ctx.client.records["77"]["Restarts"] == "1", done
    assert approve(ctx, doc["id"])["state"] == "done" and ctx.client.records["77"]["Restarts"] == "1"


# ------------------------------------------------------------ approvers
@pytest.mark.parametrize("caller", [ALICE, CAROL, ROOT, SLURMUSER], ids=lambda c: c.name)
def test_approvers_by_uid_user_group_root_slurmuser(tmp_path, monkeypatch, caller):
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    assert approve(as_caller(ctx, caller), doc["id"])["state"] == "done"


@pytest.mark.parametrize("caller", [BOB, AGENT], ids=lambda c: c.name)
def test_non_approvers_and_the_agent_are_refused_exit_4(tmp_path, monkeypatch, caller):
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    for fn, args in ((approve, (doc["id"],)), (reject, (doc["id"], "no"))):
        with pytest.raises(PermissionRefused) as info:
            fn(as_caller(ctx, caller), *args)
        assert info.value.exit_code == 4 and caller.name in info.value.message
    agent_listed = dataclasses_replace_access(ctx, users=frozenset({"alice", "sdiag-agent"}))
    with pytest.raises(PermissionRefused):
        approve(as_caller(agent_listed, AGENT), doc["id"])
    assert ctx.store.proposal(doc["id"])["state"] == "proposed" and not ctx.client.nodes["node3"].drained


def dataclasses_replace_access(ctx, users):
    import dataclasses

    return dataclasses.replace(ctx, access=dataclasses.replace(ctx.access, approver_users=users))


def test_an_ordinary_user_may_not_propose(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    with pytest.raises(PermissionRefused):
        propose(as_caller(ctx, BOB), "drain", "node3", reason="it is slow", origin="person")


def test_the_agents_account_may_not_pass_off_a_proposal_as_a_persons(tmp_path, monkeypatch):
    """A person's proposal stands on its reason alone; the agent's must carry findings."""
    ctx = make(tmp_path, monkeypatch)
    with pytest.raises(PermissionRefused) as info:
        propose(as_caller(ctx, AGENT), "drain", "node3", reason="gpu3 Xid 79, trust me", origin="person")
    assert info.value.exit_code == 4 and "agent's account" in info.value.message
    assert ctx.store.proposals() == [] and not ctx.client.nodes["node3"].drained


# ------------------------------------------------------------ execution
def test_approved_drain_lands_with_the_proposal_reason_once(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    done = approve(ctx, doc["id"], note="seen it too")
    node = ctx.client.nodes["node3"]
    assert done["state"] == "done" and node.reason.startswith(f"sdiag: {doc['id']}: gpu3 SM clock 200 MHz on node3")
    assert done["decided_by"] == "alice" and done["approval_to_effect_s"] is not None
    drains = [c for c in ctx.client.calls if c[0] == "drain_node"]
    assert approve(ctx, doc["id"])["state"] == "done"
    assert [c for c in ctx.client.calls if c[0] == "drain_node"] == drains        # approving twice drains once


def test_someone_elses_drain_between_approval_and_execution_fails_it(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    ctx.store.transition(doc["id"], "approved", "alice")
    ctx.client.set_reason("node3", "admin: reseat gpu3")
    done = executor.execute(ctx, ctx.store.proposal(doc["id"]))
    assert done["state"] == "failed" and "someone else" in done["outcome"]
    assert ctx.client.nodes["node3"].reason == "admin: reseat gpu3"


# ------------------------------------------------------------ freshness and expiry
def test_healthy_again_or_drained_by_someone_else_fails_the_approval(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    ctx.store.add_health_report(report("node3", "OK", 1))
    e = _refused(r.HEALTHY_AGAIN, approve, ctx, doc["id"])
    assert "healthy again" in e.message and not ctx.client.nodes["node3"].drained
    doc2 = _drain(ctx, node="node2")
    ctx.client.set_reason("node2", "admin: cable swap")
    _refused(r.DRAINED_BY_OTHER, approve, ctx, doc2["id"])
    refusals = [e["detail"]["rule"] for e in ctx.store.audit_log() if e["event"] == "proposal.approval_refused"]
    assert refusals == [r.HEALTHY_AGAIN, r.DRAINED_BY_OTHER]
    assert ctx.client.nodes["node2"].reason == "admin: cable swap"


def test_expired_proposal_cannot_be_approved_or_executed(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch, actions__expiry_h=0.0001)
    doc = _drain(ctx)
    monkeypatch.setattr("slurm_diag.actions.proposals.now", lambda: _later(2))
    _refused(r.EXPIRED, approve, ctx, doc["id"])
    assert ctx.store.proposal(doc["id"])["state"] == "expired" and not ctx.client.nodes["node3"].drained
    monkeypatch.undo()
    ctx = make(tmp_path, monkeypatch, actions__expiry_h=0.0001)
    doc = _drain(ctx, node="node2")
    ctx.store.transition(doc["id"], "approved", "alice")
    monkeypatch.setattr("slurm_diag.actions.executor.now", lambda: _later(2))
    done = executor.execute(ctx, ctx.store.proposal(doc["id"]))
    assert done["state"] == "failed" and "expired" in done["outcome"] and not ctx.client.nodes["node2"].drained


def _later(hours):
    from datetime import timedelta

    from slurm_diag.store.db import now
    return now() + timedelta(hours=hours)


def test_evidence_edited_after_proposal_is_refused(tmp_path, monkeypatch):
    from sqlalchemy import update

    from slurm_diag.store import tables as t
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    forged = dict(doc, findings=[dict(doc["findings"][0], severity="CRITICAL", summary="forged")])
    with ctx.store.engine.begin() as conn:
        conn.execute(update(t.proposals).where(t.proposals.c.id == doc["id"]).values(proposal=forged))
    e = _refused(r.EVIDENCE_CHANGED, approve, ctx, doc["id"])
    assert "findings" in e.message and "hashes" in e.message
    with ctx.store.engine.begin() as conn:                  # the evidence back, another node
        conn.execute(update(t.proposals).where(t.proposals.c.id == doc["id"]).values(proposal=dict(doc, target="node1")))
    e = _refused(r.EVIDENCE_CHANGED, approve, ctx, doc["id"])
    assert "(target)" in e.message and not ctx.client.nodes["node1"].drained


def test_a_state_or_expiry_forged_in_the_table_is_refused(tmp_path, monkeypatch):
    """The proposals table can be written; the audit log cannot. A rejected proposal set back to
    proposed, or an expiry pushed out, does not reach Slurm."""
    from sqlalchemy import update

    from slurm_diag.store import tables as t
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    reject(ctx, doc["id"], "the node is fine")
    revived = dict(ctx.store.proposal(doc["id"]), state="proposed")
    with ctx.store.engine.begin() as conn:
        conn.execute(update(t.proposals).where(t.proposals.c.id == doc["id"]).values(state="proposed", proposal=revived))
    e = _refused(r.EVIDENCE_CHANGED, approve, ctx, doc["id"])
    assert "state proposed where the log says rejected" in e.message and not ctx.client.nodes["node3"].drained

    other = _drain(ctx, node="node2")
    later = dict(other, expires="2999-01-01T00:00:00+00:00")
    with ctx.store.engine.begin() as conn:
        conn.execute(update(t.proposals).where(t.proposals.c.id == other["id"]).values(proposal=later))
    e = _refused(r.EVIDENCE_CHANGED, approve, ctx, other["id"])
    assert "expires" in e.message and not ctx.client.nodes["node2"].drained


# ------------------------------------------------------------ audit, notification, feedback
def test_every_transition_is_audited_with_hashes_model_and_prompt(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    approve(ctx, doc["id"])
    trail = ctx.store.audit_log(subject=doc["id"])
    assert [e["event"] for e in trail] == ["proposal.created", "proposal.approved", "proposal.executing",
                                           "proposal.done"]
    assert [e["actor"] for e in trail] == ["sdiag-agent", "alice", "alice", "alice"]
    for e in trail:
        assert e["detail"]["evidence_hashes"]["finding:health:node3:clocks:3"].startswith("sha256:")
        assert (e["detail"]["model"], e["detail"]["prompt_version"]) == ("smollm2-135m", "dot-v3")


def test_notifier_gets_each_proposal_and_decision_on_stdin(tmp_path, monkeypatch):
    out = tmp_path / "notified.jsonl"
    script = tmp_path / "notify.py"
    script.write_text(f"import sys\nopen({str(out)!r}, 'a').write(sys.stdin.read().replace('\\n', ' ') + '\\n')\n")
    ctx = make(tmp_path, monkeypatch, actions__notify=[sys.executable, str(script)])
    doc = _drain(ctx)
    approve(ctx, doc["id"])
    doc2 = _drain(ctx, node="node2")
    reject(ctx, doc2["id"], "node2 is being serviced")
    events = [(json.loads(line)["event"], json.loads(line)["proposal"]["id"]) for line in out.read_text().splitlines()]
    assert events == [("proposal.created", doc["id"]), ("proposal.approved", doc["id"]), ("proposal.done", doc["id"]),
                      ("proposal.created", doc2["id"]), ("proposal.rejected", doc2["id"])]


def test_a_failing_notifier_is_audited_and_does_not_block(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch, actions__notify=["/nonexistent/notify"])
    doc = _drain(ctx)
    assert approve(ctx, doc["id"])["state"] == "done"
    assert any(e["event"] == "notify.failed" for e in ctx.store.audit_log(subject=doc["id"]))


def test_rejection_reason_kept_and_same_evidence_not_proposed_again(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    rejected = reject(ctx, doc["id"], "gpu3 is a known slow part, replacement ordered")
    assert rejected["note"] == "gpu3 is a known slow part, replacement ordered" and rejected["decided_by"] == "alice"
    e = _refused(r.DUPLICATE, _drain, ctx)
    assert "replacement ordered" in e.message
    other = [health_finding("node3", "health:node3:clocks:3b")]
    assert _drain(ctx, findings=other, attribution=attribution(other))["state"] == "proposed"   # new evidence


def test_kb_add_input_from_a_done_infra_proposal_only(tmp_path, monkeypatch):
    from slurm_diag.actions.feedback import kb_entry_input
    from slurm_diag.kb.add import entry_from_attribution

    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    _refused(r.STATE, kb_entry_input, ctx.store.proposal(doc["id"]), None)
    done = approve(ctx, doc["id"])
    attribution_doc, excerpt = kb_entry_input(done, None)
    entry = entry_from_attribution(attribution_doc, excerpt)
    assert entry["label"] == "gpu_throttle" and entry["scope"] == "infra"
    person = propose(ctx, "drain", "node2", reason="fan noise", origin="person")
    _refused(r.NOT_INFRA, kb_entry_input, approve(ctx, person["id"]), None)


def test_slurm_unreachable_at_execution_fails_it_and_drains_nothing(tmp_path, monkeypatch):
    from slurm_diag.slurm.errors import SlurmUnavailable

    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    ctx.store.transition(doc["id"], "approved", "alice")
    ctx.client.unreachable = True
    done = executor.execute(ctx, ctx.store.proposal(doc["id"]))
    assert done["state"] == "failed" and "Unable to contact slurm controller" in done["outcome"]
    with pytest.raises(SlurmUnavailable):          # at approval: could not check (exit 3), still proposed
        ctx.client.unreachable = False
        doc2 = _drain(ctx, node="node2")
        ctx.client.unreachable = True
        approve(ctx, doc2["id"])
    ctx.client.unreachable = False
    assert ctx.store.proposal(doc2["id"])["state"] == "proposed"
    assert not ctx.client.nodes["node3"].drained and not ctx.client.nodes["node2"].drained


def test_a_drain_slurm_does_not_show_afterwards_fails_the_proposal_by_the_verify_rule(tmp_path, monkeypatch):
    """The executor reads the node back: someone resuming it in the same instant is seen, and the
    proposal ends failed (rule verify), not done."""
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    ctx.store.transition(doc["id"], "approved", "alice")

    reads = []

    def resumed_behind_our_back(method, client):
        if method == "get_node":
            reads.append(method)
            if len(reads) == 2:                          # the read-back after the claim drained it
                client.before_call = None
                client.set_reason("node3", None, drained=False)
    ctx.client.before_call = resumed_behind_our_back
    done = executor.execute(ctx, ctx.store.proposal(doc["id"]))
    assert done["state"] == "failed" and "refused (verify)" in done["outcome"]
    assert "should be drained with" in done["outcome"] and not ctx.client.nodes["node3"].drained
