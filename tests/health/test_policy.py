"""Drain / resume policy: pure decisions over a report and the node's Slurm state."""

from slurm_diag.health import policy
from slurm_diag.config import load
from slurm_diag.slurm.fake import make_node
from slurm_diag.slurm.parse import scontrol_nodes

POL = load().get("health.policy")


def report(*checks):
    return {"checks": [{"name": n, "status": s, "message": m, "gpu": g} for n, s, m, g in checks]}


CRIT = report(("clocks", "CRITICAL", "gpu3 SM clock 200 MHz, expected ≥ 1762 MHz under load (HW_SLOWDOWN active): drain and inspect cooling", 3),
              ("disk_space", "CRITICAL", "/tmp has 0.1 GB free: clean it up", None),
              ("xid", "OK", "no critical XID since boot", None))
CLEAN = report(("clocks", "OK", "8 GPUs fine", None), ("temperature", "WARN", "gpu1 at 86 °C", 1))
UNKNOWN = report(("clocks", "UNKNOWN", "gpu2 clocks unknown: hung", 2))


def node(state="IDLE", flags=(), reason=None):
    return make_node("node1", state, flags, reason)


def test_reason_names_check_and_gpu_in_ascii():
    findings = policy.drain_findings(CRIT, POL)
    assert [f["name"] for f in findings] == ["clocks"]          # disk_space may not drain by default
    reason = policy.drain_reason(findings)
    assert reason == "sdiag: clocks: gpu3 SM clock 200 MHz, expected >= 1762 MHz under load (HW_SLOWDOWN active)"
    assert reason.isascii() and policy.is_sdiag_reason(reason)
    two = policy.drain_reason(findings + [{"name": "xid", "message": "gpu2 XID 79: reboot"}])
    assert two.endswith("(+1 more: xid)") and len(policy.drain_reason(findings * 50)) <= policy.MAX_REASON


def test_unknown_drains_only_when_configured():
    assert policy.drain_findings(UNKNOWN, POL) == []
    assert not policy.is_clean(UNKNOWN, POL)
    assert policy.drain_findings(UNKNOWN, {**POL, "unknown": "drain"})


def test_healthcheck_drains_a_healthy_looking_node_with_a_finding():
    d = policy.healthcheck_decision(CRIT, node(), 2, POL)
    assert d.action == "drain" and d.reason.startswith("sdiag: clocks: gpu3") and d.clean_runs == 0


def test_never_touches_someone_elses_drain():
    admin = node("IDLE", ["DRAIN"], "disk replacement ticket 4411")
    assert policy.healthcheck_decision(CRIT, admin, 0, POL).action == "none"
    for runs in range(10):
        assert policy.healthcheck_decision(CLEAN, admin, runs, POL).action == "none"
    prolog_error = node("IDLE", ["DRAIN"], "Prolog error")
    assert policy.healthcheck_decision(CLEAN, prolog_error, 99, POL).action == "none"


def test_resumes_own_drain_after_n_consecutive_clean_runs():
    mine = node("IDLE", ["DRAIN"], "sdiag: clocks: gpu3 SM clock 200 MHz")
    runs = 0
    actions = []
    for _ in range(POL["resume_after_clean_runs"]):
        d = policy.healthcheck_decision(CLEAN, mine, runs, POL)
        actions.append(d.action)
        runs = d.clean_runs
    assert actions == ["none"] * (POL["resume_after_clean_runs"] - 1) + ["resume"]


def test_an_unclean_run_restarts_the_count():
    mine = node("IDLE", ["DRAIN"], "sdiag: xid: gpu2 XID 79")
    d = policy.healthcheck_decision(UNKNOWN, mine, 2, POL)
    assert d.action == "none" and d.clean_runs == 0


def test_parse_scontrol_node_line():
    line = ("NodeName=node1 Arch=x86_64 CoresPerSocket=2 CPUAlloc=0 Gres=gpu:8 NodeAddr=127.0.0.1 "
            "State=IDLE+DRAIN ThreadsPerCore=1 Partitions=debug "
            "Reason=sdiag: clocks: gpu3 SM clock 200 MHz, expected >= 1762 MHz [root@2026-11-21T09:00:01]")
    view = scontrol_nodes(line)[0]
    assert (view.name, view.state, view.flags) == ("node1", "IDLE", ("DRAIN",))
    assert view.reason == "sdiag: clocks: gpu3 SM clock 200 MHz, expected >= 1762 MHz"
    assert policy.drained_by_sdiag(view)
    idle = scontrol_nodes("NodeName=node2 State=IDLE ThreadsPerCore=1")[0]
    assert not idle.drained and idle.reason is None
    claimed = scontrol_nodes("NodeName=node3 State=IDLE+DRAIN Reason=sdiag: xid: gpu1 XID 79 [claim 12] "
                             "[root@2026-11-21T09:00:01]")[0]
    assert claimed.reason == "sdiag: xid: gpu1 XID 79 [claim 12]" and claimed.reason_time == "2026-11-21T09:00:01"
