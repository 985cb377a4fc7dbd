"""Printing helpers shared by commands: JSON that validates against its schema, plain tables."""

from __future__ import annotations

import json

import click

from slurm_diag import schemas
from slurm_diag.errors import InternalError


def emit_json(document, schema: str) -> None:
    """Print `document` as JSON after checking it against `schema` (slurm_diag/schemas/<schema>
    .schema.json; a list is checked item by item). Nothing is printed when the check fails or a
    value is not JSON (no `default=str`): either is a slurm-diag bug, reported as an internal
    error (exit 1) rather than as output that breaks the promise of the schema."""
    problems = schemas.output_errors(schema, document)
    if problems:
        raise InternalError(f"the JSON output does not match {schema}{schemas.SUFFIX}: "
                            + "; ".join(problems[:3]))
    try:
        text = json.dumps(document, indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InternalError(f"the {schema} output cannot be written as JSON: {exc}") from None
    click.echo(text)


def table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())


def clip(text: str, width: int) -> str:
    """At most ``width`` characters; a cut one ends at a word and says so with "..."."""
    if len(text) <= width:
        return text
    cut = text[:width - 3]
    return (cut.rsplit(" ", 1)[0] if " " in cut[width // 2:] else cut) + "..."
