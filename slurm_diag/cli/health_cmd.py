"""`sdiag-agent health`: run the node health checks by hand, list the simulated node profiles,
forget what a node remembered after a repair.

`health check` exits like every command: 0 OK, 1 a problem found (WARN or CRITICAL), 3 could not
check (UNKNOWN), 2 bad input. The report's Nagios status is in its JSON; `--nagios` makes the
exit code that status instead (0 OK, 1 WARN, 2 CRITICAL, 3 UNKNOWN, and 3 for any error), for
monitoring systems that run it as a plugin.
"""

from __future__ import annotations

import json
import sys

import click

from slurm_diag.cli.output import emit_json, table
from slurm_diag.errors import EXIT_ENVIRONMENT, EXIT_FAILURE, EXIT_OK, SdiagError
from slurm_diag.status import Status

STATUS_COLUMN = {"OK": "ok", "WARN": "WARN", "CRITICAL": "CRITICAL", "UNKNOWN": "UNKNOWN"}


def check_exit_code(status: Status, nagios: bool = False) -> int:
    """The exit code of `health check` for the report's status: OK 0, WARN or CRITICAL 1 (a problem
    found), UNKNOWN 3 (could not check); with `nagios`, the Nagios code."""
    if nagios:
        return status.nagios_code
    if status is Status.OK:
        return EXIT_OK
    return EXIT_ENVIRONMENT if status is Status.UNKNOWN else EXIT_FAILURE


class NagiosCommand(click.Command):
    """With --nagios, any error (a malformed command line included) exits 3, Nagios' UNKNOWN."""

    def make_context(self, info_name, args, parent=None, **extra):
        nagios = "--nagios" in args
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as exc:
            if nagios:
                _nagios_unknown(exc.format_message())
            raise

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SdiagError as exc:
            if ctx.params.get("nagios"):
                _nagios_unknown(str(exc))
            raise


def _nagios_unknown(message: str) -> None:
    click.echo(f"sdiag-agent: UNKNOWN: {message}", err=True)
    sys.exit(Status.UNKNOWN.nagios_code)


@click.group("health")
def command() -> None:
    """Node health checks (the same ones the prolog, epilog and HealthCheckProgram run)."""


@command.command("check", cls=NagiosCommand)
@click.option("--level", type=click.Choice(["quick", "full", "off"]), default=None,
              help="quick (prolog default), full (adds a GPU kernel), off  [default: config health.level]")
@click.option("--context", type=click.Choice(["manual", "prolog", "epilog", "healthcheck"]), default="manual",
              help="judge as that hook would (e.g. stray GPU processes count only in prolog/epilog)")
@click.option("--profile", default=None, help="simulated node profile (path or shipped name); overrides SDIAG_GPU_PROFILE")
@click.option("--only", multiple=True, help="run only this check (repeatable)")
@click.option("--node", default=None, help="node name to report (default: SLURMD_NODENAME or the hostname)")
@click.option("--json", "as_json", is_flag=True, help="print the HealthReport as JSON")
@click.option("--nagios", is_flag=True,
              help="exit with the Nagios status (0 OK, 1 WARN, 2 CRITICAL, 3 UNKNOWN or error)")
def check(level, context, profile, only, node, as_json, nagios) -> None:
    """Run the checks; exit 0 OK, 1 a problem found (WARN or CRITICAL), 3 could not check
    (UNKNOWN), 2 bad input. With --nagios: 0 OK, 1 WARN, 2 CRITICAL, 3 UNKNOWN."""
    import os

    from slurm_diag.errors import UsageError
    from slurm_diag.gpu import profile as profile_mod
    from slurm_diag.health import node_report, registry
    from slurm_diag.health.context import Context, node_name, parse_gpu_list
    from slurm_diag.config import load

    cfg = load()
    env = dict(os.environ)
    if profile:
        env["SDIAG_GPU_PROFILE"] = profile
    chosen = env.get("SDIAG_GPU_PROFILE") or cfg.get("health.gpu_profile")
    if chosen:
        profile_mod.load(chosen)                      # a malformed profile: clear error, exit 2
    known = registry.all_checks()
    unknown_names = [n for n in only if n not in known]
    if unknown_names:
        raise UsageError(f"no check named {', '.join(unknown_names)}", hint=f"known: {', '.join(known)}")
    ctx = Context(cfg=cfg, context=context, level=level or cfg.get("health.level"),
                  node=node or node_name(env), job_id=env.get("SLURM_JOB_ID"),
                  job_gpus=parse_gpu_list(env.get("SLURM_JOB_GPUS")), env=env)
    report = node_report.check_node(ctx, list(only) or None)
    if as_json:
        emit_json(report, schema="health_report")
    else:
        click.echo(f"{report['node']}: {report['status']} ({report['level']}, {report['duration_s']:.3f} s)")
        table([[STATUS_COLUMN[c["status"]], c["name"], "" if c.get("gpu") is None else c["gpu"], c["message"]]
               for c in report["checks"]], ["status", "check", "gpu", "message"])
    sys.stdout.flush()
    sys.exit(check_exit_code(Status[report["status"]], nagios))


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
        emit_json(rows, schema="health_profile")
    else:
        table([[r["name"], r["gpus"], r["description"]] for r in rows], ["profile", "gpus", "description"])


@command.command("forget")
@click.option("--node", default=None, help="node whose remembered state to clear (default: this node)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def forget(node, as_json) -> None:
    """Forget a node's remembered XIDs, ECC baselines and clean-run count (after a GPU reset or repair)."""
    from slurm_diag.health import state
    from slurm_diag.health.context import node_name
    from slurm_diag.config import load

    cfg = load()
    node = node or node_name()
    removed = state.clear(cfg.home, node)
    if as_json:
        emit_json({"node": node, "removed": removed}, schema="health_forget")
    else:
        click.echo(f"{node}: forgot {', '.join(removed) if removed else 'nothing (no state)'}")
