"""Every check's decision on every shipped profile: exactly the expected problems, nothing else."""

import pytest

from slurm_diag import schemas
from slurm_diag.health.node_report import check_node

EXPECTED = {
    "h100-8-healthy": set(),
    "a100-8-healthy": set(),
    "h100-8-throttled-gpu3": {("clocks", "CRITICAL", 3)},
    "h100-8-dbe-gpu5": {("ecc", "CRITICAL", 5), ("memory_errors", "CRITICAL", 5), ("xid", "CRITICAL", 5)},
    "h100-8-missing-gpu": {("gpu_count", "CRITICAL", None)},
    "h100-8-xid79": {("xid", "CRITICAL", 2), ("clocks", "UNKNOWN", 2), ("temperature", "UNKNOWN", 2),
                     ("ecc", "UNKNOWN", 2), ("stray_processes", "UNKNOWN", 2)},
    "h100-8-ib-down": {("infiniband", "CRITICAL", None)},
}


@pytest.mark.parametrize("profile", sorted(EXPECTED))
def test_profile_findings(make_ctx, profile):
    report = check_node(make_ctx(profile, context="prolog"))
    schemas.validate("health_report", report)
    found = {(c["name"], c["status"], c.get("gpu")) for c in report["checks"] if c["status"] != "OK"}
    assert found == EXPECTED[profile]
    worst = "CRITICAL" if EXPECTED[profile] else "OK"
    assert report["status"] == worst


def test_throttled_message_has_observed_expected_and_next_step(make_ctx):
    report = check_node(make_ctx("h100-8-throttled-gpu3"))
    clocks = next(c for c in report["checks"] if c["name"] == "clocks")
    assert clocks["message"].startswith("gpu3 SM clock 200 MHz, expected ≥ 1762 MHz under load (HW_SLOWDOWN active): drain")
    assert clocks["observed"]["sm_mhz"] == 200 and clocks["expected"]["sm_mhz_min"] == 1762
    assert clocks["next_step"]


def test_missing_gpu_message(make_ctx):
    report = check_node(make_ctx("h100-8-missing-gpu"))
    count = next(c for c in report["checks"] if c["name"] == "gpu_count")
    assert count["message"].startswith("7 of 8 GPUs visible, expected 8")
    assert "XID 79" in count["next_step"]


def test_full_level_on_simulated_gpus_skips_the_kernel_with_a_reason(make_ctx):
    report = check_node(make_ctx("h100-8-healthy", level="full"))
    sanity = [c for c in report["checks"] if c["name"] == "gpu_sanity"]
    assert len(sanity) == 1 and sanity[0]["message"].startswith("skipped: GPUs are simulated")
    quick = check_node(make_ctx("h100-8-healthy", level="quick"))
    assert "gpu_sanity" not in {c["name"] for c in quick["checks"]}


def test_off_level_runs_nothing(make_ctx):
    report = check_node(make_ctx("h100-8-throttled-gpu3", level="off"))
    assert report["checks"] == [] and report["status"] == "OK"
    schemas.validate("health_report", report)


def test_malformed_profile_gives_unknown_not_a_crash(make_ctx, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"profile": "x", "gpus": [{"clocks": 3}]}')
    report = check_node(make_ctx(bad))
    gpu_checks = [c for c in report["checks"] if c["name"] in ("clocks", "gpu_count", "xid", "infiniband")]
    assert all(c["status"] == "UNKNOWN" for c in gpu_checks)
    assert all("gpus[0].clocks" in c["message"] for c in gpu_checks)
    assert report["status"] == "UNKNOWN"
