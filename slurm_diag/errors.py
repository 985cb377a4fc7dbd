"""Errors a person can act on: what was expected, what was found, what to do next.

The CLI prints these as one message and exits with ``exit_code``; it never shows a traceback
for them.

Exit codes shared by every command (documented in ``sdiag-agent --help`` and the README); each
means one thing only:
  0  success (for a check: nothing wrong found)
  1  the command ran and found a problem (a WARN or CRITICAL check, a failed probe)
  2  bad input: unknown job or node, malformed config, profile or argument
  3  could not check: Slurm unreachable, not root, a package missing, a check UNKNOWN
  4  refused: the caller may not do this (another user's job, not an approver)
Nagios statuses (OK 0, WARN 1, CRITICAL 2, UNKNOWN 3) live in the JSON and in the hooks'
contract; only `health check --nagios` exits with them.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1      # the command ran and found a problem (e.g. a probe failed)
EXIT_USAGE = 2        # bad input: unknown job or node, malformed config or profile
EXIT_ENVIRONMENT = 3  # could not check: Slurm unreachable, not root, package missing
EXIT_REFUSED = 4      # permission refused: another user's job, not an approver
EXIT_INTERRUPTED = 130   # Ctrl-C, as a shell reports a process SIGINT ended
EXIT_READER_GONE = 141   # its output's reader went away (`| head`), as a shell reports a process SIGPIPE ended


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


class PermissionRefused(SdiagError):
    """The caller (by uid, never by a flag) may not see or do this."""

    exit_code = EXIT_REFUSED


class InternalError(SdiagError):
    """A slurm-diag bug (e.g. JSON that does not match its own schema): say so, no traceback."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str):
        super().__init__(f"internal error: {message}",
                         hint="this is a slurm-diag bug: please report it with the command you ran")
