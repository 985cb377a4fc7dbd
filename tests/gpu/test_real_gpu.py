"""The real pynvml path. On a machine with an NVIDIA driver it reads the GPUs for real; elsewhere
it is skipped with the reason. Captured output of `sdiag-agent health check --level full --json`
from real GPUs (tests/data/real-gpu/*.json) is loaded and judged wherever it is present."""

import json
from pathlib import Path

import pytest

from slurm_diag import schemas

REAL = Path(__file__).resolve().parents[1] / "data" / "real-gpu"
CAPTURED = sorted(REAL.glob("*.json")) if REAL.is_dir() else []
GPU_CHECKS = {"gpu_count", "clocks", "temperature", "ecc", "memory_errors", "pcie", "nvlink", "stray_processes"}


def _nvml_or_skip():
    pynvml = pytest.importorskip("pynvml", reason="nvidia-ml-py not installed")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        pytest.skip(f"no NVIDIA GPU/driver on this machine: {exc}")
    pynvml.nvmlShutdown()
    return pynvml


def test_pynvml_reader_on_a_real_gpu(monkeypatch):
    _nvml_or_skip()
    from slurm_diag.gpu import read_gpus

    monkeypatch.delenv("SDIAG_GPU_PROFILE", raising=False)
    r = read_gpus(None, call_timeout_s=5.0, total_timeout_s=30.0)     # the child process, as the prolog reads
    assert r.error is None and r.gpus and r.source == "nvml", r.error
    for g in r.gpus:
        assert g.name and g.uuid.startswith(("GPU-", "MIG-")) and ":" in g.pci_bus_id
        assert g.clocks.max_sm_mhz and g.clocks.max_sm_mhz > 500
        assert g.throttle_reasons is not None
        assert g.temperature_c is not None and 0 < g.temperature_c < 120
        assert g.power_limit_w and g.power_limit_w > 50
        assert g.pcie.max_width in (1, 2, 4, 8, 16, 32)
        assert not g.errors, g.errors


@pytest.mark.skipif(not CAPTURED, reason="no captured real-GPU output in tests/data/real-gpu/ "
                                         "(capture `sdiag-agent health check --level full --json` on an H100/H200)")
@pytest.mark.parametrize("path", CAPTURED, ids=[p.name for p in CAPTURED])
def test_captured_real_gpu_report(path):
    report = json.loads(path.read_text())
    schemas.validate("health_report", report)
    names = {c["name"] for c in report["checks"]}
    assert GPU_CHECKS <= names
    count = next(c for c in report["checks"] if c["name"] == "gpu_count")
    assert count["status"] in ("OK", "WARN", "CRITICAL") and count["observed"] >= 1
    if report["level"] == "full":
        sanity = [c for c in report["checks"] if c["name"] == "gpu_sanity"]
        assert sanity and all("skipped: GPUs are simulated" not in c["message"] for c in sanity)
    # no check may crash on real data
    assert not [c for c in report["checks"] if "check crashed" in c["message"]]
