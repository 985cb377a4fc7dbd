"""A probe killed mid-run never leaves a result that reads as valid."""

import json
import os
import signal
import statistics
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


def _finish(proc, timeout=60):
    """communicate(), killing the probe if it outlives the timeout (a failing test leaves no
    probe behind to eat a core of the next tests)."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


def _wait_until_running(proc, deadline_s=120.0):
    """No fixed sleep: wait until the probe has installed its SIGTERM handler (the kernel shows the
    caught signals in /proc/PID/status), i.e. it is past start-up and inside the measurement."""
    bit = 1 << (signal.SIGTERM - 1)
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        status = open(f"/proc/{proc.pid}/status").read()
        caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
        if caught & bit:
            return
        time.sleep(0.02)
    raise AssertionError(f"the probe did not start measuring within {deadline_s:g} s")


def test_sigterm_stores_a_partial_result_marked_invalid(tmp_path):
    out = tmp_path / "r.json"
    proc = _start(out)
    _wait_until_running(proc)
    proc.send_signal(signal.SIGTERM)
    _, err = _finish(proc)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "stored as invalid" in err
    [doc] = json.loads(out.read_text())
    schemas.validate("probe_result", doc)
    assert doc["valid"] is False
    assert doc["conditions"]["interrupted"] == "interrupted by SIGTERM"
    values = [s["value"] for s in doc["samples"] if isinstance(s.get("value"), (int, float))]  # however many
    assert doc["value"] == (statistics.median(values) if values else 0.0)
    assert list(tmp_path.iterdir()) == [out]          # no temporary left behind


def test_sigkill_leaves_no_result_at_all(tmp_path):
    out = tmp_path / "r.json"
    proc = _start(out)
    _wait_until_running(proc)
    proc.kill()
    _finish(proc)
    assert not out.exists()


def test_write_atomic_replaces_whole_files(tmp_path):
    out = tmp_path / "sub" / "r.json"
    base.write_atomic(out, [{"a": 1}])
    base.write_atomic(out, [{"a": 2}])
    assert json.loads(out.read_text()) == [{"a": 2}]
    assert [p.name for p in out.parent.iterdir()] == ["r.json"]


def test_out_dir_names_one_file_per_task(tmp_path, monkeypatch):
    from slurm_diag.probes.execute import main

    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("SLURM_STEP_ID", "3")
    monkeypatch.setenv("SLURMD_NODENAME", "node7")
    assert main(["gemm", "--out-dir", str(tmp_path), "--param", "device=cpu", "--param", "n=64",
                 "--param", "repeats=1", "--param", "round=2"]) == 0
    [doc] = json.loads((tmp_path / "gemm-node7-42.3.json").read_text())
    assert doc["node"] == "node7" and doc["job_id"] == "42" and doc["params"]["round"] == 2


def test_runner_reports_bad_parameters_without_a_traceback(capsys):
    from slurm_diag.probes.execute import main

    assert main(["gemm", "--param", "n"]) == 2
    assert "not KEY=VALUE" in capsys.readouterr().err


def test_a_stop_the_interpreter_swallowed_still_stops_the_next_sample():
    """A SIGTERM that lands inside an import's lock callback is 'ignored' by the interpreter: the
    recorder keeps the request, so the probe stops at its next sample, in the main thread only."""
    import threading

    import pytest

    rec = base.Recorder(probe="gemm", metric="tflops", unit="TFLOP/s")
    rec.add({"value": 1.0})
    rec.stop = "SIGTERM"
    worker = threading.Thread(target=rec.add, args=({"value": 2.0},))
    worker.start()
    worker.join()                                       # a worker thread records and carries on
    with pytest.raises(base.ProbeInterrupted, match="SIGTERM"):
        rec.add({"value": 3.0})
    assert [s["value"] for s in rec.samples] == [1.0, 2.0, 3.0]
