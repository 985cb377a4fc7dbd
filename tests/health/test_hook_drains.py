"""What the prolog, epilog, HealthCheckProgram and drainer decide, against the in-memory Slurm:
the cap for prolog drains (it used to read a cache up to 600 s old: eight of eight nodes drained
with a cap of 2), fail safe without Slurm, the HealthCheckProgram's conditional resume, and the
drainer's handling of Slurm's own "Prolog error"."""

import json

import pytest

from slurm_diag.health import cap, drainer, hooks, state
from slurm_diag.slurm.fake import FakeSlurmClient

NODES = [f"node{i}" for i in range(1, 9)]
THROTTLED = "h100-8-throttled-gpu3"


def prolog_env(node, job_id, profile=THROTTLED):
    return {"SLURMD_NODENAME": node, "SLURM_JOB_ID": job_id, "SLURM_JOB_GPUS": "0,1,2,3",
            "SDIAG_GPU_PROFILE": profile}


def actions(cfg):
    return [json.loads(p.read_text()) for p in sorted((cfg.home / "spool" / "actions").glob("*.json"))]


def test_eight_prologs_with_a_fault_and_cap_two_drain_two(cfg, capsys):
    cfg.data["health"]["policy"]["max_drained_nodes"] = 2
    slurm = FakeSlurmClient(NODES)
    detached = []
    codes = {n: hooks.run_hook("prolog", prolog_env(n, str(i)), cfg, client=slurm,
                               detach=lambda node, reason: detached.append((node, reason)))
             for i, n in enumerate(NODES)}
    blocked = sorted(n for n, c in codes.items() if c == hooks.BLOCK)
    assert len(blocked) == 2 and set(codes.values()) == {0, hooks.BLOCK}
    assert sorted(slurm.drained()) == blocked
    assert sorted(detached) == sorted(slurm.drained().items())       # the drainer keeps the claimed reason
    spooled = actions(cfg)
    assert sorted(a["node"] for a in spooled if a["action"] == "drain") == blocked
    allowed = [a for a in spooled if a["action"] == "none"]
    assert len(allowed) == 6 and all("cap reached" in a["note"] for a in allowed)
    assert all(a["reason"].startswith("sdiag: clocks: gpu3 SM clock 200 MHz") for a in spooled)
    assert capsys.readouterr().err.count("WARNING: would drain") == 6


def test_prolog_without_slurm_lets_the_job_run_and_says_so_loudly(cfg, capsys):
    slurm = FakeSlurmClient(NODES)
    slurm.unreachable = True
    code = hooks.run_hook("prolog", prolog_env("node3", "77"), cfg, client=slurm,
                          detach=lambda *a: pytest.fail("no drainer without a claim"))
    assert code == 0
    err = capsys.readouterr().err
    assert "WARNING: would drain node3 (sdiag: clocks: gpu3" in err and "fail safe" in err
    [action] = actions(cfg)
    assert action["action"] == "none" and "Unable to contact slurm controller" in action["note"]


def test_healthy_prolog_never_asks_slurm(cfg):
    slurm = FakeSlurmClient(NODES)
    assert hooks.run_hook("prolog", prolog_env("node1", "1", "h100-8-healthy"), cfg, client=slurm) == 0
    assert slurm.calls == []


def test_epilog_drain_counts_in_the_same_cap(cfg):
    cfg.data["health"]["policy"]["max_drained_nodes"] = 1
    slurm = FakeSlurmClient(NODES)
    slurm.drain_node("node7", "sdiag: infiniband: mlx5_0 port 1 down [claim 1]")
    env = {**prolog_env("node5", "9", "h100-8-dbe-gpu5"), "SLURM_JOB_EXIT_CODE": "0"}
    assert hooks.run_hook("epilog", env, cfg, client=slurm) == 0
    assert sorted(slurm.drained()) == ["node7"]
    [action] = actions(cfg)
    assert action["action"] == "none" and "gpu5" in action["reason"] and "cap reached" in action["note"]


# ------------------------------------------------------------ HealthCheckProgram


def healthcheck(cfg, slurm, node="node1", profile="h100-8-healthy"):
    return hooks.run_healthcheck({"SLURMD_NODENAME": node, "SDIAG_GPU_PROFILE": profile}, cfg, client=slurm)


def test_healthcheck_never_resumes_a_drain_that_changed_after_it_read_the_node(cfg):
    """An admin's drain lands between the HealthCheckProgram's read and its resume."""
    need = cfg.get("health.policy.resume_after_clean_runs")
    state.write(cfg.home, "node1", "healthcheck", {"clean_runs": need - 1})
    slurm = FakeSlurmClient(NODES)
    slurm.drain_node("node1", "sdiag: infiniband: mlx5_0 port 1 down [claim 1]")
    reads = []

    def admin_drains_after_the_first_read(method, client):
        if method == "get_node":
            reads.append(method)
            if len(reads) == 2:
                client.set_reason("node1", "admin: bios update")

    slurm.before_call = admin_drains_after_the_first_read
    outcome = healthcheck(cfg, slurm)
    assert outcome["action"] == "none" and "reason changed" in outcome["note"], outcome
    assert slurm.get_node("node1").reason == "admin: bios update" and slurm.get_node("node1").drained
    assert "resume_node" not in [m for m, _ in slurm.calls]


def test_healthcheck_resumes_its_own_unchanged_drain(cfg):
    need = cfg.get("health.policy.resume_after_clean_runs")
    state.write(cfg.home, "node1", "healthcheck", {"clean_runs": need - 1})
    slurm = FakeSlurmClient(NODES)
    slurm.drain_node("node1", "sdiag: infiniband: mlx5_0 port 1 down [claim 1]")
    outcome = healthcheck(cfg, slurm)
    assert outcome["action"] == "resume" and not slurm.get_node("node1").drained
    [action] = actions(cfg)
    assert action["action"] == "resume" and action["reason"].startswith("sdiag: infiniband")


def test_healthcheck_drains_through_the_same_cap(cfg):
    cfg.data["health"]["policy"]["max_drained_nodes"] = 2
    slurm = FakeSlurmClient(NODES)
    slurm.drain_node("node2", "sdiag: xid: gpu1 XID 79 [claim 1]")
    slurm.set_reason("node3", "Prolog error", user="root")          # a prolog drain before the drainer's fix
    slurm.set_reason("node4", "admin: bios update")                 # never counted
    outcome = healthcheck(cfg, slurm, profile="h100-8-ib-down")
    assert outcome["action"] == "none" and "cap reached" in outcome["note"]
    assert not slurm.get_node("node1").drained
    slurm.resume_node("node3")
    outcome = healthcheck(cfg, slurm, profile="h100-8-ib-down")
    assert outcome["action"] == "drain" and slurm.get_node("node1").reason == outcome["reason"]
    assert cap.human(outcome["reason"]).startswith("sdiag: infiniband")


# ------------------------------------------------------------ drainer


class Ticks:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_drainer_puts_our_reason_back_over_slurms_prolog_error():
    ours = "sdiag: clocks: gpu3 SM clock 200 MHz [claim 3]"
    slurm = FakeSlurmClient(["node3"])
    slurm.drain_node("node3", ours)
    ticks = Ticks()
    slurm.before_call = lambda m, c: ticks.now == 2.0 and c.set_reason("node3", "Prolog error", user="root")
    note = drainer.settle(slurm, "node3", ours, settle_s=5, clock=ticks.clock, sleep=ticks.sleep)
    assert slurm.get_node("node3").reason == ours and note == "reason restored over 'Prolog error'"


def test_drainer_leaves_a_resumed_node_and_an_admins_drain_alone():
    ours = "sdiag: clocks: gpu3 SM clock 200 MHz [claim 3]"
    slurm = FakeSlurmClient(["node3"])
    ticks = Ticks()
    assert "left alone" in drainer.settle(slurm, "node3", ours, 5, clock=ticks.clock, sleep=ticks.sleep)
    assert not slurm.get_node("node3").drained                       # never drained by the drainer
    slurm.set_reason("node3", "admin: replace gpu3")
    assert "someone else" in drainer.settle(slurm, "node3", ours, 5, clock=ticks.clock, sleep=ticks.sleep)
    assert slurm.get_node("node3").reason == "admin: replace gpu3"


def test_drainer_knows_a_missing_node_by_its_error_type():
    note = drainer.settle(FakeSlurmClient(["node1"]), "node9", "sdiag: x [claim 1]", 5, sleep=lambda s: None)
    assert note.startswith("node unknown to Slurm")


def test_a_prolog_stopped_by_the_limit_trips_the_actions_breaker_once_its_record_is_ingested(cfg, tmp_path):
    """One mechanism: the prolog obeys the live count; its 'would have drained' reaches the breaker's
    latch through the spool, so approved drains stop until an approver resets it. A prolog that
    could not count (Slurm away) proves nothing and trips nothing."""
    from slurm_diag.actions import breaker
    from slurm_diag.store import Store
    from slurm_diag.store.ingest import ingest

    store = Store(f"sqlite:///{tmp_path}/s.db")
    away = FakeSlurmClient(NODES)
    away.unreachable = True
    hooks.run_hook("prolog", prolog_env("node3", "70"), cfg, client=away, detach=lambda *a: None)
    ingest(store, cfg.home / "spool")
    assert breaker.state(store)["tripped"] is False

    cfg.data["health"]["policy"]["max_drained_nodes"] = 1
    slurm = FakeSlurmClient(NODES)
    codes = [hooks.run_hook("prolog", prolog_env(n, str(i)), cfg, client=slurm, detach=lambda *a: None)
             for i, n in enumerate(("node1", "node2"))]
    assert codes == [hooks.BLOCK, 0]
    assert breaker.state(store)["tripped"] is False                  # not before the record reaches the store
    summary = ingest(store, cfg.home / "spool")
    assert summary.actions == 2 and summary.rejected == []
    now = breaker.state(store)
    assert now["tripped"] is True and now["by"] == "prolog@node2"
    assert "cap reached" in now["why"] and "node1" in now["why"]
