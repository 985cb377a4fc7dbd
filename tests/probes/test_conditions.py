"""CPU conditions from files laid out like the real ones; GPU conditions through slurm_diag.gpu."""

import pytest

from slurm_diag.probes import conditions as c


def test_parse_cgroup_paths():
    text = "12:cpu,cpuacct:/slurm/node3\n4:memory:/x\n0::/user.slice\n"
    assert c.parse_cgroup_paths(text) == {"v1:cpu": "/slurm/node3", "v2": "/user.slice"}
    assert c.parse_cgroup_paths("1:cpu:/\n") == {"v1:cpu": "/"}


def _v1_tree(tmp_path, quota, period=100000, throttled_ns=2_500_000_000):
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text("3:cpu:/slow/node3\n")
    root = tmp_path / "cgroup"
    node = root / "cpu" / "slow" / "node3"
    node.mkdir(parents=True)
    (root / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (root / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    (root / "cpu" / "slow" / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (root / "cpu" / "slow" / "cpu.cfs_period_us").write_text(f"{period}\n")
    (node / "cpu.cfs_quota_us").write_text("-1\n")
    (node / "cpu.cfs_period_us").write_text("100000\n")
    (node / "cpu.stat").write_text(f"nr_periods 10\nnr_throttled 4\nthrottled_time {throttled_ns}\n")
    return proc, root


def test_cgroup_v1_quota_inherited_from_an_ancestor(tmp_path):
    proc, root = _v1_tree(tmp_path, quota=50000)
    got = c.cgroup_cpu(proc, root)
    assert got == {"quota_cpus": 0.5, "throttled_s": 2.5, "cgroup": "v1:/slow/node3"}


def test_cgroup_v2_cpu_max(tmp_path):
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text("0::/job/step\n")
    root = tmp_path / "cg"
    step = root / "job" / "step"
    step.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory\n")
    (root / "job" / "cpu.max").write_text("150000 100000\n")
    (step / "cpu.max").write_text("max 100000\n")
    (step / "cpu.stat").write_text("usage_usec 5\nthrottled_usec 1500000\n")
    assert c.cgroup_cpu(proc, root) == {"quota_cpus": 1.5, "throttled_s": 1.5, "cgroup": "v2:/job/step"}


def test_no_quota_reads_as_none(tmp_path):
    proc, root = _v1_tree(tmp_path, quota=-1)
    assert c.cgroup_cpu(proc, root)["quota_cpus"] is None


def test_cpu_mhz_prefers_cpufreq_then_cpuinfo(tmp_path):
    (tmp_path / "cpuinfo").write_text("processor\t: 0\ncpu MHz\t: 1200.0\n\nprocessor\t: 1\ncpu MHz\t: 1800.0\n\n")
    assert c.cpu_mhz(tmp_path, tmp_path / "nosys", cpus=[0, 1]) == (1500.0, None)
    freq = tmp_path / "sys" / "devices/system/cpu/cpu0/cpufreq"
    freq.mkdir(parents=True)
    (freq / "scaling_cur_freq").write_text("2000000\n")
    (freq / "cpuinfo_max_freq").write_text("3000000\n")
    assert c.cpu_mhz(tmp_path, tmp_path / "sys", cpus=[0]) == (2000.0, 3000.0)


def test_cpu_conditions_on_this_machine():
    got = c.cpu_conditions()
    assert got["cpus"] >= 1 and got["loadavg_1m"] is not None
    assert set(got) >= {"mhz", "max_mhz", "quota_cpus", "throttled_s", "cgroup"}


def test_summary_takes_the_run_not_one_sample():
    samples = [{"conditions": {"cpu": {"mhz": m, "loadavg_1m": l, "throttled_s": t}}}
               for m, l, t in ((2600, 0.5, 1.0), (1200, 2.5, 1.5), (2500, 1.0, 3.0))]
    cpu = c.summarize(samples)["cpu"]
    assert (cpu["mhz"], cpu["loadavg_1m"], cpu["throttled_s"]) == (1200, 2.5, 2.0)
    gpus = [{"conditions": {"gpu": {"sm_clock_mhz": s, "temperature_c": t, "throttle_reasons": r}}}
            for s, t, r in ((1980, 60, []), (300, 85, ["HW_SLOWDOWN"]), (1970, 70, []))]
    gpu = c.summarize(gpus)["gpu"]
    assert (gpu["sm_clock_mhz"], gpu["temperature_c"], gpu["throttle_reasons"]) == (1970, 85, ["HW_SLOWDOWN"])
    assert c.summarize([{"conditions": {"gpu": {"unavailable": "no NVML"}}}]) == {"gpu": {"unavailable": "no NVML"}}


def test_nvml_index_follows_cuda_visible_devices():
    assert c.nvml_index(1, "4,6") == 6
    assert c.nvml_index(0, "") == 0
    assert c.nvml_index(0, "GPU-uuid") == 0


def test_gpu_conditions_through_the_nvml_simulator(monkeypatch):
    gpu = pytest.importorskip("slurm_diag.gpu", reason="slurm_diag.gpu (another part) is not in this tree")
    if not hasattr(gpu, "snapshot"):
        pytest.skip("slurm_diag.gpu has no snapshot() yet")
    from pathlib import Path
    profile = Path(gpu.__file__).parent / "profiles" / "h100-8-throttled-gpu3.json"
    monkeypatch.setenv("SDIAG_GPU_PROFILE", str(profile))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    got = c.gpu_conditions(1)                 # CUDA device 1 is NVML gpu3
    assert got["index"] == 3 and got["sm_clock_mhz"] < got["max_sm_clock_mhz"]
    assert got["throttle_reasons"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "12")
    assert c.gpu_conditions(0) == {"unavailable": "NVML reports no GPU with index 12 (8 visible)"}
    monkeypatch.setenv("SDIAG_GPU_PROFILE", str(profile.with_name("no-such-profile.json")))
    assert "unavailable" in c.gpu_conditions(0)
