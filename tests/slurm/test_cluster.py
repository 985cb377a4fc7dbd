"""The Slurm adapter and the CLI against the real local cluster."""

from __future__ import annotations

import json
import time

import pytest

from slurm_diag import schemas
from slurm_diag.devcluster import cluster
from slurm_diag.slurm import JobNotFound, NodeNotFound, SlurmUnavailable

from tests.conftest import sdiag

pytestmark = pytest.mark.cluster

SLEEP = "#!/bin/sh\nsleep {s}\n"


def submit(slurm, script: str, *args: str) -> str:
    return slurm.submit(script, ["-o", "/tmp/sdiag-test-%j.out", *args], workdir="/tmp")


def wait_state(slurm, job_id: str, state: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r["JobId"] == job_id and r["JobState"] == state for r in slurm.queue()):
            return
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never reached {state}")


def test_failed_job_is_failed_with_exit_code_3(slurm, cluster_env):
    job_id = submit(slurm, "#!/bin/sh\necho about to fail\nexit 3\n", "-J", "exit3")
    job = slurm.wait(job_id, timeout=60)
    assert (job.state, job.exit_code) == ("FAILED", 3)
    out = sdiag("job", job_id, "--json", env=cluster_env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    schemas.validate("job", doc)
    assert (doc["state"], doc["exit_code"], doc["signal"]) == ("FAILED", 3, 0)
    assert doc["stdout"] == f"/tmp/sdiag-test-{job_id}.out" and doc["work_dir"] == "/tmp"
    text = sdiag("job", job_id, env=cluster_env)
    assert "FAILED" in text.stdout and "code 3" in text.stdout


def test_unknown_job_is_a_clear_error_with_exit_2(slurm, cluster_env):
    with pytest.raises(JobNotFound):
        slurm.get_job("987654")
    out = sdiag("job", "987654", env=cluster_env)
    assert out.returncode == 2
    assert "job 987654 not found" in out.stderr and "Traceback" not in out.stderr
    bad = sdiag("job", "; rm -rf /", env=cluster_env)
    assert bad.returncode == 2 and "not a job id" in bad.stderr


def test_drain_moves_jobs_elsewhere_then_resume(slurm, cluster_env):
    slurm.drain_node("node2", "sdiag-test: maintenance")
    try:
        node2 = slurm.get_node("node2")
        assert node2.drained and node2.reason == "sdiag-test: maintenance"
        listed = json.loads(sdiag("nodes", "--json", env=cluster_env).stdout)
        assert {n["name"]: n["reason"] for n in listed}["node2"] == "sdiag-test: maintenance"
        ids = [submit(slurm, SLEEP.format(s=1), "-J", f"spread{i}") for i in range(6)]
        used = {n for j in ids for n in slurm.wait(j, timeout=90).nodes}
        assert used and "node2" not in used
    finally:
        slurm.resume_node("node2")
    assert not slurm.get_node("node2").drained
    with pytest.raises(NodeNotFound):
        slurm.drain_node("node99", "nope")


def test_requeue_running_job(slurm):
    job_id = submit(slurm, SLEEP.format(s=120), "-J", "requeue-me")
    try:
        wait_state(slurm, job_id, "RUNNING")
        slurm.requeue(job_id)
        record = next(r for r in slurm.queue() if r["JobId"] == job_id)
        assert record["JobState"] in {"PENDING", "REQUEUED", "COMPLETING"}
        assert int(record["Restarts"]) == 1
        slurm.hold(job_id)
        assert next(r for r in slurm.queue() if r["JobId"] == job_id)["Priority"] == "0"
        slurm.release(job_id)
    finally:
        slurm.cancel(job_id)
    with pytest.raises(JobNotFound):
        slurm.requeue("987654")


# A job at its time limit reads TIMEOUT with its limit: checked on the jobs of
# tests/diagnose/test_cluster_explain.py::test_time_limit (Slurm's resolution is a minute, so one
# wait serves both).


# A job whose node's slurmd was killed reads NODE_FAIL on that node, which no longer responds:
# checked on tests/diagnose/test_cluster_explain.py::test_a_node_that_died_under_its_job (the wait for
# slurmctld to give up on the node takes half a minute; one serves both).


def test_unreachable_controller_names_slurm_conf(devcluster, tmp_path):
    conf = tmp_path / "slurm.conf"
    conf.write_text(devcluster.slurm_conf.read_text().replace(
        f"SlurmctldPort={devcluster.ctld_port}", "SlurmctldPort=1"))
    out = sdiag("nodes", env={"SLURM_CONF": str(conf), "SDIAG_CONFIG": "/dev/null"}, timeout=120)
    assert out.returncode == 3, out.stderr
    assert str(conf) in out.stderr and "SLURM_CONF" in out.stderr and "Traceback" not in out.stderr
    from slurm_diag.slurm import CommandClient
    with pytest.raises(SlurmUnavailable):
        CommandClient(conf=str(tmp_path / "missing.conf"), timeout=20).list_nodes()


def test_devcluster_status_json(cluster_env):
    out = sdiag("devcluster", "status", "--json", env=cluster_env)
    doc = json.loads(out.stdout)
    assert all(d["running"] for d in doc["daemons"]), doc["daemons"]
    assert sorted(n["name"] for n in doc["nodes"]) == ["node1", "node2", "node3", "node4"]


def test_devcluster_up_is_idempotent(devcluster):
    before = {d.name: d.pid() for d in cluster.all_daemons(devcluster)}
    cluster.up(devcluster, say=lambda m: None)
    assert {d.name: d.pid() for d in cluster.all_daemons(devcluster)} == before
