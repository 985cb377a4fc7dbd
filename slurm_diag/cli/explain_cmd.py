"""`sdiag-agent explain`: why a job failed or ran slow, in plain words, with the evidence."""

from __future__ import annotations

import sys

import click

from slurm_diag.cli.output import emit_json

SCOPE_WORDS = {"user": "your job", "infra": "the cluster"}


@click.command("explain")
@click.argument("job_id", required=False)
@click.option("--log", "log_path", default=None, metavar="FILE|-",
              help="diagnose a log alone (a file, or - for standard input): another scheduler's log, a ticket")
@click.option("--state", default=None, help="with --log: the job's final state, if known (TIMEOUT, OUT_OF_MEMORY ...)")
@click.option("--exit-code", type=int, default=None, help="with --log: the job's exit code, if known (137, 139 ...)")
@click.option("--json", "as_json", is_flag=True, help="print JSON (validates against explain.schema.json)")
def command(job_id, log_path, state, exit_code, as_json) -> None:
    """Explain JOB_ID, or a log given with --log: the cause, whose it is, the evidence and the next step.

    Exit codes: 0 explained (the cause may still be `unknown`), 2 bad input, 3 could not check.
    """
    from slurm_diag.errors import UsageError

    if bool(job_id) == bool(log_path):
        raise UsageError("give a job id or --log FILE (one of the two)",
                         hint="sdiag-agent explain 1234   or   sdiag-agent explain --log slurm-1234.out")
    if job_id:
        raise UsageError("explaining a job by id is not built yet; use --log with the job's output file",
                         hint="sdiag-agent explain --log $(scontrol show job JOBID | grep -o 'StdOut=[^ ]*' | cut -d= -f2)")
    doc = _explain_log(log_path, state, exit_code)
    if as_json:
        emit_json(doc, schema="explain")
    else:
        render(doc)


def _explain_log(path: str, state, exit_code) -> dict:
    from slurm_diag.diagnose import engine, logfile
    from slurm_diag.errors import UsageError

    if path == "-":
        log = logfile.from_text(sys.stdin.buffer.read(logfile.DEFAULT_MAX_BYTES * 64)[-logfile.DEFAULT_MAX_BYTES:])
    else:
        log = logfile.read_tail(path)
        if log.problem and log.size is None:
            raise UsageError(f"cannot read the log: {log.problem}", hint="give the path of the job's output file")
    diagnosis = engine.diagnose_log(log, state=state, exit_code=exit_code)
    doc = diagnosis.to_dict()
    doc["source"] = {"path": log.path or "-", "bytes": log.size, "truncated": log.truncated}
    return doc


def render(doc: dict) -> None:
    color = sys.stdout.isatty()
    a = doc["attribution"]
    label = a["label"]
    head = click.style(label, fg="red" if a["scope"] == "infra" else "yellow", bold=True) if color else label
    if label == "unknown":
        click.echo(f"Why: undetermined ({head})")
    else:
        click.echo(f"Why: {head}, {SCOPE_WORDS[a['scope']]} (confidence {a['confidence']:.2f})")
    click.echo(f"  {a['explanation']}")
    if a.get("suspect_nodes"):
        gpus = ", ".join(f"{g['node']}:gpu{g['gpu']}" for g in a.get("suspect_gpus", []))
        click.echo(f"  suspect nodes: {', '.join(a['suspect_nodes'])}" + (f"; GPUs: {gpus}" if gpus else ""))
    by_id = {f["id"]: f for f in doc["findings"]}
    if a["supporting"]:
        click.echo("Evidence:")
        for fid in a["supporting"]:
            f = by_id.get(fid)
            if f:
                click.echo(f"  [{fid}] {f['summary']}{_where(f)}")
    if doc["alternatives"]:
        click.echo("Also considered:")
        for alt in doc["alternatives"][:3]:
            click.echo(f"  {alt['label']} ({alt['scope']}): {alt.get('summary', '')[:160]}")
    if doc["not_checked"]:
        click.echo(f"Not checked: {'; '.join(doc['not_checked'])}")
    click.echo("Next:")
    for step in a["next_steps"]:
        click.echo(f"  - {step}")


def _where(finding: dict) -> str:
    raw = finding.get("raw")
    if isinstance(raw, dict) and raw.get("line"):
        return f"  ({raw.get('where', 'log')} line {raw['line']})"
    return ""
