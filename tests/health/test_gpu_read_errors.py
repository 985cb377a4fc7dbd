"""A slurm-diag installation problem never drains; a driver that does not load on a GPU node does.
Both through the real prolog hook, the way slurmd runs it, without a GPU profile (the real pynvml
path). The missing package is a directory early on PYTHONPATH whose `pynvml` cannot be imported."""

import ctypes.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def prolog_env(tmp_path):
    home = tmp_path / "home"
    conf = tmp_path / "sdiag.toml"
    conf.write_text(f'home = "{home}"\n[slurm]\nbin_dir = "{tmp_path / "no-slurm-here"}"\n'
                    '[health]\nexpected_gpus = 8\n')
    env = {"SDIAG_HOME": str(home), "SDIAG_CONFIG": str(conf), "SDIAG_PYTHON": sys.executable,
           "SLURMD_NODENAME": "node3", "SLURM_JOB_ID": "77", "SLURM_JOB_GPUS": "0,1",
           "SLURM_SCRIPT_CONTEXT": "prolog_slurmd"}
    return env, home


def prolog(env, **extra):
    return subprocess.run([str(REPO / "prolog" / "prolog.sh")], env={**env, **extra}, capture_output=True,
                          text=True, timeout=120)


def gpu_checks(home):
    [path] = (home / "spool" / "health").glob("*.json")
    report = json.loads(path.read_text())
    return {c["name"]: c for c in report["checks"]}


@pytest.mark.parametrize("unknown_policy", ["ignore", "drain"])
def test_missing_pynvml_is_unknown_and_never_drains(prolog_env, tmp_path, unknown_policy):
    env, home = prolog_env
    conf = Path(env["SDIAG_CONFIG"])
    conf.write_text(conf.read_text() + f'[health.policy]\nunknown = "{unknown_policy}"\n')
    shadow = tmp_path / "no-pynvml" / "pynvml"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ModuleNotFoundError("No module named \'pynvml\'", name="pynvml")\n')
    out = prolog(env, PYTHONPATH=str(shadow.parent))
    assert out.returncode == 0, out.stderr                           # the job runs, the node is not drained
    assert "blocking the job" not in out.stderr and "would drain" not in out.stderr
    assert "pynvml (package nvidia-ml-py) is not installed" in out.stderr     # logged to the slurmd log
    assert not (home / "spool" / "actions").exists()
    count = gpu_checks(home)["gpu_count"]
    assert count["status"] == "UNKNOWN" and count["data"] == {"error_kind": "not_installed", "not_a_node_fault": True}
    assert "a slurm-diag problem and not the node's" in count["message"]
    # and an admin sees the same with `health check` on the node
    shown = subprocess.run([sys.executable, "-m", "slurm_diag", "health", "check", "--json"], capture_output=True,
                           text=True, timeout=120, env={**env, "PYTHONPATH": str(shadow.parent)})
    checks = {c["name"]: c for c in json.loads(shown.stdout)["checks"]}
    assert checks["gpu_count"]["status"] == "UNKNOWN" and checks["gpu_count"]["data"]["not_a_node_fault"] is True
    assert "is not installed" in shown.stderr and "never drain" in shown.stderr


@pytest.mark.skipif(bool(ctypes.util.find_library("nvidia-ml")), reason="this machine has an NVIDIA driver")
def test_driver_that_does_not_load_on_a_gpu_node_asks_for_a_drain(prolog_env):
    pytest.importorskip("pynvml", reason="nvidia-ml-py not installed")
    env, home = prolog_env
    out = prolog(env)
    # blocked, or "would drain" where the blast-radius cap cannot count (no Slurm here): a drain decision
    assert "sdiag: gpu_count: expected 8 GPUs (config health.expected_gpus), but NVML did not initialise" in out.stderr
    count = gpu_checks(home)["gpu_count"]
    assert count["status"] == "CRITICAL" and count["data"] == {"error_kind": "driver"}
