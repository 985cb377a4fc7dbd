"""Errors a person can act on: what was expected, what was found, what to do next.

The CLI prints these as one message and exits with ``exit_code``; it never shows a traceback
for them.
"""

from __future__ import annotations

# Exit codes shared by every command (documented in ``sdiag-agent --help``).
EXIT_OK = 0
EXIT_FAILURE = 1      # the command ran and found a problem (e.g. a probe failed)
EXIT_USAGE = 2        # bad input: unknown job or node, malformed config or profile
EXIT_ENVIRONMENT = 3  # could not check: Slurm unreachable, not root, package missing


class SdiagError(Exception):
    """Base of every error meant for a person rather than a developer."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  next: {self.hint}" if self.hint else self.message


class UsageError(SdiagError):
    exit_code = EXIT_USAGE


class EnvironmentProblem(SdiagError):
    exit_code = EXIT_ENVIRONMENT
