"""The SPANK plugin compiles with gcc against <slurm/spank.h> without a single warning."""

import shutil
import subprocess
from pathlib import Path

import pytest

SPANK = Path(__file__).resolve().parents[2] / "spank"


def _need_toolchain():
    if not shutil.which("gcc"):
        pytest.skip("gcc not installed")
    if not Path("/usr/include/slurm/spank.h").exists():
        pytest.skip("<slurm/spank.h> missing: apt-get install libslurm-dev")


def test_plugin_compiles_without_warnings(tmp_path):
    _need_toolchain()
    out = subprocess.run(["gcc", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-pedantic", "-std=gnu11",
                          "-o", str(tmp_path / "sdiag_health.so"), str(SPANK / "sdiag_health.c")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and not out.stderr, out.stderr
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(tmp_path / "sdiag_health.so")],
                             capture_output=True, text=True).stdout
    for name in ("slurm_spank_init", "slurm_spank_init_post_opt", "plugin_name", "spank_plugin_version"):
        assert name in symbols


def test_makefile_builds_the_named_plugin(tmp_path):
    _need_toolchain()
    work = tmp_path / "spank"
    shutil.copytree(SPANK, work, ignore=shutil.ignore_patterns("*.so"))
    out = subprocess.run(["make", "-C", str(work)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (work / "sdiag_health.so").exists() and "warning" not in out.stderr


def test_plugin_source_registers_options_at_init_and_sets_job_control_env():
    src = (SPANK / "sdiag_health.c").read_text()
    init = src[src.index("int slurm_spank_init(spank_t sp"):]
    assert "spank_option_register(sp, &health_option)" in init.split("int slurm_spank_init_post_opt")[0]
    assert 'spank_job_control_setenv(sp, "SDIAG_HEALTH", level, 1)' in src
