"""The local cluster's daemon starter, on stand-in programs: a program that stays in the foreground
(started detached, pid recorded by us), one that forks and writes its own pid file, and one that
fails before writing it (a typed error naming its exit code and log)."""

from __future__ import annotations

import sys

import pytest

from slurm_diag.devcluster import daemons
from slurm_diag.devcluster.daemons import Daemon
from slurm_diag.errors import EnvironmentProblem

FORKING = r"""
import os, sys, time
if os.fork():
    sys.exit(0)                      # the first process exits, as a daemonizing program does
os.setsid()
open(sys.argv[1], "w").write(f"{os.getpid()}\n")
print("daemon up", flush=True)
time.sleep(300)
"""


def test_foreground_program_is_started_detached_and_stopped(tmp_path):
    d = Daemon("fg", (sys.executable, "-c", "import time; print('fg up', flush=True); time.sleep(300)"),
               tmp_path / "run" / "fg.pid", tmp_path / "log" / "fg.log", forks=False)
    pid = daemons.start(d, {"SDIAG_T": "1"})
    try:
        assert d.pid() == pid and daemons.alive(pid)
        assert daemons.start(d, {}) == pid                    # already running: not started twice
    finally:
        assert daemons.stop(d, grace=5)
    assert not daemons.alive(pid) and not d.pid_file.exists()


def test_forking_program_writes_its_own_pid_file(tmp_path):
    pid_file = tmp_path / "run" / "fork.pid"
    pid_file.parent.mkdir()
    d = Daemon("fork", (sys.executable, "-c", FORKING, str(pid_file)), pid_file, tmp_path / "log" / "fork.out",
               forks=True)
    pid = daemons.start(d, {}, timeout=60)
    try:
        assert daemons.alive(pid) and int(pid_file.read_text()) == pid
    finally:
        daemons.stop(d, grace=5)
    assert not daemons.alive(pid)
    assert "daemon up" in d.log_file.read_text()


def test_program_that_never_writes_its_pid_file_is_a_clear_error(tmp_path):
    d = Daemon("broken", (sys.executable, "-c", "import sys; print('bad config', file=sys.stderr); sys.exit(3)"),
               tmp_path / "run" / "broken.pid", tmp_path / "log" / "broken.out", forks=True)
    with pytest.raises(EnvironmentProblem) as err:
        daemons.start(d, {}, timeout=5)
    assert "broken did not start (exit 3)" in err.value.message and str(d.log_file) in err.value.hint
    assert "bad config" in d.log_file.read_text()


def test_missing_program_is_a_clear_error(tmp_path):
    d = Daemon("ghost", (str(tmp_path / "no-such-daemon"),), tmp_path / "ghost.pid", tmp_path / "ghost.log",
               forks=False)
    with pytest.raises(EnvironmentProblem, match="no-such-daemon"):
        daemons.start(d, {})
