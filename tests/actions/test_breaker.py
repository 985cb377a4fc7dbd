"""The circuit breaker: one count with the health cap, trips at its limit, holds until reset."""

from __future__ import annotations

import pytest

from slurm_diag.actions import approve, propose
from slurm_diag.actions import breaker, executor
from slurm_diag.actions import refusal as r
from slurm_diag.actions.refusal import Refused
from slurm_diag.errors import PermissionRefused
from slurm_diag.health import cap

from tests.actions.helpers import AGENT, BOB, as_caller, attribution, health_finding, make


def _drain(ctx, node):
    found = [health_finding(node, f"health:{node}:clocks:3")]
    return propose(as_caller(ctx, AGENT), "drain", node, reason=f"gpu3 slow on {node}",
                   attribution=attribution(found), findings=found)


def test_prolog_drains_count_and_the_breaker_trips_at_the_limit(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch, actions__breaker={"max_nodes": 2, "max_partition_pct": 100.0})
    assert cap.claim(ctx.client, "node1", "sdiag: clocks: gpu3 SM clock 200 MHz", 2).held    # a prolog's drain
    first = _drain(ctx, "node2")
    assert approve(ctx, first["id"])["state"] == "done"
    with pytest.raises(Refused) as info:
        _drain(ctx, "node3")
    assert info.value.rule == r.BREAKER and "limit 2" in info.value.message
    state = breaker.status(ctx.store, ctx.client, ctx.limits)
    assert state["tripped"] and state["held"] == ["node1", "node2"]
    ctx.client.resume_node("node1")                       # room again, but the breaker holds until reset
    with pytest.raises(Refused) as info:
        _drain(ctx, "node3")
    assert "breaker reset" in info.value.message
    with pytest.raises(PermissionRefused):
        as_caller(ctx, BOB).require_approver("reset the circuit breaker")
    breaker.reset(ctx.store, "alice")
    assert approve(ctx, _drain(ctx, "node3")["id"])["state"] == "done"


def test_a_prolog_drain_between_approval_and_execution_trips_it(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch, actions__breaker={"max_nodes": 1, "max_partition_pct": 100.0})
    doc = _drain(ctx, "node3")
    ctx.store.transition(doc["id"], "approved", "alice")
    assert cap.claim(ctx.client, "node1", "sdiag: xid: gpu0 Xid 79", 1).held      # the prolog got there first
    done = executor.execute(ctx, ctx.store.proposal(doc["id"]))
    assert done["state"] == "failed" and "breaker" in done["outcome"] and not ctx.client.nodes["node3"].drained
    assert breaker.state(ctx.store)["tripped"]


def test_percent_of_a_partition(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch, actions__breaker={"max_nodes": 10, "max_partition_pct": 25.0})
    assert approve(ctx, _drain(ctx, "node1")["id"])["state"] == "done"
    with pytest.raises(Refused) as info:
        _drain(ctx, "node2")
    assert "25% = 1" in info.value.message and "partition debug" in info.value.message


def test_limit_defaults_to_the_health_cap(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    assert ctx.limits.max_nodes == ctx.cfg.get("health.policy.max_drained_nodes")


def test_concurrent_open_approved_drains_count(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch, actions__breaker={"max_nodes": 1, "max_partition_pct": 100.0})
    doc = _drain(ctx, "node1")
    ctx.store.transition(doc["id"], "approved", "alice")
    with pytest.raises(Refused) as info:
        _drain(ctx, "node2")
    assert info.value.rule == r.BREAKER
