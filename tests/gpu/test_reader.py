"""The reader over an NVML-like module: fields, decoded reasons, failures and hangs as UNKNOWN."""

import pytest

from slurm_diag.gpu import ReadError, read_gpus, snapshot, throttle
from slurm_diag.gpu import profile as profile_mod
from slurm_diag.gpu.reader import read_all
from slurm_diag.gpu.simulator import SimulatedNvml
from tests.gpu.conftest import tweak


def test_healthy_reading_has_every_field():
    r = read_gpus("h100-8-healthy")
    assert r.error is None and r.driver_version == "550.90.07" and len(r.gpus) == 8
    g = r.gpus[0]
    assert g.name == "NVIDIA H100 80GB HBM3"
    assert g.pci_bus_id == "00000000:18:00.0"
    assert (g.clocks.sm_mhz, g.clocks.app_sm_mhz, g.clocks.max_sm_mhz, g.clocks.max_mem_mhz) == (345, 1980, 1980, 2619)
    assert g.throttle_reasons == ("GPU_IDLE",)
    assert (g.slowdown_temp_c, g.power_limit_w) == (90, 700.0)
    assert g.ecc.volatile_uncorrected == 0 and g.ecc.aggregate_corrected == 0
    assert g.row_remap.pending is False and g.retired_pages is None and "retired_pages" in g.unsupported
    assert (g.pcie.gen, g.pcie.max_gen, g.pcie.width, g.pcie.max_width) == (5, 5, 16, 16)
    assert g.nvlink_up == (True,) * 18
    assert g.processes == () and g.errors == {}


def test_throttle_decode_and_encode_roundtrip():
    assert throttle.decode(0x8 | 0x1) == ("GPU_IDLE", "HW_SLOWDOWN")
    assert throttle.decode(0x4) == ("SW_POWER_CAP",)
    assert throttle.decode(0x10000) == ("UNKNOWN_0x10000",)
    assert throttle.decode(throttle.encode(["HW_POWER_BRAKE_SLOWDOWN", "SW_THERMAL_SLOWDOWN"])) == \
        ("SW_THERMAL_SLOWDOWN", "HW_POWER_BRAKE_SLOWDOWN")


def test_failing_calls_are_recorded_per_field():
    r = read_gpus("h100-8-xid79")
    lost = r.gpus[2]
    assert lost.temperature_c is None
    assert "GPU is lost" in lost.errors["temperature_c"] and "nvmlDeviceGetTemperature" in lost.errors["temperature_c"]
    assert lost.pcie.width == 16              # calls that still answer are kept
    assert r.gpus[1].errors == {}


def test_hung_call_gives_unknown_naming_the_call(healthy_doc, write_profile):
    doc = tweak(healthy_doc, 4, hang_s=20, hang_call="nvmlDeviceGetTemperature")
    prof = profile_mod.load(write_profile(doc))
    r = read_all(SimulatedNvml(prof), "sim", call_timeout_s=0.3)
    hung = r.gpus[4]
    assert "nvmlDeviceGetTemperature did not return within 0.3 s" in hung.errors["temperature_c"]
    assert hung.errors["power_w"] == hung.errors["temperature_c"]      # everything after it: unknown
    assert hung.clocks.sm_mhz == 345                                   # read before the hang: kept
    assert all(not g.errors for i, g in enumerate(r.gpus) if i != 4)
    assert r.duration_s < 20, r.duration_s                             # did not wait for the hang


def test_every_call_hanging_on_all_gpus_still_returns(healthy_doc, write_profile):
    doc = dict(healthy_doc, gpu_defaults=dict(healthy_doc["gpu_defaults"], hang_s=20))
    prof = profile_mod.load(write_profile(doc))
    r = read_all(SimulatedNvml(prof), "sim", call_timeout_s=0.2)
    assert all("nvmlDeviceGetHandleByIndex did not return within 0.2 s" in g.errors["gpu"] for g in r.gpus)
    assert r.duration_s < 20, r.duration_s


def test_driver_not_loading_and_init_hang_are_typed(healthy_doc, write_profile):
    r = read_gpus(write_profile(dict(healthy_doc, nvml={"loadable": False}), "a.json"))
    assert r.error_kind is ReadError.DRIVER and r.gpus == []
    assert "NVML Shared Library Not Found" in r.error
    r = read_gpus(write_profile(dict(healthy_doc, nvml={"init_hang_s": 20}), "b.json"), call_timeout_s=0.2)
    assert r.error_kind is ReadError.HUNG and "nvmlInit did not return within 0.2 s" in r.error


def test_unusable_profile_is_typed(healthy_doc, write_profile):
    r = read_gpus(write_profile(tweak(healthy_doc, 0, hang_s=-1)))
    assert r.error_kind is ReadError.PROFILE and "gpus[0].hang_s" in r.error


def test_snapshot_shape():
    snap = snapshot("h100-8-throttled-gpu3")
    assert [s["index"] for s in snap] == list(range(8))
    assert set(snap[0]) == {"index", "sm_clock_mhz", "max_sm_clock_mhz", "temperature_c", "throttle_reasons", "power_w"}
    assert snap[3]["sm_clock_mhz"] == 200 and "HW_SLOWDOWN" in snap[3]["throttle_reasons"]
    assert snap[3]["max_sm_clock_mhz"] == 1980 and snap[3]["power_w"] == pytest.approx(71.3)


def test_snapshot_without_nvml_is_empty(healthy_doc, write_profile):
    assert snapshot(write_profile(dict(healthy_doc, nvml={"loadable": False}))) == []


def test_profile_env_wins(monkeypatch):
    monkeypatch.setenv("SDIAG_GPU_PROFILE", "h100-8-missing-gpu")
    assert len(read_gpus("h100-8-healthy").gpus) == 7
