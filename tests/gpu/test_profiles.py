"""Profiles: every shipped one loads; a malformed one fails naming the field."""

import json

import pytest

from slurm_diag.errors import UsageError
from slurm_diag.gpu import profile as profile_mod
from tests.gpu.conftest import tweak

SHIPPED = ["h100-8-healthy", "h100-8-throttled-gpu3", "h100-8-dbe-gpu5", "h100-8-missing-gpu",
           "h100-8-xid79", "h100-8-ib-down", "a100-8-healthy"]


def test_every_required_profile_is_shipped():
    assert set(SHIPPED) <= set(profile_mod.shipped())


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profile_loads(name):
    prof = profile_mod.load(name)
    assert prof.name == name
    assert prof.kernel_log is not None and prof.infiniband
    assert len(prof.gpus) == (7 if name == "h100-8-missing-gpu" else 8)
    assert len({g["uuid"] for g in prof.gpus}) == len(prof.gpus)


def test_per_gpu_override_is_deep_merged():
    prof = profile_mod.load("h100-8-throttled-gpu3")
    assert prof.gpus[3]["clocks"]["sm"] == 200
    assert prof.gpus[3]["clocks"]["max_sm"] == 1980        # from gpu_defaults
    assert prof.gpus[2]["clocks"]["sm"] == 345


@pytest.mark.parametrize("change, named", [
    (lambda d: tweak(d, 3, clocks={"sm": "fast"}), "gpus[3].clocks.sm: expected integer, found string 'fast'"),
    (lambda d: tweak(d, 1, temprature_c=40), "gpus[1].temprature_c: unknown field"),
    (lambda d: tweak(d, 0, throttle_reasons=["HW_SLOWDWN"]), "gpus[0].throttle_reasons[0]: unknown throttle reason"),
    (lambda d: tweak(d, 2, nvlink="up"), "gpus[2].nvlink: expected list, found string"),
    (lambda d: tweak(d, 5, ecc={"volatile_uncorrected": 1.5}), "gpus[5].ecc.volatile_uncorrected: expected integer"),
    (lambda d: {k: v for k, v in d.items() if k != "gpus"}, "gpus: required field missing"),
    (lambda d: {**d, "infiniband": {"mlx5_0": {"ports": {"1": {"state": 4}}}}},
     "infiniband.mlx5_0.ports.1.state: expected string"),
    (lambda d: {**d, "kernel_log": "NVRM: Xid"}, "kernel_log: expected list"),
    (lambda d: {**d, "gpu_defaults": {k: v for k, v in d["gpu_defaults"].items() if k != "pcie"}},
     "gpus[0].pcie: required field missing"),
    (lambda d: tweak(d, 2, hang_s=-1), "gpus[2].hang_s: expected a number of seconds >= 0, found -1"),
    (lambda d: {**d, "nvml": {"init_hang_s": -0.5}}, "nvml.init_hang_s: expected a number of seconds >= 0"),
])
def test_malformed_profile_names_the_field(healthy_doc, write_profile, change, named):
    path = write_profile(change(healthy_doc))
    with pytest.raises(profile_mod.ProfileError) as err:
        profile_mod.load(path)
    assert named in str(err.value)
    assert str(path) in str(err.value)
    assert isinstance(err.value, UsageError)


def test_invalid_json_and_missing_file(write_profile, tmp_path):
    with pytest.raises(profile_mod.ProfileError, match="not valid JSON"):
        profile_mod.load(write_profile('{"profile": "x", "gpus": [', name="broken.json"))
    with pytest.raises(profile_mod.ProfileError, match="cannot read GPU profile") as err:
        profile_mod.load(tmp_path / "nope.json")
    assert "h100-8-healthy" in err.value.hint


def test_digest_changes_with_content(healthy_doc, write_profile):
    a = profile_mod.load(write_profile(healthy_doc, "a.json")).digest
    b = profile_mod.load(write_profile(tweak(healthy_doc, 0, temperature_c=55), "b.json")).digest
    assert a != b
