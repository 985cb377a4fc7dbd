"""The in-memory Slurm behaves like the adapter where the health code relies on it."""

import inspect

import pytest

from slurm_diag.slurm.client import CommandClient, SlurmClient
from slurm_diag.slurm.errors import JobNotFound, NodeNotFound, SlurmUnavailable
from slurm_diag.slurm.fake import FakeSlurmClient, make_node


def test_implements_every_method_of_the_protocol_with_the_same_arguments():
    for name, member in inspect.getmembers(SlurmClient, inspect.isfunction):
        if name.startswith("_"):
            continue
        fake = getattr(FakeSlurmClient, name, None)
        assert fake is not None, f"FakeSlurmClient lacks {name}"
        assert list(inspect.signature(fake).parameters) == list(inspect.signature(member).parameters), name
        assert hasattr(CommandClient, name)


def test_drain_resume_and_list_nodes():
    slurm = FakeSlurmClient(["node2", "node1"], clock=lambda: 1_800_000_000.0)
    slurm.drain_node("node1", "sdiag: clocks: gpu3 SM clock 200 MHz")
    node1 = slurm.get_node("node1")
    assert node1.drained and node1.reason == "sdiag: clocks: gpu3 SM clock 200 MHz"
    assert node1.reason_time == "2027-01-15T08:00:00" and node1.reason_user == "root"
    assert [n.name for n in slurm.list_nodes()] == ["node1", "node2"]
    assert slurm.drained() == {"node1": "sdiag: clocks: gpu3 SM clock 200 MHz"}
    assert [(r.node, r.reason) for r in slurm.node_reasons()] == [("node1", "sdiag: clocks: gpu3 SM clock 200 MHz")]
    slurm.resume_node("node1")
    assert not slurm.get_node("node1").drained and slurm.get_node("node1").reason is None
    assert [m for m, _ in slurm.calls] == ["drain_node", "get_node", "list_nodes", "node_reasons",
                                           "resume_node", "get_node", "get_node"]


def test_typed_errors_like_the_adapter():
    slurm = FakeSlurmClient([make_node("node1", flags=("DRAIN",), reason="admin: bios")])
    with pytest.raises(NodeNotFound):
        slurm.get_node("node9")
    with pytest.raises(NodeNotFound):
        slurm.drain_node("node9", "sdiag: x")
    with pytest.raises(ValueError):
        slurm.drain_node("node1", "  ")
    slurm.unreachable = True
    with pytest.raises(SlurmUnavailable) as err:
        slurm.list_nodes()
    assert "Unable to contact slurm controller" in err.value.stderr
    assert slurm.drained() == {"node1": "admin: bios"}   # state untouched


def test_another_actor_changes_the_world_between_two_calls():
    slurm = FakeSlurmClient(["node1"])
    seen = []

    def admin_acts(method, client):
        seen.append(method)
        if method == "resume_node":
            client.set_reason("node1", "admin: replace gpu3")

    slurm.before_call = admin_acts
    slurm.drain_node("node1", "sdiag: ecc")
    slurm.resume_node("node1")          # the admin's drain lands first, then our resume clears it
    assert seen == ["drain_node", "resume_node"] and not slurm.get_node("node1").drained


def test_jobs_minimal():
    slurm = FakeSlurmClient()
    job_id = slurm.submit("#!/bin/sh\ntrue\n")
    assert slurm.get_job(job_id).state == "PENDING"
    with pytest.raises(TimeoutError):
        slurm.wait(job_id, timeout=1)
    slurm.set_job_state(job_id, "COMPLETED")
    assert slurm.wait(job_id, timeout=1).finished
    slurm.cancel(job_id)
    assert slurm.get_job(job_id).state == "CANCELLED"
    with pytest.raises(JobNotFound):
        slurm.get_job("999")
