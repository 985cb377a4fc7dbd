"""Concurrency and timeouts: a hung NVML call or a hung check never holds the report."""

import json

from slurm_diag import schemas
from slurm_diag.gpu.profile import SHIPPED
from slurm_diag.health import registry
from slurm_diag.health.node_report import check_node


def _hung_profile(tmp_path, gpu=6, call=None):
    doc = json.loads((SHIPPED / "h100-8-healthy.json").read_text())
    doc["gpus"][gpu].update({"hang_s": 30, "hang_call": call})
    path = tmp_path / "hung.json"
    path.write_text(json.dumps(doc))
    return path


def test_hung_nvml_call_gives_unknown_naming_the_call(make_ctx, cfg, tmp_path):
    cfg.data["health"]["nvml_call_timeout_s"] = 0.3
    report = check_node(make_ctx(_hung_profile(tmp_path, call="nvmlDeviceGetTemperature")))
    schemas.validate("health_report", report)
    temp = next(c for c in report["checks"] if c["name"] == "temperature")
    assert temp["status"] == "UNKNOWN" and temp["gpu"] == 6
    assert "nvmlDeviceGetTemperature did not return within 0.3 s" in temp["message"]
    assert report["status"] == "UNKNOWN"
    # checks that do not need the hung data still answer
    assert next(c for c in report["checks"] if c["name"] == "infiniband")["status"] == "OK"


def test_check_timeout_caps_a_slow_check(make_ctx, cfg, tmp_path):
    cfg.data["health"]["nvml_call_timeout_s"] = 20
    cfg.data["health"]["check_timeout_s"] = 0.4
    report = check_node(make_ctx(_hung_profile(tmp_path)))
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["clocks"]["status"] == "UNKNOWN"
    assert by_name["clocks"]["message"] == "check did not finish within 0.4 s"
    assert by_name["clocks"]["duration_s"] == 0.4
    assert by_name["disk_space"]["status"] == "OK" and by_name["host_memory"]["status"] in ("OK", "CRITICAL")


def test_whole_gpu_read_is_bounded_when_every_call_is_slow(make_ctx, cfg, tmp_path):
    # every NVML call answers in 0.15 s, under the 0.5 s per-call limit: about 6 s per GPU unbounded
    doc = json.loads((SHIPPED / "h100-8-healthy.json").read_text())
    doc["gpu_defaults"]["hang_s"] = 0.15
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(doc))
    cfg.data["health"].update(nvml_call_timeout_s=0.5, nvml_read_timeout_s=1.5, check_timeout_s=30)
    report = check_node(make_ctx(path))
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["gpu_count"]["status"] == "OK"                       # nvmlDeviceGetCount answered
    temp = by_name["temperature"]
    assert temp["status"] == "UNKNOWN"
    assert "had not returned when the whole NVML read reached its 1.5 s limit" in temp["message"]
    assert by_name["gpu_count"]["duration_s"] < 4.0                    # the read it waited for; unbounded: > 6 s


def test_registry_finds_every_family_by_module():
    names = set(registry.all_checks())
    assert {"gpu_count", "ecc", "memory_errors", "xid", "clocks", "temperature", "pcie", "nvlink",
            "infiniband", "stray_processes", "disk_space", "host_memory", "gpu_sanity"} <= names
    assert "gpu_sanity" not in {s.name for s in registry.checks_for("quick")}
    assert registry.checks_for("off") == []


def test_only_selects_checks(make_ctx):
    report = check_node(make_ctx(), only=["pcie", "nvlink"])
    assert sorted(c["name"] for c in report["checks"]) == ["nvlink", "pcie"]
