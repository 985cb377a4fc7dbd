"""`sdiag-agent devcluster up|down|status|wipe|inject|heal`: the built-in local Slurm cluster."""

from __future__ import annotations

import click

from slurm_diag.cli.output import emit_json, table
from slurm_diag.devcluster import cluster


def _say(msg: str) -> None:
    click.echo(f"devcluster: {msg}", err=True)


@click.group("devcluster")
def command() -> None:
    """A real Slurm cluster on this machine (munge, MariaDB, slurmdbd, slurmctld, N slurmd).

    State lives under $SDIAG_HOME/devcluster (default ~/.sdiag/devcluster). Use
    `eval $(sdiag-agent devcluster env)` to point Slurm's commands at it.
    """


@command.command()
@click.option("--nodes", type=click.IntRange(1, 16), default=None, help="number of slurmd (default 4)")
@click.option("--timeout", type=float, default=90, show_default=True, help="seconds to wait for idle nodes")
def up(nodes: int | None, timeout: float) -> None:
    """Start what is not running and wait until every node is idle and accounting answers."""
    cluster.preflight()
    lay = cluster.layout(nodes)
    cluster.up(lay, say=_say, timeout=timeout)
    click.echo(f"local cluster up: {lay.nodes} nodes; SLURM_CONF={lay.slurm_conf}")


@command.command()
def down() -> None:
    """Stop every daemon (SIGTERM, then SIGKILL after a grace period)."""
    cluster.down(cluster.layout(), say=_say)


@command.command()
@click.option("--yes", is_flag=True, help="do not ask")
def wipe(yes: bool) -> None:
    """Stop every daemon and delete all state (accounting, drain reasons, logs)."""
    lay = cluster.layout()
    if not yes and not click.confirm(f"delete {lay.base}?"):
        return
    cluster.wipe(lay, say=_say)


@command.command()
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def status(as_json: bool) -> None:
    """Daemons (pid, running) and nodes (state, reason, GPUs)."""
    st = cluster.status(cluster.layout())
    if as_json:
        emit_json(st, schema="devcluster_status")
        return
    click.echo(f"# {st['base']}  SLURM_CONF={st['slurm_conf']}")
    table([[d["name"], str(d["pid"] or "-"), "running" if d["running"] else "stopped"]
           for d in st["daemons"]], ["daemon", "pid", "state"])
    if st["nodes"]:
        click.echo("")
        table([[n["name"], "+".join([n["state"], *n["flags"]]), str(n["gpus"]), n["reason"] or ""]
               for n in st["nodes"]], ["node", "state", "gpus", "reason"])
    if st["error"]:
        click.echo(f"\nnodes unavailable: {st['error']}")


@command.command()
def env() -> None:
    """Print `export SLURM_CONF=...` for the local cluster."""
    lay = cluster.layout()
    click.echo(f"export SLURM_CONF={lay.slurm_conf}")
    click.echo(f"export SDIAG_CONFIG={lay.base}/etc/sdiag.toml")


@command.command()
@click.argument("node")
@click.argument("profile")
def inject(node: str, profile: str) -> None:
    """Give NODE the GPU profile PROFILE (e.g. h100-8-throttled-gpu3); no restart needed."""
    path = cluster.set_profile(cluster.layout(), node, profile)
    click.echo(f"{node}: GPU profile {profile} ({path})")


@command.command()
@click.argument("node")
@click.option("--cpu-quota", type=float, required=True, help="CPUs the node's jobs may use, e.g. 0.3")
def slow(node: str, cpu_quota: float) -> None:
    """Slow NODE for real: its slurmd and every job it starts get a CPU quota (cgroup v1)."""
    group = cluster.slow(cluster.layout(), node, cpu_quota)
    click.echo(f"{node}: limited to {cpu_quota:g} CPUs ({group})")


@command.command()
@click.argument("node")
def heal(node: str) -> None:
    """Undo `inject` and `slow` on NODE: healthy GPU profile, no CPU quota."""
    lay = cluster.layout()
    cluster.set_profile(lay, node, cluster.HEALTHY_PROFILE)
    cluster.unslow(lay, node)
    click.echo(f"{node}: healed")
