"""`sdiag-agent store info|ingest`: the database behind reports, results and proposals."""

from __future__ import annotations

from pathlib import Path

import click

from slurm_diag import config as config_mod
from slurm_diag.cli.output import emit_json
from slurm_diag.store import Store
from slurm_diag.store.ingest import ingest_once


@click.group("store")
def command() -> None:
    """The store (SQLite by default; any SQLAlchemy URL via [store] url)."""


@command.command("info")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def info(as_json: bool) -> None:
    """Where the store is (password shown as ***) and its schema version.

    Exit 3 when the store cannot be read: a corrupt file, an unreachable server, no rights.
    """
    cfg = config_mod.load()
    store = Store(cfg.store_url)
    doc = {"url": config_mod.mask_url(cfg.store_url), "schema_version": store.schema_version, **store.counts()}
    if as_json:
        emit_json(doc, schema="store_info")
        return
    for key, value in doc.items():
        click.echo(f"{key:15} {value}")


@command.command("ingest")
@click.option("--spool", type=click.Path(path_type=Path), default=None,
              help="spool directory (default: <home>/spool)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def ingest_cmd(spool: Path | None, as_json: bool) -> None:
    """Move the reports the prolog/epilog/HealthCheckProgram spooled into the store.

    A spooled file is removed only after its row is written: on a read-only or corrupt store
    (exit 3) every file stays where it was.
    """
    cfg = config_mod.load()
    spool = spool or cfg.spool_dir
    summary = ingest_once(spool, lambda: Store(cfg.store_url), wait=True)     # after a hook's ingest, if one runs
    if as_json:
        emit_json(summary.as_dict(), schema="store_ingest")
        return
    click.echo(f"ingested {summary.health} health reports, {summary.jobs} job ends, "
               f"{summary.actions} actions from {spool}")
    for line in summary.rejected:
        click.echo(f"rejected {line}", err=True)
