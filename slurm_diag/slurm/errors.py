"""Typed errors from the Slurm boundary: each carries the command, its return code and stderr."""

from __future__ import annotations

from slurm_diag.errors import EnvironmentProblem, SdiagError, UsageError


class SlurmError(SdiagError):
    """Anything that went wrong at the Slurm boundary."""


class SlurmCommandError(SlurmError):
    """A Slurm command failed for a reason not covered below."""

    def __init__(self, argv: list[str], returncode: int | None, stderr: str, *, hint: str | None = None):
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr.strip()
        detail = self.stderr.splitlines()[-1] if self.stderr else "no message"
        super().__init__(f"`{' '.join(self.argv)}` exited {returncode}: {detail}",
                         hint=hint or "check the Slurm daemons' logs")


class SlurmUnavailable(SlurmCommandError, EnvironmentProblem):
    """The controller (or the accounting daemon) did not answer."""

    exit_code = EnvironmentProblem.exit_code


class SlurmTimeout(SlurmUnavailable):
    """A Slurm command ran past its timeout and was killed."""


class SlurmNotInstalled(SlurmError, EnvironmentProblem):
    exit_code = EnvironmentProblem.exit_code


class JobNotFound(SlurmError, UsageError):
    exit_code = UsageError.exit_code


class NodeNotFound(SlurmError, UsageError):
    exit_code = UsageError.exit_code


class InvalidJobId(SlurmError, UsageError):
    """Text that is not a job id (checked before any Slurm command runs)."""

    exit_code = UsageError.exit_code


class JobSourcesUnavailable(SlurmUnavailable):
    """Neither slurmdbd nor slurmctld could say what a job is: both were down, or the one that
    answered cannot decide alone."""

    def __init__(self, message: str, *, hint: str):
        SlurmError.__init__(self, message, hint=hint)
        self.argv, self.returncode, self.stderr = [], None, ""
