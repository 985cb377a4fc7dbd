"""`sdiag-agent nodes`: what Slurm says about each node."""

from __future__ import annotations

import click

from slurm_diag.cli.output import emit_json, table
from slurm_diag.slurm import default_client


@click.command("nodes")
@click.option("--json", "as_json", is_flag=True, help="print JSON (validates against node.schema.json)")
def command(as_json: bool) -> None:
    """Nodes with their state, drain reason and GPUs (allocated/total)."""
    nodes = default_client().list_nodes()
    if as_json:
        emit_json([n.to_dict() for n in nodes], schema="node")
        return
    table([[n.name, "+".join([n.state, *n.flags]), f"{n.gpus_used}/{n.gpus}", ",".join(n.partitions),
            n.reason or ""] for n in nodes], ["node", "state", "gpus", "partitions", "reason"])
