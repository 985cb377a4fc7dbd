"""Start and stop the local cluster's daemons by pid file, without systemd."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from slurm_diag import process
from slurm_diag.errors import EnvironmentProblem


@dataclass(frozen=True)
class Daemon:
    name: str          # e.g. "slurmd-node2"
    argv: tuple[str, ...]
    pid_file: Path
    log_file: Path
    forks: bool        # True: the program daemonizes and writes pid_file itself

    def pid(self) -> int | None:
        """The live pid from the pid file, or None (missing file, dead or zombie process)."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if alive(pid) else None


def alive(pid: int) -> bool:
    """True for a running process; a zombie (state Z, reaped late by PID 1 here) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def start(daemon: Daemon, env: dict[str, str], timeout: float = 15.0) -> int:
    """Start the daemon unless it already runs; return its pid."""
    running = daemon.pid()
    if running:
        return running
    daemon.pid_file.unlink(missing_ok=True)
    daemon.pid_file.parent.mkdir(parents=True, exist_ok=True)
    if not daemon.forks:
        proc = process.spawn(list(daemon.argv), env=env, log=daemon.log_file)
        daemon.pid_file.write_text(f"{proc.pid}\n")
        time.sleep(0.1)
        if proc.poll() is not None:
            raise EnvironmentProblem(f"{daemon.name} exited at once ({proc.returncode})", hint=f"see {daemon.log_file}")
        return proc.pid
    try:    # the program forks into its own session and its first process exits
        rc = process.run(list(daemon.argv), timeout=timeout, env=env, log=daemon.log_file).returncode
    except process.ProcessTimeout:
        rc = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = daemon.pid()
        if pid:
            return pid
        time.sleep(0.05)
    raise EnvironmentProblem(f"{daemon.name} did not start (exit {rc})", hint=f"see {daemon.log_file} and {_log_hint(daemon)}")


def stop(daemon: Daemon, grace: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after ``grace`` seconds. True when something was stopped."""
    pid = daemon.pid()
    if not pid:
        daemon.pid_file.unlink(missing_ok=True)
        return False
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.05)
        if not alive(pid):
            break
    daemon.pid_file.unlink(missing_ok=True)
    return True


def _log_hint(daemon: Daemon) -> str:
    """The daemon's own log, where its fatal message usually is."""
    name = daemon.name.split("-")[0]
    return str(daemon.log_file.parent / (f"{daemon.name}.log" if name == "slurmd" else f"{name}.log"))


def kill(daemon: Daemon) -> bool:
    """SIGKILL, as when a node falls over: no chance to say goodbye to slurmctld."""
    pid = daemon.pid()
    if not pid:
        return False
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    return True
