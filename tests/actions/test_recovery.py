"""A crash while `executing` is recovered by the next approver's command: one consistent result."""

from __future__ import annotations

import os
import socket

from slurm_diag.actions import housekeeping, propose
from slurm_diag.actions.executor import recover
from slurm_diag.store.db import now

from tests.actions.helpers import AGENT, BOB, as_caller, attribution, health_finding, make


def _executing(ctx, doc, pid):
    ctx.store.transition(doc["id"], "approved", "alice")
    ctx.store.transition(doc["id"], "executing", "alice", updates={"executor": {
        "pid": pid, "host": socket.gethostname(), "user": "alice", "started": now().isoformat()}})


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def _drain(ctx):
    found = [health_finding()]
    return propose(as_caller(ctx, AGENT), "drain", "node3", reason="gpu3 slow", attribution=attribution(found),
                   findings=found)


def test_crash_before_slurm_was_asked(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    _executing(ctx, doc, _dead_pid())
    assert recover(as_caller(ctx, BOB)) == []                     # a non-approver's command does not act
    [done] = recover(ctx)
    assert done["state"] == "done" and ctx.client.nodes["node3"].reason.startswith(f"sdiag: {doc['id']}: ")


def test_crash_mid_claim_leaves_one_drain(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    _executing(ctx, doc, _dead_pid())
    ctx.client.drain_node("node3", f"{doc['drain_reason']} [claiming]")      # killed inside the doorway
    [done] = recover(ctx)
    node = ctx.client.nodes["node3"]
    assert done["state"] == "done" and node.reason.startswith(f"sdiag: {doc['id']}: ") and "[claim " in node.reason


def test_crash_after_the_drain_is_verified_not_redone(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    _executing(ctx, doc, _dead_pid())
    ctx.client.drain_node("node3", f"{doc['drain_reason']} [claim 1]")
    calls = len([c for c in ctx.client.calls if c[0] == "drain_node"])
    [done] = recover(ctx)
    assert done["state"] == "done" and "not drained again" in done["outcome"]
    assert len([c for c in ctx.client.calls if c[0] == "drain_node"]) == calls


def test_a_live_executor_is_left_alone(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    doc = _drain(ctx)
    _executing(ctx, doc, os.getppid())
    assert housekeeping(ctx) == {"expired": [], "recovered": []}
    assert ctx.store.proposal(doc["id"])["state"] == "executing"


def test_resume_killed_after_slurm_acted_is_done_not_refused(tmp_path, monkeypatch):
    from tests.actions.helpers import report

    ctx = make(tmp_path, monkeypatch)
    ctx.client.set_reason("node3", "sdiag: clocks: gpu3 [claim 1]")
    ctx.store.add_health_report(report("node3", "OK", 0))
    doc = propose(ctx, "resume", "node3", origin="person", reason="clean again")
    _executing(ctx, doc, _dead_pid())
    ctx.client.resume_node("node3")                        # the resume landed, then the executor died
    [done] = recover(ctx)
    assert done["state"] == "done" and "resumed before the crash" in done["outcome"]
