"""prolog.sh / epilog.sh / healthcheck.sh run as slurmd would run them, without Slurm: the
environment a wrapper exports, set by hand. Slurm commands point at a directory without them, so
every Slurm call fails fast and the scripts must still decide and exit correctly."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slurm_diag import schemas

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def hook_env(tmp_path):
    home = tmp_path / "home"
    conf = tmp_path / "sdiag.toml"
    conf.write_text(f'home = "{home}"\n[slurm]\nbin_dir = "{tmp_path / "no-slurm-here"}"\n'
                    '[health]\nexpected_gpus = 8\nnvml_call_timeout_s = 0.5\n')
    env = {"SDIAG_HOME": str(home), "SDIAG_CONFIG": str(conf), "SDIAG_PYTHON": sys.executable,
           "SLURMD_NODENAME": "node3", "SLURM_JOB_ID": "1234", "SLURM_JOB_GPUS": "0,1,2,3",
           "CUDA_VISIBLE_DEVICES": "0,1,2,3", "SLURM_SCRIPT_CONTEXT": "prolog_slurmd",
           "SDIAG_GPU_PROFILE": "h100-8-healthy"}
    return env, home


def run(script, env, **extra):
    full = {**env, **extra}
    start = time.monotonic()
    out = subprocess.run([str(REPO / "prolog" / script)], env=full, capture_output=True, text=True, timeout=60)
    return out, time.monotonic() - start


def spooled(home, kind):
    return [json.loads(p.read_text()) for p in sorted((home / "spool" / kind).glob("*.json"))]


def test_prolog_healthy_lets_the_job_run_and_spools_the_report(hook_env):
    env, home = hook_env
    out, _ = run("prolog.sh", env)
    assert out.returncode == 0, out.stderr
    [report] = spooled(home, "health")
    schemas.validate("health_report", report)
    assert (report["node"], report["context"], report["job_id"], report["status"]) == ("node3", "prolog", "1234", "OK")
    assert not (home / "spool" / "actions").exists()


def test_prolog_critical_without_slurm_fails_safe_and_says_what_it_would_do(hook_env):
    """The cap cannot be counted without Slurm: no drain, the job runs, the slurmd log and the
    spool say what would have been done (the drain itself is tested on the real cluster)."""
    env, home = hook_env
    out, _ = run("prolog.sh", env, SDIAG_GPU_PROFILE="h100-8-throttled-gpu3")
    assert out.returncode == 0, out.stderr
    assert "WARNING: would drain node3 (sdiag: clocks: gpu3 SM clock 200 MHz" in out.stderr
    assert "fail safe" in out.stderr and "blocking the job" not in out.stderr
    [action] = spooled(home, "actions")
    assert action["action"] == "none" and action["reason"].startswith("sdiag: clocks: gpu3 SM clock 200 MHz")
    assert action["job_id"] == "1234" and action["node"] == "node3" and "fail safe" in action["note"]


def test_prolog_stray_process_only_on_the_jobs_gpus(hook_env, tmp_path):
    env, home = hook_env
    from slurm_diag.gpu.profile import SHIPPED
    doc = json.loads((SHIPPED / "h100-8-healthy.json").read_text())
    doc["gpus"][6]["processes"] = [{"pid": 777, "used_memory_mib": 20000}]
    prof = tmp_path / "stray.json"
    prof.write_text(json.dumps(doc))
    assert run("prolog.sh", env, SDIAG_GPU_PROFILE=str(prof))[0].returncode == 0           # job has GPUs 0-3
    out, _ = run("prolog.sh", env, SDIAG_GPU_PROFILE=str(prof), SLURM_JOB_GPUS="6,7", CUDA_VISIBLE_DEVICES="6,7")
    assert out.returncode == 0 and "would drain node3 (sdiag: stray_processes: gpu6 held by pid 777" in out.stderr


def test_spank_off_skips_everything(hook_env):
    env, home = hook_env
    out, took = run("prolog.sh", env, SDIAG_GPU_PROFILE="h100-8-throttled-gpu3", SPANK_SDIAG_HEALTH="off")
    assert out.returncode == 0 and not (home / "spool").exists()


def test_spank_full_level_reaches_the_report(hook_env):
    env, home = hook_env
    assert run("prolog.sh", env, SPANK_SDIAG_HEALTH="full")[0].returncode == 0
    [report] = spooled(home, "health")
    assert report["level"] == "full" and "gpu_sanity" in {c["name"] for c in report["checks"]}


def test_hung_nvml_does_not_hold_the_prolog(hook_env, tmp_path):
    env, home = hook_env
    from slurm_diag.gpu.profile import SHIPPED
    doc = json.loads((SHIPPED / "h100-8-healthy.json").read_text())
    doc["gpu_defaults"]["hang_s"] = 60
    prof = tmp_path / "hung.json"
    prof.write_text(json.dumps(doc))
    out, _ = run("prolog.sh", env, SDIAG_GPU_PROFILE=str(prof))
    assert out.returncode == 0                 # UNKNOWN does not drain with policy.unknown = "ignore"
    [report] = spooled(home, "health")
    assert report["status"] == "UNKNOWN"
    temp = next(c for c in report["checks"] if c["name"] == "temperature")
    assert "did not return within 0.5 s (NVML hung on gpu" in temp["message"]     # the per-call limit
    assert report["duration_s"] < 60, report["duration_s"]                         # not the 60 s hang


def test_internal_failure_fails_open(hook_env):
    env, home = hook_env
    out, _ = run("prolog.sh", env, SDIAG_GPU_PROFILE="h100-8-throttled-gpu3", SDIAG_PYTHON="/bin/false")
    assert out.returncode == 0 and "fail open" in out.stderr
    broken = home.parent / "broken.toml"
    broken.write_text("[health\n")
    out, _ = run("prolog.sh", env, SDIAG_CONFIG=str(broken))
    assert out.returncode == 0 and "internal error, job allowed" in out.stderr


def test_epilog_records_the_job_end_and_drains_on_new_ecc(hook_env):
    env, home = hook_env
    out, _ = run("epilog.sh", env, SLURM_JOB_EXIT_CODE=str(3 << 8), SLURM_JOB_DERIVED_EC="0")
    assert out.returncode == 0, out.stderr
    [end] = spooled(home, "jobs")
    assert (end["job_id"], end["exit_code"], end["signal"], end["state"]) == ("1234", 3, 0, "FAILED")
    out, _ = run("epilog.sh", env, SDIAG_GPU_PROFILE="h100-8-dbe-gpu5", SLURM_JOB_EXIT_CODE="9")
    assert out.returncode == 0 and "would drain node3" in out.stderr       # no Slurm: fail safe
    reasons = [a["reason"] for a in spooled(home, "actions")]
    assert reasons and reasons[0].startswith("sdiag: ") and "gpu5" in reasons[0]
    ends = spooled(home, "jobs")
    assert ends[-1]["signal"] == 9 and ends[-1]["state"] == "CANCELLED"


def test_healthcheck_without_slurm_does_nothing_but_counts_clean_runs(hook_env):
    env, home = hook_env
    env = {k: v for k, v in env.items() if k not in ("SLURM_JOB_ID", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES")}
    for expected in (1, 2):
        out, _ = run("healthcheck.sh", env)
        assert out.returncode == 0 and "Slurm unreachable, nothing done" in out.stderr
        assert json.loads((home / "health" / "node3" / "healthcheck.json").read_text())["clean_runs"] == expected
    run("healthcheck.sh", env, SDIAG_GPU_PROFILE="h100-8-ib-down")
    assert json.loads((home / "health" / "node3" / "healthcheck.json").read_text())["clean_runs"] == 0
    # each run spooled its report; the detached ingest it starts may have moved them to the store
    from slurm_diag.store import Store

    def reports():
        stored = Store(f"sqlite:///{home / 'sdiag.db'}").health_reports() if (home / "sdiag.db").exists() else []
        return [r["context"] for r in spooled(home, "health") + stored]
    # a report the ingest moves between the two reads is counted twice, or not at all: read until
    # two reads in a row agree
    deadline = time.monotonic() + 30
    seen, last = reports(), None
    while (len(seen) < 3 or seen != last) and time.monotonic() < deadline:
        time.sleep(0.2)
        seen, last = reports(), seen
    assert seen == ["healthcheck"] * 3


def test_defaults_without_any_wrapper_variables(tmp_path):
    """Only what slurmd itself sets (no PATH, no HOME): python3 and the checkout are found."""
    env = {"SLURMD_NODENAME": "bare", "SLURM_JOB_ID": "1", "SDIAG_HOME": str(tmp_path),
           "SDIAG_PYTHON": sys.executable}
    out = subprocess.run(["/bin/sh", str(REPO / "prolog" / "prolog.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert list((tmp_path / "spool" / "health").glob("*-bare-prolog-1.json"))
