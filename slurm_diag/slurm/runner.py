"""The one process gateway: argv lists, a timeout on every call, process-group kill, typed errors.

Nothing else in slurm-diag starts Slurm commands. ``shell=True`` is never used.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass

from slurm_diag.slurm.errors import (
    SlurmCommandError, SlurmNotInstalled, SlurmTimeout, SlurmUnavailable,
)

# stderr fragments that mean "the daemon is not there", as opposed to "you asked for something wrong"
UNREACHABLE = (
    "Unable to contact slurm controller",
    "Could not establish a configuration source",
    "Connection refused",
    "Unable to establish connection",
    "Zero Bytes were transmitted or received",
    "Problem talking to the database",
    "slurmdbd: Connection",
    "Socket timed out",
    "Unable to connect to database",
    "Munge encode failed",
    "Failed to connect to slurmdbd",
    "Unable to read config",
    "unable to read",
)


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run(argv: list[str], *, timeout: float, env: dict[str, str] | None = None,
        input: str | None = None, check: bool = True, conf_hint: str | None = None) -> Result:
    """Run ``argv`` with a timeout; kill its whole process group on timeout.

    ``check`` raises SlurmUnavailable when stderr says the daemon is unreachable and
    SlurmCommandError for any other non-zero exit. ``conf_hint`` names the slurm.conf in use.
    """
    full_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise SlurmNotInstalled(
            f"`{argv[0]}` not found on PATH",
            hint="install Slurm's client commands (Debian: apt-get install slurm-client) "
                 "or set [slurm] bin_dir in the config") from None
    try:
        stdout, stderr = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise SlurmTimeout(argv, None, f"no answer within {timeout:g} s",
                           hint=_unreachable_hint(conf_hint)) from None
    result = Result(tuple(argv), proc.returncode, stdout, stderr)
    if check and proc.returncode != 0:
        raise_for(result, conf_hint)
    return result


def raise_for(result: Result, conf_hint: str | None = None) -> None:
    if any(marker.lower() in result.stderr.lower() for marker in UNREACHABLE):
        raise SlurmUnavailable(list(result.argv), result.returncode, result.stderr,
                               hint=_unreachable_hint(conf_hint))
    raise SlurmCommandError(list(result.argv), result.returncode, result.stderr or result.stdout)


def _unreachable_hint(conf: str | None) -> str:
    where = conf or os.environ.get("SLURM_CONF") or "Slurm's default /etc/slurm/slurm.conf"
    return (f"is slurmctld running and is SLURM_CONF right? (using {where}); "
            "for the local cluster run `sdiag-agent devcluster up`")


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=2)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.communicate()
