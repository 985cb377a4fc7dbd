"""Concurrency and timeouts: a hung NVML call or a hung check never holds the report."""

import json
import time

from slurm_diag import schemas
from slurm_diag.gpu.profile import SHIPPED
from slurm_diag.health import registry
from slurm_diag.health.runner import check_node


def _hung_profile(tmp_path, gpu=6, call=None):
    doc = json.loads((SHIPPED / "h100-8-healthy.json").read_text())
    doc["gpus"][gpu].update({"hang_s": 30, "hang_call": call})
    path = tmp_path / "hung.json"
    path.write_text(json.dumps(doc))
    return path


def test_hung_nvml_call_gives_unknown_within_the_call_timeout(make_ctx, settings, tmp_path):
    settings.health["nvml_call_timeout_s"] = 0.3
    start = time.monotonic()
    report = check_node(make_ctx(_hung_profile(tmp_path, call="nvmlDeviceGetTemperature")))
    assert time.monotonic() - start < 2.0
    schemas.validate("health_report", report)
    temp = next(c for c in report["checks"] if c["name"] == "temperature")
    assert temp["status"] == "UNKNOWN" and temp["gpu"] == 6
    assert "nvmlDeviceGetTemperature did not return within 0.3 s" in temp["message"]
    assert report["status"] == "UNKNOWN"
    # checks that do not need the hung data still answer
    assert next(c for c in report["checks"] if c["name"] == "infiniband")["status"] == "OK"


def test_check_timeout_caps_a_slow_check(make_ctx, settings, tmp_path):
    settings.health["nvml_call_timeout_s"] = 20
    settings.health["check_timeout_s"] = 0.4
    start = time.monotonic()
    report = check_node(make_ctx(_hung_profile(tmp_path)))
    assert time.monotonic() - start < 2.0
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["clocks"]["status"] == "UNKNOWN"
    assert by_name["clocks"]["message"] == "check did not finish within 0.4 s"
    assert by_name["disk_space"]["status"] == "OK" and by_name["host_memory"]["status"] in ("OK", "CRITICAL")


def test_registry_finds_every_family_by_module():
    names = set(registry.all_checks())
    assert {"gpu_count", "ecc", "memory_errors", "xid", "clocks", "temperature", "pcie", "nvlink",
            "infiniband", "stray_processes", "disk_space", "host_memory", "gpu_sanity"} <= names
    assert "gpu_sanity" not in {s.name for s in registry.checks_for("quick")}
    assert registry.checks_for("off") == []


def test_only_selects_checks(make_ctx):
    report = check_node(make_ctx(), only=["pcie", "nvlink"])
    assert sorted(c["name"] for c in report["checks"]) == ["nvlink", "pcie"]
