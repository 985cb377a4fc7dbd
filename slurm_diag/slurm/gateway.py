"""The Slurm gateway: Slurm commands through ``slurm_diag.process.run`` (argv lists, a timeout on
every call, process-group kill), their failures turned into Slurm's typed errors.

Nothing else in slurm-diag starts Slurm commands. ``shell=True`` is never used.
"""

from __future__ import annotations

import os

from slurm_diag import process
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


Result = process.Completed

# what the caller's environment must not change in the commands' output: a user's
# SLURM_TIME_FORMAT=relative would print "Tomorrow 12:00" where the parsers read 2026-12-02T12:00:00
FIXED_ENV = {"SLURM_TIME_FORMAT": "standard"}


def run(argv: list[str], *, timeout: float, env: dict[str, str] | None = None,
        input: str | None = None, check: bool = True, conf_hint: str | None = None) -> Result:
    """Run ``argv`` with a timeout; kill its whole process group on timeout.

    ``check`` raises SlurmUnavailable when stderr says the daemon is unreachable and
    SlurmCommandError for any other non-zero exit. ``conf_hint`` names the slurm.conf in use.
    """
    try:
        result = process.run(argv, timeout=timeout, env={**FIXED_ENV, **(env or {})}, input=input)
    except process.ProgramNotFound:
        raise SlurmNotInstalled(
            f"`{argv[0]}` not found on PATH",
            hint="install Slurm's client commands (Debian: apt-get install slurm-client) "
                 "or set [slurm] bin_dir in the config") from None
    except process.ProcessTimeout:
        raise SlurmTimeout(argv, None, f"no answer within {timeout:g} s",
                           hint=_unreachable_hint(conf_hint)) from None
    if check and result.returncode != 0:
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

