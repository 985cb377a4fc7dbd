"""`sdiag-agent`: a thin click CLI. Commands load lazily so `--help` and the prolog path stay fast.

\b
Exit codes (every command, `health check` included; each means one thing):
  0  success: nothing wrong found
  1  the command ran and found a problem (a WARN or CRITICAL check, a failed probe)
  2  bad input: unknown job or node, malformed config, profile or argument
  3  could not check: Slurm unreachable, not root, a package missing, a check UNKNOWN
  4  refused: you may not do this (another user's job, not an approver)
  130 interrupted (Ctrl-C)
  141 the reader of its output went away (`| head`), as for any program SIGPIPE ends
\b
Nagios statuses (OK 0, WARN 1, CRITICAL 2, UNKNOWN 3) are in the JSON; `health check --nagios`
exits with them instead, for monitoring systems.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import click

from slurm_diag import __version__
from slurm_diag.errors import (EXIT_ENVIRONMENT, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_READER_GONE, EXIT_USAGE,
                               SdiagError)



class LazyGroup(click.Group):
    """Registration by file: `slurm_diag/cli/<name>_cmd.py` exporting `command` adds `<name>`."""

    def list_commands(self, ctx):
        return sorted(m.name[:-4] for m in pkgutil.iter_modules(__path__) if m.name.endswith("_cmd"))

    def get_command(self, ctx, name):
        if name not in self.list_commands(ctx):
            return None
        return importlib.import_module(f"{__name__}.{name}_cmd").command


@click.group(cls=LazyGroup, help=__doc__.split("\n", 1)[1] if __doc__ else None,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sdiag-agent")
def cli() -> None:
    """slurm-diag: node health, probes, knowledge base and diagnosis for GPU Slurm clusters."""


def _printable(text: str) -> str:
    """Escape what a terminal or a log should not receive raw (control characters, stray bytes)."""
    return "".join(ch if ch.isprintable() or ch == "\n" else ascii(ch)[1:-1] for ch in text)


def _fail(message: str, code: int) -> None:
    click.echo(f"sdiag-agent: {_printable(message)}", err=True)
    sys.exit(code)


def _run(argv):
    """The command, as click runs it. click ends a command whose output's reader went away with exit
    1, which here means "found a problem": that is told apart by the quiet stdout click puts in place
    of the broken one."""
    out = sys.stdout
    try:
        return cli.main(args=argv, prog_name="sdiag-agent", standalone_mode=False)
    except SystemExit as exc:
        if exc.code == 1 and sys.stdout is not out:
            sys.exit(EXIT_READER_GONE)
        raise


def main(argv=None) -> None:
    """Run the CLI. Every failure is one message and a documented exit code, never a traceback
    (SDIAG_DEBUG=1 shows the traceback of an unexpected error, for a bug report)."""
    try:
        rc = _run(argv)
    except SdiagError as exc:
        _fail(str(exc), exc.exit_code)
    except PermissionError as exc:
        _fail(f"permission denied: {exc.filename or exc}\n"
              "  next: run as root or SlurmUser, or point SDIAG_HOME at a directory you own", EXIT_ENVIRONMENT)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        _fail(f"cannot use{where}: {exc.strerror or exc}\n"
              "  next: check that the path exists and this user may read and write it "
              "(SDIAG_HOME, SDIAG_CONFIG)", EXIT_ENVIRONMENT)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a bug, said in one line
        if os.environ.get("SDIAG_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc}\n"
              "  next: this is a slurm-diag bug; rerun with SDIAG_DEBUG=1 and report the traceback",
              EXIT_FAILURE)
    sys.exit(rc if isinstance(rc, int) else 0)
