"""A probe killed mid-run never leaves a result that reads as valid."""

import json
import os
import signal
import subprocess
import sys
import time

from slurm_diag import schemas
from slurm_diag.probes import base


def _start(out, extra=()):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "slurm_diag.probes", "gemm", "--out", str(out),
                             "--param", "device=cpu", "--param", "n=128", "--param", "repeats=100000",
                             "--param", "min_sample_s=0.02", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_samples(proc, seconds=1.5):
    time.sleep(seconds)
    assert proc.poll() is None, proc.communicate()


def test_sigterm_stores_a_partial_result_marked_invalid(tmp_path):
    out = tmp_path / "r.json"
    proc = _start(out)
    _wait_for_samples(proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "stored as invalid" in err
    [doc] = json.loads(out.read_text())
    schemas.validate("probe_result", doc)
    assert doc["valid"] is False
    assert doc["conditions"]["interrupted"] == "interrupted by SIGTERM"
    assert len(doc["samples"]) >= 1
    assert list(tmp_path.iterdir()) == [out]          # no temporary left behind


def test_sigkill_leaves_no_result_at_all(tmp_path):
    out = tmp_path / "r.json"
    proc = _start(out)
    _wait_for_samples(proc, 1.0)
    proc.kill()
    proc.communicate(timeout=30)
    assert not out.exists()


def test_write_atomic_replaces_whole_files(tmp_path):
    out = tmp_path / "sub" / "r.json"
    base.write_atomic(out, [{"a": 1}])
    base.write_atomic(out, [{"a": 2}])
    assert json.loads(out.read_text()) == [{"a": 2}]
    assert [p.name for p in out.parent.iterdir()] == ["r.json"]


def test_out_dir_names_one_file_per_task(tmp_path, monkeypatch):
    from slurm_diag.probes.runner import main

    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("SLURM_STEP_ID", "3")
    monkeypatch.setenv("SLURMD_NODENAME", "node7")
    assert main(["gemm", "--out-dir", str(tmp_path), "--param", "device=cpu", "--param", "n=64",
                 "--param", "repeats=1", "--param", "round=2"]) == 0
    [doc] = json.loads((tmp_path / "gemm-node7-42.3.json").read_text())
    assert doc["node"] == "node7" and doc["job_id"] == "42" and doc["params"]["round"] == 2


def test_runner_reports_bad_parameters_without_a_traceback(capsys):
    from slurm_diag.probes.runner import main

    assert main(["gemm", "--param", "n"]) == 2
    assert "not KEY=VALUE" in capsys.readouterr().err
