"""`sdiag-agent`: a thin click CLI. Commands load lazily so `--help` and the prolog path stay fast.

\b
Exit codes (every command):
  0  success
  1  the command ran and found a problem (a failed check or probe)
  2  bad input: unknown job or node, malformed config, profile or argument
  3  could not check: Slurm unreachable, not root, a package missing
\b
`health check` exits with the report's status instead: 0 OK, 1 WARN, 2 CRITICAL, 3 UNKNOWN.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from slurm_diag import __version__
from slurm_diag.errors import EXIT_ENVIRONMENT, EXIT_USAGE, SdiagError



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


def main(argv=None) -> None:
    try:
        rc = cli.main(args=argv, prog_name="sdiag-agent", standalone_mode=False)
    except SdiagError as exc:
        click.echo(f"sdiag-agent: {exc}", err=True)
        sys.exit(exc.exit_code)
    except PermissionError as exc:
        click.echo(f"sdiag-agent: permission denied: {exc.filename or exc}\n"
                   "  next: run as root or SlurmUser, or point SDIAG_HOME at a directory you own", err=True)
        sys.exit(EXIT_ENVIRONMENT)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(rc if isinstance(rc, int) else 0)
