"""Actions on the real local cluster: approvals drain with the proposal's reason, real unix users
are refused, an admin's drain is never resumed, the breaker trips while prologs drain too, expired
and stale proposals do not run, and an executor killed mid-way is recovered to one result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slurm_diag.devcluster import cluster
from tests.conftest import REPO, sdiag
from tests.core import unix_user

pytestmark = pytest.mark.cluster
APPROVER_GROUP = "sdiag-approvers"
APPROVER = "sdiag-test-approver"


@pytest.fixture()
def conf(devcluster):
    """Extra config for these tests, appended to the cluster's config and removed afterwards."""
    path = devcluster.base / "etc" / "sdiag.toml"
    before = path.read_text()
    if "[actions" in before or "[access" in before:
        pytest.fail(f"{path} already has [actions]/[access]; these tests append their own: adapt the test")

    def write(text: str) -> None:
        path.write_text(before + "\n" + text)
    write("[access]\nagent_user = \"sdiag-agent-nobody\"\n")
    yield write
    path.write_text(before)


@pytest.fixture()
def restore(devcluster, slurm, cluster_env):
    # a capped hook of an earlier test trips the breaker on purpose (once its record is ingested)
    sdiag("actions", "breaker", "reset", "--note", "test setup", env=cluster_env)
    yield
    for job in slurm.queue():
        if (job.get("JobName") or "").startswith("sdiag-actions"):
            slurm.cancel(job["JobId"])
    for name in devcluster.node_names:
        cluster.set_profile(devcluster, name, cluster.HEALTHY_PROFILE)
        slurm.set_node_weight(name, 1)
        if slurm.get_node(name).drained:
            slurm.resume_node(name)
    sdiag("actions", "breaker", "reset", "--note", "test cleanup", env=cluster_env)


def _ctx(devcluster):
    from slurm_diag import config
    from slurm_diag.actions import Context
    from slurm_diag.slurm import CommandClient

    cfg = config.load(devcluster.base / "etc" / "sdiag.toml")
    return Context.from_config(cfg, client=CommandClient(conf=str(devcluster.slurm_conf), timeout=30))


def _agent_drain(devcluster, node: str, ctx=None):
    """What the agent proposes after a health check found gpu3 throttled on ``node``."""
    from slurm_diag.actions import propose
    from slurm_diag.identity import Caller

    ctx = ctx or _ctx(devcluster)
    checked = sdiag("health", "check", "--profile", "h100-8-throttled-gpu3", "--node", node, "--json")
    report = json.loads(checked.stdout)
    check = next(c for c in report["checks"] if c["status"] == "CRITICAL")
    finding = {"id": f"health:{node}:{check['name']}:{report['time']}", "source": "health", "node": node,
               "gpu": check.get("gpu"), "severity": "CRITICAL", "summary": check["message"], "time": report["time"]}
    attribution = {"label": "gpu_throttle", "scope": "infra", "component": "gpu", "confidence": 0.9,
                   "suspect_nodes": [node], "supporting": [finding["id"]], "contradicting": [],
                   "explanation": f"gpu3 on {node} held at 200 MHz", "next_steps": [f"drain {node}"]}
    agent = Caller(ctx.caller.uid, ctx.access.agent_user or "sdiag-agent", ctx.caller.groups)
    import dataclasses
    return propose(dataclasses.replace(ctx, caller=agent), "drain", node, reason=f"gpu3 SM clock 200 MHz on {node}",
                   attribution=attribution, findings=[finding], model="engine", prompt_version="none")


def _approve(cluster_env, pid: str, **env):
    return sdiag("actions", "approve", pid, env={**cluster_env, **env}, timeout=120)


def test_approved_drain_lands_with_its_reason_and_the_job_runs_elsewhere(devcluster, slurm, cluster_env, conf,
                                                                        restore):
    doc = _agent_drain(devcluster, "node3")
    assert not slurm.get_node("node3").drained
    done = _approve(cluster_env, doc["id"])
    assert done.returncode == 0, done.stderr
    node3 = slurm.get_node("node3")
    assert node3.drained and node3.reason.startswith(f"sdiag: {doc['id']}: gpu3 SM clock 200 MHz on node3"), node3
    shown = json.loads(sdiag("actions", "show", doc["id"], "--json", env=cluster_env).stdout)
    assert shown["proposal"]["state"] == "done" and shown["proposal"]["decided_by"] == "root"
    assert [a["event"] for a in shown["audit"]] == ["proposal.created", "proposal.approved", "proposal.executing",
                                                    "proposal.done"]
    print(f"approval to drained: {shown['proposal']['approval_to_effect_s']:.3f} s")
    for name in ("node1", "node2", "node4"):      # node3 would be the scheduler's first pick
        slurm.set_node_weight(name, 100)
    job_id = slurm.submit("#!/bin/sh\nhostname\n", ["-J", "sdiag-actions-elsewhere", "-o", "/tmp/sdiag-test-%j.out"],
                          workdir="/tmp")
    job = slurm.wait(job_id, timeout=120, poll=1)
    assert job.state == "COMPLETED" and "node3" not in job.nodes, job
    again = _approve(cluster_env, doc["id"])                  # approving twice drains once
    assert again.returncode == 0 and slurm.get_node("node3").reason == node3.reason


@pytest.fixture()
def users(devcluster):
    """A user who may not approve (the shared test user) and one in the approvers' group."""
    plain = unix_user.ensure_user()
    if subprocess.run(["getent", "group", APPROVER_GROUP], capture_output=True).returncode != 0:
        subprocess.run(["groupadd", APPROVER_GROUP], capture_output=True, timeout=30)
    try:
        import pwd
        approver = pwd.getpwnam(APPROVER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "-g", APPROVER_GROUP, "--shell", "/bin/sh", APPROVER],
                       capture_output=True, timeout=30)
        import pwd
        approver = pwd.getpwnam(APPROVER)
    cli = Path(sys.executable).parent / "sdiag-agent"
    unix_user.require_readable(plain, cli, REPO / "slurm_diag" / "__init__.py", devcluster.base / "etc" / "sdiag.toml")
    return plain, approver


def _as(user, devcluster, *args):
    cli = str(Path(sys.executable).parent / "sdiag-agent")
    store = {"SDIAG_STORE_URL": os.environ["SDIAG_STORE_URL"]} if os.environ.get("SDIAG_STORE_URL") else {}
    env = unix_user.user_env(user, SLURM_CONF=str(devcluster.slurm_conf),
                             SDIAG_CONFIG=str(devcluster.base / "etc" / "sdiag.toml"), **store)
    return unix_user.run_as(user, [cli, *args], env=env, timeout=60)


def test_real_unix_users_non_approver_and_agent_refused_exit_4(devcluster, slurm, cluster_env, conf, restore, users):
    plain, approver = users
    conf(f'[access]\nagent_user = "{plain.pw_name}"\n[access.approvers]\nusers = ["{plain.pw_name}"]\n'
         f'groups = ["{APPROVER_GROUP}"]\n')
    doc = _agent_drain(devcluster, "node3")
    as_agent = _as(plain, devcluster, "actions", "approve", doc["id"])
    assert as_agent.returncode == 4 and "agent's account" in as_agent.stderr, as_agent.stderr
    conf('[access]\nagent_user = "sdiag-agent-nobody"\n')
    refused = _as(plain, devcluster, "actions", "approve", doc["id"])
    assert refused.returncode == 4 and f"you ({plain.pw_name}, uid {plain.pw_uid}) may not approve" in refused.stderr
    assert "Traceback" not in refused.stderr
    for args in (("reject", doc["id"], "--why", "no"), ("breaker", "reset"), ("list",), ("show", doc["id"]),
                 ("propose", "drain", "node3", "--reason", "it is slow")):
        assert _as(plain, devcluster, "actions", *args).returncode == 4, args
    assert not slurm.get_node("node3").drained
    assert _ctx(devcluster).store.proposal(doc["id"])["state"] == "proposed"


@pytest.fixture()
def shared_store(monkeypatch):
    """A SQLite store the approvers' group may write (the cluster's MariaDB credentials are root's)."""
    import grp
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="sdiag-actions-", dir="/tmp"))
    gid = grp.getgrnam(APPROVER_GROUP).gr_gid
    os.chown(folder, 0, gid)
    folder.chmod(0o2770)
    url = f"sqlite:///{folder / 'sdiag.db'}"
    monkeypatch.setenv("SDIAG_STORE_URL", url)
    from slurm_diag.store import Store
    Store(url)
    os.chown(folder / "sdiag.db", 0, gid)
    (folder / "sdiag.db").chmod(0o660)
    yield url
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def slurm_admin(users, devcluster):
    """The group approver made a Slurm administrator (node updates need it), for this test only."""
    env = {**os.environ, "SLURM_CONF": str(devcluster.slurm_conf)}
    name = users[1].pw_name

    def level(value: str) -> None:
        subprocess.run(["sacctmgr", "-i", "add", "user", name, "account=root"], env=env, capture_output=True, timeout=30)
        done = subprocess.run(["sacctmgr", "-i", "modify", "user", name, "set", f"adminlevel={value}"], env=env,
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
    level("Administrator")
    time.sleep(2)                                  # slurmctld learns it from slurmdbd
    yield
    level("None")


def test_a_group_approver_approves_as_themself(devcluster, slurm, cluster_env, conf, restore, users, shared_store,
                                               slurm_admin):
    plain, approver = users
    conf(f'[access]\nagent_user = "sdiag-agent-nobody"\n[access.approvers]\ngroups = ["{APPROVER_GROUP}"]\n')
    doc = _agent_drain(devcluster, "node3")
    by_group = _as(approver, devcluster, "actions", "approve", doc["id"], "--note", "confirmed on the BMC")
    assert by_group.returncode == 0, by_group.stderr
    node3 = slurm.get_node("node3")
    assert node3.drained and node3.reason.startswith(f"sdiag: {doc['id']}: ") and node3.reason_user == approver.pw_name
    final = _ctx(devcluster).store.proposal(doc["id"])
    assert (final["state"], final["decided_by"], final["note"]) == ("done", approver.pw_name, "confirmed on the BMC")


def test_resume_of_an_admins_drain_is_refused(devcluster, slurm, cluster_env, conf, restore):
    slurm.drain_node("node2", "admin: bios update")
    done = sdiag("actions", "propose", "resume", "node2", "--reason", "looks fine", env=cluster_env)
    assert done.returncode == 1 and "drained_by_other" in done.stderr, done.stderr
    node2 = slurm.get_node("node2")
    assert node2.drained and node2.reason == "admin: bios update"


def test_expired_and_stale_proposals_do_not_run(devcluster, slurm, cluster_env, conf, restore):
    conf('[actions]\nexpiry_h = 0.0003\n')                   # about a second
    expiring = sdiag("actions", "propose", "drain", "node1", "--reason", f"fan failing {time.time():.0f}",
                     env=cluster_env)
    assert expiring.returncode == 0, expiring.stderr
    pid = expiring.stdout.split()[0]
    time.sleep(2)
    late = _approve(cluster_env, pid)
    assert late.returncode == 1 and "expired" in late.stderr and not slurm.get_node("node1").drained, late.stderr
    conf('')
    stale = _agent_drain(devcluster, "node3")
    slurm.drain_node("node3", "admin: reseat gpu3")
    refused = _approve(cluster_env, stale["id"])
    assert refused.returncode == 1 and "drained_by_other" in refused.stderr
    assert slurm.get_node("node3").reason == "admin: reseat gpu3"
    slurm.resume_node("node3")
    healthy = _agent_drain(devcluster, "node4")
    subprocess.run([str(devcluster.base / "bin" / "healthcheck")], env={"SLURMD_NODENAME": "node4"},
                   capture_output=True, timeout=60, check=True)          # the real HealthCheckProgram: clean
    ingest = sdiag("store", "ingest", "--spool", str(devcluster.base.parent / "spool"), env=cluster_env)
    assert ingest.returncode == 0, ingest.stderr
    refused = _approve(cluster_env, healthy["id"])
    assert refused.returncode == 1 and "healthy_again" in refused.stderr, refused.stderr
    assert not slurm.get_node("node4").drained


def test_breaker_trips_while_prologs_drain_and_holds_until_reset(devcluster, slurm, cluster_env, conf, restore):
    conf('[actions.breaker]\nmax_nodes = 2\nmax_partition_pct = 100\n[health.policy]\nmax_drained_nodes = 2\n')
    for name in ("node1", "node4"):
        cluster.set_profile(devcluster, name, "h100-8-throttled-gpu3")
    a, b = (_agent_drain(devcluster, n) for n in ("node2", "node3"))
    jobs = [slurm.submit("#!/bin/sh\nhostname\n", ["--hold", "-w", n, "-J", "sdiag-actions-prolog",
                                                    "-o", "/tmp/sdiag-test-%j.out"], workdir="/tmp")
            for n in ("node1", "node4")]
    cmd = [sys.executable, "-m", "slurm_diag", "actions", "approve"]
    env = {**os.environ, **cluster_env}
    approvals = [subprocess.Popen([*cmd, p["id"]], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for p in (a, b)]
    subprocess.run(["scontrol", "release", ",".join(jobs)], env=env, check=True, capture_output=True, timeout=30)
    results = [(p.wait(timeout=120), p.stderr.read()) for p in approvals]
    time.sleep(20)                                 # the prologs' drains and their drainer settle
    held = {n.name: n.reason for n in slurm.list_nodes() if n.drained}
    assert len(held) <= 2 and all(r.startswith("sdiag:") for r in held.values()), held
    failed = [err for rc, err in results if rc != 0]
    print(f"breaker race: held {held}; approvals {[rc for rc, _ in results]}")
    # four claimants, two places: whoever lost trips the breaker. A losing approval trips it at once;
    # a losing prolog (or its epilog) once its spooled record reaches the store
    ingest = sdiag("store", "ingest", "--spool", str(devcluster.base.parent / "spool"), env=cluster_env)
    assert ingest.returncode == 0, ingest.stderr
    status = json.loads(sdiag("actions", "breaker", "--json", env=cluster_env).stdout)
    assert status["held"] == sorted(held)
    assert status["tripped"] is True, (status, results)
    assert status["by"].startswith(("prolog@", "epilog@")) if not failed else True, status
    from slurm_diag.actions import Refused
    free = next(n for n in devcluster.node_names if n not in held)
    with pytest.raises(Refused) as third:          # and no drain runs while it is open
        _agent_drain(devcluster, free)
    assert third.value.rule == "breaker", third.value.message
    assert "TRIPPED" in sdiag("actions", "list", env=cluster_env).stdout
    for name in held:
        slurm.resume_node(name)
    for n in ("node1", "node4"):
        cluster.set_profile(devcluster, n, cluster.HEALTHY_PROFILE)
    for job in jobs:
        slurm.cancel(job)
    reason = f"psu alarm {time.time():.0f}"            # the store outlives test runs: new evidence each run
    held_off = sdiag("actions", "propose", "drain", "node2", "--reason", reason, env=cluster_env)
    assert held_off.returncode == 1 and "breaker" in held_off.stderr, held_off.stderr
    assert sdiag("actions", "breaker", "reset", env=cluster_env).returncode == 0
    after = sdiag("actions", "propose", "drain", "node2", "--reason", reason, env=cluster_env)
    assert after.returncode == 0, after.stderr
    assert _approve(cluster_env, after.stdout.split()[0]).returncode == 0 and slurm.get_node("node2").drained


@pytest.mark.parametrize("stage", ["after-executing", "after-slurm"])
def test_executor_killed_mid_way_then_rerun_leaves_one_result(devcluster, slurm, cluster_env, conf, restore, stage):
    doc = _agent_drain(devcluster, "node3")
    killed = _approve(cluster_env, doc["id"], SDIAG_ACTIONS_FAULT=stage)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    store = _ctx(devcluster).store
    assert store.proposal(doc["id"])["state"] == "executing"
    listed = sdiag("actions", "list", env=cluster_env)
    assert listed.returncode == 0 and f"recovered {doc['id']}" in listed.stderr, listed.stderr
    final = store.proposal(doc["id"])
    node3 = slurm.get_node("node3")
    assert final["state"] == "done" and node3.drained and node3.reason.startswith(f"sdiag: {doc['id']}: ")
    assert "[claim " in node3.reason, node3.reason
    events = [e["event"] for e in store.audit_log(subject=doc["id"])]
    assert events.count("proposal.done") == 1 and "proposal.recovering" in events, events
    assert _approve(cluster_env, doc["id"]).returncode == 0 and slurm.get_node("node3").reason == node3.reason


def _running(slurm, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = next((r for r in slurm.queue() if r.get("JobId") == job_id), None)
        if rec and rec.get("JobState") == "RUNNING":
            return rec
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not start within {timeout:g} s")


def test_approved_requeue_of_an_infra_failure_and_a_no_requeue_job_refused(devcluster, slurm, cluster_env, conf,
                                                                          restore):
    import dataclasses

    from slurm_diag.actions import Refused, propose
    from slurm_diag.identity import Caller

    ctx = _ctx(devcluster)
    agent = dataclasses.replace(ctx, caller=Caller(ctx.caller.uid, ctx.access.agent_user, ctx.caller.groups))
    jobs = {flag: slurm.submit("#!/bin/sh\nsleep 300\n", ["-J", "sdiag-actions-requeue", flag,
                                                            "-o", "/tmp/sdiag-test-%j.out"], workdir="/tmp")
            for flag in ("--requeue", "--no-requeue")}
    for flag, job_id in jobs.items():
        rec = _running(slurm, job_id)
        node = rec["NodeList"]
        finding = {"id": f"health:{node}:xid:{job_id}", "source": "health", "node": node, "severity": "CRITICAL",
                   "summary": f"xid: gpu0 Xid 79 on {node}"}
        attribution = {"label": "gpu_hardware", "scope": "infra", "component": "gpu", "confidence": 0.9,
                       "job_id": job_id, "supporting": [finding["id"]], "contradicting": [],
                       "explanation": "gpu0 fell off the bus under the job", "next_steps": ["requeue it"]}
        kwargs = dict(reason=f"gpu0 Xid 79 on {node} under job {job_id}", attribution=attribution, findings=[finding])
        if flag == "--no-requeue":
            with pytest.raises(Refused) as refused:
                propose(agent, "requeue", job_id, **kwargs)
            assert refused.value.rule == "not_requeueable" and "--no-requeue" in refused.value.message
            continue
        doc = propose(agent, "requeue", job_id, **kwargs)
        assert doc["command"] == ["scontrol", "requeue", job_id]
        done = _approve(cluster_env, doc["id"])
        assert done.returncode == 0, done.stderr
        after = next(r for r in slurm.queue() if r.get("JobId") == job_id)
        assert int(after["Restarts"]) == 1, after
        assert _approve(cluster_env, doc["id"]).returncode == 0          # approving twice requeues once
        assert int(next(r for r in slurm.queue() if r.get("JobId") == job_id)["Restarts"]) == 1
