"""`sdiag-agent health`: run the node health checks by hand, list the simulated node profiles,
forget what a node remembered after a repair."""

from __future__ import annotations

import json
import sys

import click

from slurm_diag.cli.output import emit_json, table

STATUS_COLUMN = {"OK": "ok", "WARN": "WARN", "CRITICAL": "CRITICAL", "UNKNOWN": "UNKNOWN"}


@click.group("health")
def command() -> None:
    """Node health checks (the same ones the prolog, epilog and HealthCheckProgram run)."""


@command.command("check")
@click.option("--level", type=click.Choice(["quick", "full", "off"]), default=None,
              help="quick (prolog default), full (adds a GPU kernel), off  [default: config health.level]")
@click.option("--context", type=click.Choice(["manual", "prolog", "epilog", "healthcheck"]), default="manual",
              help="judge as that hook would (e.g. stray GPU processes count only in prolog/epilog)")
@click.option("--profile", default=None, help="simulated node profile (path or shipped name); overrides SDIAG_GPU_PROFILE")
@click.option("--only", multiple=True, help="run only this check (repeatable)")
@click.option("--node", default=None, help="node name to report (default: SLURMD_NODENAME or the hostname)")
@click.option("--json", "as_json", is_flag=True, help="print the HealthReport as JSON")
def check(level, context, profile, only, node, as_json) -> None:
    """Run the checks; exit 0 OK, 1 WARN, 2 CRITICAL, 3 UNKNOWN."""
    import os

    from slurm_diag.errors import UsageError
    from slurm_diag.gpu import profile as profile_mod
    from slurm_diag.health import registry, runner
    from slurm_diag.health.context import Context, node_name, parse_gpu_list
    from slurm_diag.health.settings import load
    from slurm_diag.status import Status

    settings = load(validate=True)
    env = dict(os.environ)
    if profile:
        env["SDIAG_GPU_PROFILE"] = profile
    chosen = env.get("SDIAG_GPU_PROFILE") or settings.get("gpu_profile")
    if chosen:
        profile_mod.load(chosen)                      # a malformed profile: clear error, exit 2
    known = registry.all_checks()
    unknown_names = [n for n in only if n not in known]
    if unknown_names:
        raise UsageError(f"no check named {', '.join(unknown_names)}", hint=f"known: {', '.join(known)}")
    ctx = Context(settings=settings, context=context, level=level or settings.get("level"),
                  node=node or node_name(env), job_id=env.get("SLURM_JOB_ID"),
                  job_gpus=parse_gpu_list(env.get("SLURM_JOB_GPUS")), env=env)
    report = runner.check_node(ctx, list(only) or None)
    if as_json:
        emit_json(report, schema="health_report")
    else:
        click.echo(f"{report['node']}: {report['status']} ({report['level']}, {report['duration_s']:.3f} s)")
        table([[STATUS_COLUMN[c["status"]], c["name"], "" if c.get("gpu") is None else c["gpu"], c["message"]]
               for c in report["checks"]], ["status", "check", "gpu", "message"])
    sys.stdout.flush()
    sys.exit(int(Status[report["status"]]))


@command.command("profiles")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def profiles(as_json) -> None:
    """List the shipped simulated node profiles."""
    from slurm_diag.gpu import profile as profile_mod

    rows = []
    for name in profile_mod.shipped():
        doc = json.loads((profile_mod.SHIPPED / f"{name}.json").read_text())
        rows.append({"name": name, "gpus": len(doc["gpus"]), "description": doc.get("description", ""),
                     "path": str(profile_mod.SHIPPED / f"{name}.json")})
    if as_json:
        emit_json(rows)
    else:
        table([[r["name"], r["gpus"], r["description"]] for r in rows], ["profile", "gpus", "description"])


@command.command("forget")
@click.option("--node", default=None, help="node whose remembered state to clear (default: this node)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def forget(node, as_json) -> None:
    """Forget a node's remembered XIDs, ECC baselines and clean-run count (after a GPU reset or repair)."""
    from slurm_diag.health import state
    from slurm_diag.health.context import node_name
    from slurm_diag.health.settings import load

    settings = load(validate=True)
    node = node or node_name()
    removed = state.clear(settings.home, node)
    if as_json:
        emit_json({"node": node, "removed": removed})
    else:
        click.echo(f"{node}: forgot {', '.join(removed) if removed else 'nothing (no state)'}")
