"""Health checks inside the real local cluster: prolog, HealthCheckProgram and the SPANK option."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from slurm_diag.devcluster import cluster

pytestmark = pytest.mark.cluster

OTHERS = ("node1", "node2", "node4")


def until(what: str, probe, timeout: float = 60, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def sbatch_raw(devcluster, *args: str, script: str = "#!/bin/sh\nsleep 1\n"):
    return subprocess.run(["sbatch", "--parsable", "--chdir=/tmp", "-o", "/tmp/sdiag-test-%j.out", *args],
                          input=script, capture_output=True, text=True, timeout=30,
                          env={**os.environ, "SLURM_CONF": str(devcluster.slurm_conf)})


def run_healthcheck(devcluster, node: str) -> None:
    """What slurmd does every HealthCheckInterval: the wrapper with only SLURMD_NODENAME set."""
    done = subprocess.run([str(devcluster.base / "bin" / "healthcheck")], env={"SLURMD_NODENAME": node},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.fixture()
def restore(devcluster, slurm):
    """Whatever a test does to node weights, profiles or drains, leave the cluster healthy."""
    yield
    for name in devcluster.node_names:
        cluster.set_profile(devcluster, name, cluster.HEALTHY_PROFILE)
        slurm.set_node_weight(name, 1)
        if slurm.get_node(name).drained:
            slurm.resume_node(name)


def test_throttled_gpu_keeps_job_off_node3(devcluster, slurm, restore):
    cluster.set_profile(devcluster, "node3", "h100-8-throttled-gpu3")
    for name in OTHERS:  # make node3 the scheduler's first choice, without pinning the job to it
        slurm.set_node_weight(name, 100)
    job_id = slurm.submit("#!/bin/sh\nhostname\n", ["-o", "/tmp/sdiag-test-%j.out", "--gres=gpu:1"], workdir="/tmp")
    node3 = until("node3 drained by sdiag", lambda: (n := slurm.get_node("node3")).drained
                  and (n.reason or "").startswith("sdiag:") and n, timeout=60)
    assert "gpu3" in node3.reason and "200 MHz" in node3.reason, node3.reason
    job = slurm.wait(job_id, timeout=120, poll=1)
    assert job.state == "COMPLETED" and "node3" not in job.nodes, job
    assert all(not slurm.get_node(name).drained for name in OTHERS)
    reasons = {r.node: r.reason for r in slurm.node_reasons()}
    assert reasons["node3"].startswith("sdiag:")


def _spooled_reports(devcluster, job_id: str, context: str = "prolog") -> list[dict]:
    spool = devcluster.base.parent / "spool" / "health"
    found = []
    for path in spool.glob(f"*-{context}-{job_id}.json"):
        try:
            found.append(json.loads(path.read_text()))
        except FileNotFoundError:          # ingested meanwhile
            pass
    return found


def _stored_reports(devcluster, job_id: str, context: str = "prolog") -> list[dict]:
    from slurm_diag import config
    from slurm_diag.store import Store

    store = Store(config.load(devcluster.base / "etc" / "sdiag.toml").store_url)
    return [r for r in store.health_reports(limit=500) if r.get("job_id") == job_id and r.get("context") == context]


def _reports(devcluster, job_id: str, context: str = "prolog") -> list[dict]:
    """The hook's reports for a job, wherever they are now (the spool, or the store after ingest)."""
    return _spooled_reports(devcluster, job_id, context) or _stored_reports(devcluster, job_id, context)


def test_health_check_option_reaches_prolog(devcluster, slurm, restore):
    if not (cluster.REPO / "spank" / "sdiag_health.so").exists():
        pytest.fail("spank/sdiag_health.so is not built: `make setup` builds it")
    out = sbatch_raw(devcluster, "--health-check=full")
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.strip()
    slurm.wait(job_id, timeout=60)
    reports = until("the prolog's report", lambda: _reports(devcluster, job_id), timeout=20)
    assert reports[0]["level"] == "full" and reports[0]["job_id"] == job_id
    assert "gpu_sanity" in {c["name"] for c in reports[0]["checks"]}
    bad = sbatch_raw(devcluster, "--health-check=sometimes")
    assert bad.returncode != 0 and "quick" in bad.stderr and "sometimes" in bad.stderr


def test_off_refused_when_admin_disallows(devcluster, restore):
    plug = devcluster.base / "etc" / "plugstack.conf"
    before = plug.read_text()
    plug.write_text(cluster.plugstack(devcluster, allow_off=False))  # sbatch reads it at each call
    try:
        refused = sbatch_raw(devcluster, "--health-check=off")
        assert refused.returncode != 0 and "off" in refused.stderr, refused.stderr
        assert sbatch_raw(devcluster, "--health-check=quick").returncode == 0
    finally:
        plug.write_text(before)
    assert sbatch_raw(devcluster, "--health-check=off").returncode == 0


def test_healthcheck_drains_and_resumes_its_own_drain_only(devcluster, slurm, restore):
    cluster.set_profile(devcluster, "node3", "h100-8-ib-down")
    run_healthcheck(devcluster, "node3")
    node3 = slurm.get_node("node3")
    assert node3.drained and node3.reason.startswith("sdiag:") and "infiniband" in node3.reason.lower()

    slurm.drain_node("node2", "admin: bios update")
    cluster.set_profile(devcluster, "node3", cluster.HEALTHY_PROFILE)
    from slurm_diag.config import load

    need = load().get("health.policy.resume_after_clean_runs")
    for run in range(1, need + 1):
        run_healthcheck(devcluster, "node3")
        run_healthcheck(devcluster, "node2")
        assert slurm.get_node("node3").drained == (run < need), f"after clean run {run} of {need}"
    node2 = slurm.get_node("node2")
    assert node2.drained and node2.reason == "admin: bios update"


@pytest.fixture()
def cap_two(devcluster):
    """health.policy.max_drained_nodes = 2 in the config every hook of the cluster reads."""
    conf = devcluster.base / "etc" / "sdiag.toml"
    before = conf.read_text()
    if "[health" in before:
        pytest.fail(f"{conf} already has a [health...] table; this test appends one: adapt the test")
    conf.write_text(before + "\n[health.policy]\nmax_drained_nodes = 2\n")
    try:
        yield 2
    finally:
        conf.write_text(before)


def _spooled_actions(devcluster, job_ids: set[str]) -> list[dict]:
    """The prologs' actions for these jobs, still in the spool or already ingested (the epilog moves
    them into the store's audit log)."""
    from slurm_diag import config
    from slurm_diag.store import Store

    store = Store(config.load(devcluster.base / "etc" / "sdiag.toml").store_url)
    found = [row["detail"] for job_id in job_ids for row in store.audit_log(subject=job_id)
             if row["event"] == "health.action" and row["detail"].get("context") == "prolog"]
    seen = {(a["job_id"], a["node"]) for a in found}
    for path in (devcluster.base.parent / "spool" / "actions").glob("*-prolog.json"):
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:          # ingested meanwhile (then in the store on the next read)
            continue
        if doc.get("job_id") in job_ids and (doc["job_id"], doc["node"]) not in seen:
            found.append(doc)
    return found


def test_cap_holds_when_every_prolog_finds_a_fault_at_once(idle_cluster, devcluster, slurm, restore, cap_two):
    """All four nodes throttled, cap 2, four exclusive jobs released in one scheduling cycle: their
    prologs run at once on four slurmd; exactly two nodes drain, the other two run the jobs and
    report what they would have done."""
    for name in devcluster.node_names:
        cluster.set_profile(devcluster, name, "h100-8-throttled-gpu3")
    job_ids = [slurm.submit("#!/bin/sh\nhostname\n", ["--hold", "--exclusive", "-o", "/tmp/sdiag-test-%j.out"],
                            workdir="/tmp") for _ in devcluster.node_names]
    released = subprocess.run(["scontrol", "release", ",".join(job_ids)], capture_output=True, text=True,
                              timeout=30, env={**os.environ, "SLURM_CONF": str(devcluster.slurm_conf)})
    assert released.returncode == 0, released.stderr
    jobs = [slurm.wait(j, timeout=180, poll=1) for j in job_ids]
    assert [j.state for j in jobs] == ["COMPLETED"] * 4, jobs

    def two_held_with_our_reason():
        drained = {n.name: n.reason for n in slurm.list_nodes() if n.drained}
        return len(drained) == 2 and all(r.startswith("sdiag: clocks: gpu3 SM clock 200 MHz") for r in drained.values()) \
            and drained
    drained = until("two nodes drained with the sdiag reason (the drainer restores it over 'Prolog error')",
                    two_held_with_our_reason, timeout=30)
    for reason in drained.values():
        assert reason.endswith("]") and "[claim " in reason, reason
    running = set(devcluster.node_names) - set(drained)
    assert {n for j in jobs for n in j.nodes} <= running, (jobs, drained)

    # one action per prolog, in the spool or already ingested by an epilog (read until all four are seen)
    actions = until("every prolog's action", lambda: (a := _spooled_actions(devcluster, set(job_ids)))
                    and len({x["job_id"] for x in a}) == 4 and a, timeout=30)
    held = {a["node"] for a in actions if a["action"] == "drain"}
    assert held == set(drained), actions
    allowed = [a for a in actions if a["action"] == "none"]
    assert {a["node"] for a in allowed} == running, actions
    assert all("cap reached" in a["note"] and a["reason"].startswith("sdiag: clocks: gpu3") for a in allowed)
    print("claim seconds:", sorted(a["claim_s"] for a in actions), "held:", sorted(drained.items()))
    time.sleep(5)      # nothing drains later: the drainers are done and respect the cap
    assert sorted(n.name for n in slurm.list_nodes() if n.drained) == sorted(drained)


def test_reports_reach_the_store_without_a_manual_ingest(devcluster, slurm, restore):
    """The prolog's report is in the store after the next HealthCheckProgram run (slurmd runs it
    every HealthCheckInterval; here the test runs it, as in the drain tests), and the epilog's
    right after the job ends: nobody runs `store ingest`."""
    out = sbatch_raw(devcluster, script="#!/bin/sh\nsleep 6\n")
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.strip()
    running = until("the job running", lambda: (j := slurm.get_job(job_id)).state == "RUNNING" and j, timeout=60)
    until("the prolog's report spooled or stored", lambda: _reports(devcluster, job_id), timeout=20)
    run_healthcheck(devcluster, running.nodes[0])
    stored = until("the prolog's report in the store", lambda: _stored_reports(devcluster, job_id), timeout=20)
    assert stored[0]["node"] == running.nodes[0] and stored[0]["context"] == "prolog"
    assert not _spooled_reports(devcluster, job_id), "ingested reports must leave the spool"
    slurm.wait(job_id, timeout=60)
    epilog = until("the epilog's report in the store", lambda: _stored_reports(devcluster, job_id, "epilog"),
                   timeout=30)
    assert epilog[0]["job_id"] == job_id
