"""The agent as a Slurm job on the local cluster: three jobs fail on node3 (each alone says only
"exit 3"), node3's GPU 3 is throttled during them (the epilogs record it, and drain node3; an
admin resumes it), then jobs/agent.sbatch runs the loop as a batch job: the store holds an
attribution per job, the node-level attribution for node3, and the drain proposal; a second
submission adds nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slurm_diag.devcluster import cluster
from tests.conftest import script_started

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]


def sbatch(devcluster, env, *args, script=None) -> str:
    out = subprocess.run(["sbatch", "--parsable", "--chdir=/tmp", *args], input=script, capture_output=True,
                         text=True, timeout=30, env={"PATH": "/usr/bin:/bin", **env,
                                                     "SLURM_CONF": str(devcluster.slurm_conf)})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def agent_pass(devcluster, env, slurm, tmp_path, n: int, began: float) -> dict:
    """One agent job over the window since this test began (earlier tests' jobs and findings stay out)."""
    out = tmp_path / f"agent-{n}.out"
    since = f"{int(time.time() - began) // 60 + 1}m"
    job_id = sbatch(devcluster, env, "-w", "node1", "-o", str(out), str(ROOT / "jobs" / "agent.sbatch"),
                    "--since", since, "--json")
    job = slurm.wait(job_id, timeout=240, poll=1)
    text = out.read_text()
    assert job.state == "COMPLETED", text[-2000:]
    return json.loads(text[text.index("{"):])


@pytest.fixture()
def restored(devcluster, slurm):
    yield
    for name in devcluster.node_names:
        cluster.set_profile(devcluster, name, cluster.HEALTHY_PROFILE)
        if slurm.get_node(name).drained:
            slurm.resume_node(name)


def test_the_agent_job_attributes_the_failures_and_proposes_draining_the_throttled_node(
        idle_cluster, devcluster, cluster_env, slurm, tmp_path, restored):
    from slurm_diag import config
    from slurm_diag.store import Store

    began = time.time()
    env = {**cluster_env, "SDIAG_PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    assert not slurm.get_node("node3").drained, "node3 must be up before the test (the devcluster fixture resumes it)"
    quick, slow = "#!/bin/sh\necho step 1\nexit 3\n", "#!/bin/sh\necho step 1\nsleep 6\nexit 3\n"
    ids = []
    for script in (quick, quick, slow):           # one at a time: node3 has 2 CPUs, and once drained runs nothing
        ids.append(sbatch(devcluster, env, "-w", "node3", "-o", "/tmp/sdiag-agent-fail-%j.out", script=script))
        if script is quick:
            assert slurm.wait(ids[-1], timeout=120, poll=0.5).state == "FAILED"
    script_started(slurm, ids[-1], f"/tmp/sdiag-agent-fail-{ids[-1]}.out")
    cluster.set_profile(devcluster, "node3", "h100-8-throttled-gpu3")     # its epilog sees gpu3 held down
    assert slurm.wait(ids[-1], timeout=120, poll=0.5).state == "FAILED"
    time.sleep(3)                                   # the epilogs' reports reach the store
    cluster.set_profile(devcluster, "node3", cluster.HEALTHY_PROFILE)
    if slurm.get_node("node3").drained:             # an admin resumed it; the evidence stays on record
        slurm.resume_node("node3")
    store = Store(config.load(Path(cluster_env["SDIAG_CONFIG"])).store_url)
    open_before = [p for p in store.proposals() if (p["action"], p["target"]) == ("drain", "node3") and p["state"] in
                   ("proposed", "approved", "executing")]

    first = agent_pass(devcluster, env, slurm, tmp_path, 1, began)
    per_job = {a["job_id"]: a for a in first["attributions"] if a["job_id"] in ids}
    assert set(per_job) == set(ids), first
    node = [a for a in first["attributions"] if a["job_id"] is None and a["suspect_nodes"] == ["node3"]]
    assert node and node[0]["label"] == "gpu_throttle" and node[0]["scope"] == "infra", first
    decided = [r for r in store.audit_log(subject="node:node3") if r["event"] == "agent.attribution"
               and r["detail"]["attribution_id"] == node[0]["id"]]
    decision = decided[0]["detail"]["transcript"]["decide"][0]
    proposal_id = decision.split(" as ")[-1] if decision.startswith("proposed drain node3") else \
        decision.split(": ")[1].split()[0]         # "not proposed again: <id> is proposed" (one open at a time)
    proposal = store.proposal(proposal_id)
    assert (proposal["action"], proposal["target"], proposal["state"]) == ("drain", "node3", "proposed"), decision
    if not open_before:
        assert [p["id"] for p in first["proposals"] if p["target"] == "node3"] == [proposal_id]
        assert proposal["attribution"]["suspect_nodes"] == ["node3"]
    assert not slurm.get_node("node3").drained                       # it proposes, never drains
    stored = {a["job_id"] for a in store.attributions() if a["job_id"] in ids}
    assert stored == set(ids)
    print(f"agent pass: {first['seconds']} s, {first['seconds_per_job']} s per job, {first['jobs_seen']} jobs")

    second = agent_pass(devcluster, env, slurm, tmp_path, 2, began)
    assert [a for a in second["attributions"] if a["job_id"] in ids or a["job_id"] is None
            and a["suspect_nodes"] == ["node3"]] == [], second
    assert [p for p in second["proposals"] if p["target"] == "node3"] == []
    assert set(ids) <= set(second["unchanged"])
    assert sorted(a["job_id"] for a in store.attributions() if a["job_id"] in ids) == sorted(ids)
    for p in first["proposals"]:                   # leave no open proposal behind for other tests
        store.transition(p["id"], "expired", "test", note="test cleanup")
