"""Printing helpers shared by commands: JSON that validates against its schema, plain tables."""

from __future__ import annotations

import json

import click

from slurm_diag import schemas


def emit_json(document, schema: str | None = None) -> None:
    """Print JSON; when a schema applies, validate every document first (a bug if it fails)."""
    if schema:
        for item in document if isinstance(document, list) else [document]:
            schemas.validate(schema, item)
    click.echo(json.dumps(document, indent=2, sort_keys=False, default=str))


def table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
