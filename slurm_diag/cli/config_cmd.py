"""`sdiag-agent config show`: the effective config and where each value came from."""

from __future__ import annotations

import click

from slurm_diag import config as config_mod
from slurm_diag.cli.output import emit_json, table


@click.group("config")
def command() -> None:
    """Show the effective configuration."""


@command.command("show")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def show(as_json: bool) -> None:
    """Print every key, its value and its source (default, file:PATH, env:VAR).

    Passwords in URLs are shown as *** (as `store info` does); store.url_file is shown as its path.
    """
    cfg = config_mod.load()
    values = config_mod.masked(cfg.data)
    if as_json:
        emit_json({"path": str(cfg.path) if cfg.path else None, "values": values,
                   "sources": cfg.sources}, schema="config_show")
        return
    click.echo(f"# config file: {cfg.path or 'none (defaults)'}")
    table([[k, repr(v), cfg.sources.get(k, "default")] for k, v in config_mod.Config(values).flat().items()],
          ["key", "value", "source"])
