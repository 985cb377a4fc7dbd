"""The paper's case (arXiv 2411.05349) end to end on the real local cluster: a two-node job slows
down mid-run because one node does; the agent, as a Slurm job, flags it, asks for probes, and its
follow-up pass finds the node below the fleet and proposes draining it. Timed from the fault."""

from __future__ import annotations

import sys

import pytest

from slurm_diag.devcluster import cluster, paper_case

pytestmark = pytest.mark.cluster


@pytest.fixture()
def proposals_closed(devcluster):
    from slurm_diag import config
    from slurm_diag.store import Store

    store = Store(config.load(devcluster.base / "etc" / "sdiag.toml").store_url)
    yield store
    for p in store.proposals():
        if p["action"] == "drain" and p["state"] == "proposed":
            store.transition(p["id"], "expired", "test", note="test cleanup")


def test_a_node_slowed_mid_job_is_found_by_the_agent_and_proposed_for_drain(
        idle_cluster, devcluster, slurm, cluster_env, monkeypatch, proposals_closed):
    for key, value in cluster_env.items():
        monkeypatch.setenv(key, value)
    lines = []
    from slurm_diag import config

    cfg = config.load(devcluster.base / "etc" / "sdiag.toml")
    out = paper_case.run(devcluster, slurm, proposals_closed, cfg, share=0.2, say=lines.append, python=sys.executable)
    print("\n".join(lines))
    print("timings (s after the fault):", out.timings)
    node = out.slowed
    assert not cluster._cgroup(devcluster, node).exists()             # back at full speed
    elapsed = out.job_elapsed_s
    assert elapsed[out.job_id] >= 1.5 * max(elapsed[j] for j in out.earlier), elapsed

    [asked] = out.first_pass["probes_asked"]
    assert asked["for_jobs"] == [out.job_id] and node in asked["nodes"]
    assert len(asked["nodes"]) == 4                                   # a fleet to compare with
    assert out.first_pass["proposals"] == []                          # slowness alone drains nothing

    [collected] = out.follow_up["probes_collected"]
    assert collected["sweep"] == asked["sweep"] and collected["flagged"] == [node], collected
    a = out.attribution
    assert a and a["label"] == "slow_node" and a["scope"] == "infra" and a["suspect_nodes"] == [node], a
    assert out.proposal, out.follow_up
    assert out.proposal["state"] == "proposed" and out.proposal["target"] == node
    assert out.timings["fault_to_proposal"] < 600                     # the paper's bar: under 10 minutes
    assert not slurm.get_node(node).drained                           # it proposes; a person decides
