"""`sdiag-agent job <jobid>`: the Slurm adapter's view of one job, array task or job array."""

from __future__ import annotations

import click

from slurm_diag.cli.output import emit_json
from slurm_diag.slurm import default_client, hetjob, submission
from slurm_diag.slurm.job_lookup import start_hint
from slurm_diag.slurm.records import Job, JobArray, Unreachable

MAX_TASK_LINES = 50  # an array's failed tasks are always listed; the others up to this many lines


def _fmt_s(seconds: int | None) -> str:
    if seconds is None:
        return "unlimited"
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return (f"{d}-" if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


def _missing_lines(unreachable: tuple[Unreachable, ...], conf: str | None) -> list[tuple[str, str]]:
    return [("missing", f"{u.daemon} did not answer ({u.command}: {u.error}): shown without "
                        f"{u.loses}; next: {start_hint([u.daemon], conf)}") for u in unreachable]


def _job_lines(job: Job) -> list[tuple[str, str]]:
    return [
        ("job", f"{job.job_id} ({job.name}) user {job.user or '?'} partition {job.partition or '?'}"
                + (f" account {job.account}" if job.account else "") + (f" QOS {job.qos}" if job.qos else "")),
        ("state", job.state_detail + (f"  reason: {job.reason}" if job.reason else "")
         + (f"  expected start: {job.expected_start} (slurmctld's estimate)" if job.expected_start else "")),
        ("exit", f"code {job.exit_code}, signal {job.signal}"),
        ("time", f"elapsed {_fmt_s(job.elapsed_s)} of limit {_fmt_s(job.time_limit_s)}"),
        ("nodes", f"{job.node_list or '-'}  GPUs {job.gpus}"),
        *([("het", "a heterogeneous job: " + "; ".join(hetjob.describe(c.to_dict()) for c in job.het_components))]
          if job.het_components else []),
        ("tres", ",".join(f"{k}={v}" for k, v in job.alloc_tres) or "-"),
        ("workdir", job.work_dir or "-"),
        ("stdout", (job.stdout or "-") + _origin(job)),
        ("stderr", job.stderr or "-"),
    ]


def _origin(job: Job) -> str:
    """Where a forgotten job's stdout path came from (slurm.submission); "" while slurmctld shows it."""
    if not job.output_from or not job.stdout:
        return ""
    if job.output_from == submission.DEFAULT:
        return "  (Slurm's default name: slurmctld has forgotten the job, and nothing accounting kept named another)"
    said = {submission.SUBMIT_LINE: "its sbatch command line", submission.SCRIPT: "its #SBATCH lines",
            submission.PBS: "its #PBS lines", submission.BSUB: "its #BSUB lines",
            submission.ENVIRONMENT: "its SBATCH_OUTPUT"}.get(job.output_from, job.output_from)
    return f"  (from {said}, as accounting kept the job's submission: slurmctld has forgotten the job)"


def _task_line(task: Job) -> str:
    where = task.node_list or "-"
    reason = f"  reason: {task.reason}" if task.reason and not task.finished else ""
    return (f"{task.job_id:12} {task.state_detail:16} exit {task.exit_code}:{task.signal}  "
            f"elapsed {_fmt_s(task.elapsed_s)} on {where}{reason}")


def _array_lines(array: JobArray) -> list[tuple[str, str]]:
    rows = [("array", f"{array.array_job_id} ({array.name}) user {array.user or '?'}"),
            ("summary", array.summary + ("" if array.finished else "  (not finished)"))]
    if array.failed:
        rows.append(("failed", " ".join(t.job_id for t in array.failed)))
    shown = max(len(array.failed), MAX_TASK_LINES)
    rows += [("task", _task_line(t)) for t in array.tasks[:shown]]
    if len(array.tasks) > shown:
        rows.append(("task", f"... {len(array.tasks) - shown} more (`--json` lists every task)"))
    return rows


@click.command("job")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True,
              help="print JSON (job.schema.json; an array's id: job_array.schema.json)")
def command(job_id: str, as_json: bool) -> None:
    """State, exit code and signal, times, nodes, GPUs, paths and steps of JOB_ID.

    JOB_ID is 1234, or 1234_5 for task 5 of array 1234. An array's id shows every task, failed
    ones first, with the states counted. A heterogeneous job (1234+0, 1234+1) is shown whole.
    Uses accounting (slurmdbd) and slurmctld, whichever answers, and says which one did not.

    Exit code 2 when the job or task is unknown or JOB_ID is not a job id; 3 when neither
    slurmdbd nor slurmctld can answer.
    """
    client = default_client()
    found = client.get_job(job_id)
    if as_json:
        emit_json(found.to_dict(), schema="job_array" if isinstance(found, JobArray) else "job")
        return
    rows = _array_lines(found) if isinstance(found, JobArray) else _job_lines(found)
    rows += _missing_lines(found.unreachable, getattr(client, "conf", None))
    for key, value in rows:
        click.echo(f"{key:8} {value}")
    if isinstance(found, Job):
        for step in found.steps:
            click.echo(f"  step {step.step_id:8} {step.state:14} exit {step.exit_code}:{step.signal} "
                       f"elapsed {_fmt_s(step.elapsed_s)} on {','.join(step.nodes) or '-'}")
