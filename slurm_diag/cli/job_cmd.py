"""`sdiag-agent job <jobid>`: the Slurm adapter's view of one job."""

from __future__ import annotations

import click

from slurm_diag.cli.output import emit_json
from slurm_diag.slurm import default_client


def _fmt_s(seconds: int | None) -> str:
    if seconds is None:
        return "unlimited"
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return (f"{d}-" if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


@click.command("job")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="print JSON (validates against job.schema.json)")
def command(job_id: str, as_json: bool) -> None:
    """State, exit code and signal, times, nodes, GPUs, paths and steps of JOB_ID.

    Exit code 2 when the job is unknown.
    """
    job = default_client().get_job(job_id)
    if as_json:
        emit_json(job.to_dict(), schema="job")
        return
    rows = [
        ("job", f"{job.job_id} ({job.name}) user {job.user or '?'} partition {job.partition or '?'}"),
        ("state", job.state_detail + (f"  reason: {job.reason}" if job.reason else "")),
        ("exit", f"code {job.exit_code}, signal {job.signal}"),
        ("time", f"elapsed {_fmt_s(job.elapsed_s)} of limit {_fmt_s(job.time_limit_s)}"),
        ("nodes", f"{job.node_list or '-'}  GPUs {job.gpus}"),
        ("tres", ",".join(f"{k}={v}" for k, v in job.alloc_tres) or "-"),
        ("workdir", job.work_dir or "-"),
        ("stdout", job.stdout or "-"),
        ("stderr", job.stderr or "-"),
    ]
    for key, value in rows:
        click.echo(f"{key:8} {value}")
    for step in job.steps:
        click.echo(f"  step {step.step_id:8} {step.state:14} exit {step.exit_code}:{step.signal} "
                   f"elapsed {_fmt_s(step.elapsed_s)} on {','.join(step.nodes) or '-'}")
