"""`sdiag-agent explain`: why a job failed or ran slow, in plain words, with the evidence."""

from __future__ import annotations

import sys

import click

from slurm_diag.cli.output import clip, emit_json

SCOPE_WORDS = {"user": "your job", "infra": "the cluster"}


@click.command("explain")
@click.argument("job_id", required=False)
@click.option("--log", "log_path", default=None, metavar="FILE|-",
              help="diagnose a log alone (a file, or - for standard input): another scheduler's log, a ticket")
@click.option("--state", default=None, help="with --log: the job's final state, if known (TIMEOUT, OUT_OF_MEMORY ...)")
@click.option("--exit-code", type=int, default=None, help="with --log: the job's exit code, if known (137, 139 ...)")
@click.option("--since", default=None, metavar="DURATION",
              help="instead of one job: your jobs that ended badly in the last DURATION (30m, 12h, 2d), each "
                   "with its cause")
@click.option("--pending", "waiting", is_flag=True,
              help="instead of one job: why your jobs that wait (pending, held, suspended) are not running, "
                   "each reason once")
@click.option("--user", "user", default=None,
              help="with --since or --pending: this user's jobs (an administrator's option)")
@click.option("--all", "everyone", is_flag=True,
              help="with --since or --pending: every user's jobs (an administrator's option)")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="with --since: explain at most this many, the newest")
@click.option("--json", "as_json", is_flag=True,
              help="print JSON (validates against explain.schema.json; with --since explain_recent.schema.json, "
                   "with --pending explain_waiting.schema.json)")
def command(job_id, log_path, state, exit_code, since, waiting, user, everyone, limit, as_json) -> None:
    """Explain JOB_ID, or a log given with --log: the cause, whose it is, the evidence and the next step.
    With --since, every job of yours that ended badly in that time, one line each. With --pending,
    why your jobs that wait are not running, each reason once.

    Exit codes: 0 explained (the cause may still be `unknown`), 2 bad input, 3 could not check,
    4 refused (another user's job, or --user/--all without being an administrator).
    """
    from slurm_diag.errors import UsageError

    if since and waiting:
        raise UsageError("--since lists jobs that ended, --pending jobs that wait: give one",
                         hint="sdiag-agent explain --pending   or   sdiag-agent explain --since 1d")
    if since or waiting:
        _explain_listing(since, user, everyone, limit, as_json,
                         given_one=bool(job_id or log_path or state or exit_code is not None))
        return
    if user or everyone:
        raise UsageError("--user and --all go with --since or --pending",
                         hint="sdiag-agent explain --since 1d --all   or   sdiag-agent explain --pending --all")
    if bool(job_id) == bool(log_path):
        raise UsageError("give a job id or --log FILE (one of the two)",
                         hint="sdiag-agent explain 1234   or   sdiag-agent explain --log slurm-1234.out"
                              "   or   sdiag-agent explain --since 1d")
    if job_id and (state or exit_code is not None):
        raise UsageError("--state and --exit-code go with --log; for a job id they come from Slurm",
                         hint=f"sdiag-agent explain {job_id}")
    doc = _explain_job(job_id) if job_id else _explain_log(log_path, state, exit_code)
    if as_json:
        emit_json(doc, schema="explain")
    else:
        render(doc, teach=doc["attribution"]["label"] == "unknown" and _may_teach())


def _explain_listing(since, user, everyone, limit, as_json, *, given_one: bool) -> None:
    """`--since` (the jobs that ended badly in a window) or `--pending` (the jobs that wait): the
    same checks of what goes with them, then the listing as text or JSON."""
    from slurm_diag.errors import UsageError

    flag, jobs, example = (("--since", "recent", "sdiag-agent explain --since 1d") if since else
                           ("--pending", "waiting", "sdiag-agent explain --pending"))
    if given_one:
        raise UsageError(f"{flag} lists your {jobs} jobs: it takes no job id, --log, --state or --exit-code",
                         hint=f"{example}   or   sdiag-agent explain 1234")
    if user and everyone:
        raise UsageError("--user and --all: give one", hint=f"{example} --all")
    if since:
        from slurm_diag.cli import explain_recent as listing
        from slurm_diag.cli.agent_cmd import parse_since

        doc = listing.recent_doc(parse_since(since, hint=example), user, everyone, limit)
        schema = "explain_recent"
    else:
        from slurm_diag.cli import explain_waiting as listing

        doc = listing.waiting_doc(user, everyone)
        schema = "explain_waiting"
    if as_json:
        emit_json(doc, schema=schema)
    else:
        listing.render(doc)


def _may_teach() -> bool:
    """Whether the caller administers the site (root, SlurmUser, an approver) and so may be shown how
    to teach the knowledge base."""
    from slurm_diag import config
    from slurm_diag.identity import Access, Caller

    return Access.from_config(config.load()).privileged(Caller.current())


def _explain_job(job_id: str) -> dict:
    from slurm_diag import config
    from slurm_diag.identity import Access, Caller
    from slurm_diag.slurm import default_client
    from slurm_diag.slurm.records import JobArray

    cfg = config.load()
    client = default_client(cfg)
    _import_meanwhile("slurm_diag.store.node_records", "slurm_diag.diagnose.collect", "slurm_diag.diagnose.engine")
    job = client.get_job(job_id)
    Access.from_config(cfg).check_job(Caller.current(), job.user, job_id)
    diagnose = _diagnoser(cfg, client)
    if isinstance(job, JobArray):
        return _explain_array(job, diagnose, client)
    return _job_doc(job, diagnose)


def _import_meanwhile(*modules: str) -> None:
    """Import what the diagnosis needs in a background thread while sacct and scontrol answer (a
    fifth of a second spent waiting): the imports then cost nothing on the way. A module that fails
    to import here fails again, with its error, where it is used."""
    import importlib
    import threading

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - reported by the import that needs it
                return

    threading.Thread(target=load, name="sdiag-imports", daemon=True).start()


def _diagnoser(cfg, client):
    """diagnose(job) -> explain document: the engine over the job, its nodes' events, health and
    probe records (the store is opened once, on first use, and only if a job needs it; a user who
    cannot open it reads the nodes' records through ``store.nodes_url``)."""
    from slurm_diag.diagnose import collect, engine

    opened = {}

    def store():
        if "store" not in opened:
            from slurm_diag.store.node_records import open_for_reading

            opened["store"] = open_for_reading(cfg)     # a user: the nodes' records (store.nodes_url)
        return opened["store"]

    def diagnose(job, history=None) -> dict:
        missing = [f"{u.daemon} did not answer ({u.error}): {u.loses}" for u in job.unreachable]
        more, not_checked = collect.around_job(job, client, store, history)
        return engine.diagnose_job(job, more=more, not_checked=missing + not_checked,
                                   kb_entries=_kb_entries(cfg)).to_dict()
    return diagnose


def _kb_entries(cfg):
    """The knowledge base's entries, loaded on first use only (when the engine's answer is open).
    One that cannot be read raises, and the engine lists it under what was not checked."""
    def load():
        from slurm_diag.kb.entries import load_all

        return load_all(cfg)
    return load


def _job_doc(job, diagnose) -> dict:
    if job.finished or job.state == "RUNNING":
        doc = diagnose(job)
    else:
        from slurm_diag.diagnose import pending

        doc = pending.doc(job, [f"{u.daemon} did not answer ({u.error}): {u.loses}" for u in job.unreachable])
    doc["job"] = _job_summary(job)
    return doc


ARRAY_READ_PER_KIND = 50     # an array's failed tasks read per kind of ending (accounting's): more are counted


def _ending(task) -> tuple:
    """How accounting says a task ended: its state, exit code and signal, and its failed step's."""
    from slurm_diag.diagnose.job_facts import first_failed_step

    step = first_failed_step(task)
    return (task.state, task.exit_code, task.signal,
            (step.kind, step.state, step.exit_code, step.signal) if step is not None else None)


def _explain_array(array, diagnose, client) -> dict:
    """Counts per state, and each distinct failure explained once (the first task that shows it).
    The tasks' node events and node records are read once for all of them. Of the tasks that ended
    alike in accounting, the first ARRAY_READ_PER_KIND are read; the others are counted as unread
    (a 3,000-task array would take a minute to read whole)."""
    from slurm_diag.diagnose.collect import NodeHistory

    kinds: dict[tuple, list] = {}
    read = []
    for task in array.failed:
        alike = kinds.setdefault(_ending(task), [])
        if len(alike) < ARRAY_READ_PER_KIND:
            read.append(task)
        alike.append(task)
    history = NodeHistory(client, read)
    seen: dict[tuple, dict] = {}
    for task in read:
        doc = _job_doc(task, lambda job: diagnose(job, history))
        key = failure_key(doc["attribution"])
        if key in seen:
            seen[key]["array"]["tasks"].append(task.job_id)
        else:
            doc["array"] = {"tasks": [task.job_id]}
            seen[key] = doc
    first = next(iter(seen.values()), None)
    base = first or _job_doc(array.tasks[0], diagnose)
    base["array"] = {"array_job_id": array.array_job_id, "summary": array.summary, "states": array.counts,
                     "failures": [{"tasks": d["array"]["tasks"], "attribution": d["attribution"]}
                                  for d in seen.values()],
                     "unread": [{"tasks": [t.job_id for t in tasks[ARRAY_READ_PER_KIND:]], "state": tasks[0].state,
                                 "exit_code": tasks[0].exit_code, "signal": tasks[0].signal}
                                for tasks in kinds.values() if len(tasks) > ARRAY_READ_PER_KIND]}
    return base


def failure_key(attribution: dict) -> tuple:
    """What makes two failures the same one: the cause, whose it is, and the findings behind it
    (their ids, the same for every task of an array that failed alike)."""
    return attribution["label"], attribution["scope"], tuple(sorted(attribution["supporting"]))


def _job_summary(job) -> dict:
    step = None
    from slurm_diag.diagnose import job_facts
    from slurm_diag.diagnose.job_facts import first_failed_step

    failed = first_failed_step(job)
    wrote = bool(job.start) and not job_facts.interactive(job)       # a job with an output file of its own
    outputs = [{"stream": s, "path": p} for s, p in job_facts.log_paths(job)] if wrote else []
    if failed is not None:
        step = {"step": failed.step_id, "name": failed.name, "state": failed.state,
                "exit_code": failed.exit_code, "signal": failed.signal}
    return {"job_id": job.job_id, "name": job.name, "user": job.user, "partition": job.partition,
            "state": job.state, "state_detail": job.state_detail, "exit_code": job.exit_code, "signal": job.signal,
            "elapsed_s": job.elapsed_s, "time_limit_s": job.time_limit_s, "nodes": list(job.nodes),
            "gpus": job.gpus, "max_rss_kb": job.max_rss_kb, "failed_step": step, "reason": job.reason,
            "sources": list(job.sources), "alloc_cpus": job.alloc_cpus, "cpu_efficiency": job.cpu_efficiency,
            "mem_used_kb": job.mem_used_kb, "mem_alloc_kb": job.mem_alloc_kb, "mem_efficiency": job.mem_efficiency,
            "earlier_runs": [r.to_dict() for r in job.earlier_runs], "output": outputs,
            "output_from": job_facts.path_origin(job) if outputs else None,
            "het_components": [c.to_dict() for c in job.het_components]}


def _explain_log(path: str, state, exit_code) -> dict:
    from slurm_diag.diagnose import engine, logfile
    from slurm_diag.errors import UsageError

    if path == "-":
        log = logfile.from_text(sys.stdin.buffer.read(logfile.DEFAULT_MAX_BYTES * 64)[-logfile.DEFAULT_MAX_BYTES:])
    else:
        log = logfile.read_tail(path)
        if log.problem and log.size is None:
            raise UsageError(f"cannot read the log: {log.problem}", hint="give the path of the job's output file")
    from slurm_diag import config

    diagnosis = engine.diagnose_log(log, state=state, exit_code=exit_code, kb_entries=_kb_entries(config.load()))
    doc = diagnosis.to_dict()
    doc["source"] = {"path": log.path or "-", "bytes": log.size, "truncated": log.truncated}
    return doc


def _hms(seconds) -> str:
    if seconds is None:
        return "unlimited"
    d, rem = divmod(int(seconds), 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    return (f"{d}-" if d else "") + f"{h:02d}:{m:02d}:{sec:02d}"


def _efficiency(share: float, color: bool) -> str:
    """reportseff's colours for an efficiency: red below 20% (wasted), green from 60%."""
    text = f"{share:.0%}"
    if not color:
        return text
    return click.style(text, fg="red" if share < 0.2 else "green" if share >= 0.6 else "yellow")


def render_job(job: dict, color: bool) -> None:
    click.echo(f"Job {job['job_id']} ({job['name']}) user {job['user'] or '? (accounting names none)'} "
               f"partition {job['partition']}")
    state = job["state_detail"] or job["state"]
    pending = job["state"] == "PENDING"
    click.echo(f"State: {click.style(state, bold=True) if color else state}"
               + ("" if job["state"] in ("PENDING", "RUNNING") else f"  exit code {job['exit_code']}")
               + (f", signal {job['signal']}" if job["signal"] else ""))
    if job.get("failed_step"):
        st = job["failed_step"]
        click.echo(f"Failed step: {st['step']} ({st['name']}) {st['state']}, exit code {st['exit_code']}"
                   + (f", signal {st['signal']}" if st["signal"] else ""))
    if pending:
        click.echo(f"Time limit: {_hms(job['time_limit_s'])}")
    elif job["elapsed_s"] is not None:
        line = f"Wall-clock: {_hms(job['elapsed_s'])} of {_hms(job['time_limit_s'])}"
        if job["time_limit_s"]:
            line += f" ({_efficiency(job['elapsed_s'] / job['time_limit_s'], color)} of the limit)"
        click.echo(line)
    if job.get("het_components"):
        from slurm_diag.slurm.hetjob import describe

        click.echo("Heterogeneous job: " + "; ".join(describe(c) for c in job["het_components"]))
    click.echo(f"Nodes: {', '.join(job['nodes']) or '-'}   GPUs: {job['gpus']}"
               + (f"   CPUs: {job['alloc_cpus']}" if job.get("alloc_cpus") else ""))
    paths = job.get("output") or []
    if paths:
        where = paths[0]["path"] if len(paths) == 1 else ", ".join(f"{o['stream']} {o['path']}" for o in paths)
        click.echo(f"Output: {where}" + (f" ({job['output_from']})" if job.get("output_from") else ""))
    for i, run in enumerate(job.get("earlier_runs") or [], 1):
        click.echo(f"Earlier run {i}: on {', '.join(run['nodes']) or '-'}, ended {run['state_detail'] or run['state']}"
                   + (f" at {run['end']}" if run["end"] else "") + " (Slurm requeued the job)")
    if job.get("cpu_efficiency") is not None:
        click.echo(f"CPU efficiency: {_efficiency(job['cpu_efficiency'], color)} of core-walltime")
    if job.get("mem_alloc_kb") and pending:
        click.echo(f"Memory: {job['mem_alloc_kb'] / 1024:.0f} MiB asked for")
    elif job.get("mem_alloc_kb"):
        used = job.get("mem_used_kb")
        unsampled = " (not sampled yet)" if job["state"] == "RUNNING" else \
            " (not sampled: the job was shorter than the accounting interval)"
        click.echo(f"Memory: {'?' if used is None else f'{used / 1024:.0f} MiB'} used of "
                   f"{job['mem_alloc_kb'] / 1024:.0f} MiB"
                   + (f" ({_efficiency(job['mem_efficiency'], color)})" if job.get("mem_efficiency") is not None
                      else unsampled))
    click.echo("")


def _tasks(array_id: str, task_ids: list[str]) -> str:
    """An array's tasks as Slurm writes a range of them: "task 123_4", "tasks 123_[0-299,301]"."""
    from slurm_diag.slurm.parse import task_ranges

    if len(task_ids) == 1:
        return f"task {task_ids[0]}"
    numbers = [t.split("_", 1)[1] for t in task_ids if t.startswith(f"{array_id}_")]
    if len(numbers) != len(task_ids):
        return "tasks " + ", ".join(task_ids)
    return f"tasks {array_id}_[{task_ranges(numbers)}] ({len(task_ids)})"


def render(doc: dict, teach: bool = False) -> None:
    """The explanation in words. ``teach``: the caller administers the site, so an undecided job's
    last unrecognised line comes with the `kb add` command that teaches its cause."""
    from slurm_diag.slurm.records import TERMINAL_STATES

    color = sys.stdout.isatty()
    if doc.get("array"):
        arr = doc["array"]
        click.echo(f"Array {arr['array_job_id']}: {arr['summary']}")
        for failure in arr["failures"]:
            fa = failure["attribution"]
            click.echo(f"  {_tasks(arr['array_job_id'], failure['tasks'])}: {fa['label']} ({SCOPE_WORDS[fa['scope']]}): "
                       f"{clip(fa['explanation'], 200)}")
        for unread in arr.get("unread", []):
            ended = unread["state"] + (f", exit code {unread['exit_code']}" if unread["exit_code"] else "") \
                + (f", signal {unread['signal']}" if unread["signal"] else "")
            click.echo(f"  {_tasks(arr['array_job_id'], unread['tasks'])}: not read (they ended {ended}, as the "
                       f"first {ARRAY_READ_PER_KIND} that did, read above; `sdiag-agent explain "
                       f"{unread['tasks'][0]}` reads one)")
        click.echo("")
    if doc.get("job"):
        render_job(doc["job"], color)
    a = doc["attribution"]
    label = a["label"]
    head = click.style(label, fg="red" if a["scope"] == "infra" else "yellow", bold=True) if color else label
    state = (doc.get("job") or {}).get("state")
    why = "So far (the job is still running)" if state == "RUNNING" else "Why"
    if label == "unknown" and state in ("COMPLETING", "STAGE_OUT"):
        click.echo("Why: still ending, not explained yet")
    elif label == "unknown" and state and state != "RUNNING" and state not in TERMINAL_STATES:
        click.echo(f"Why: {state.lower() if '_' not in state else state}, not failed")
    elif label == "unknown":
        click.echo(f"{why}: undetermined ({head})")
    else:
        click.echo(f"{why}: {head}, {SCOPE_WORDS[a['scope']]} (confidence {a['confidence']:.2f})")
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
    from slurm_diag.diagnose.evidence import is_unrecognised      # loaded already: the engine ran

    unrecognised = [f for f in doc["findings"] if is_unrecognised(f)]
    if unrecognised:
        click.echo("Error lines no rule recognises:")
        for f in unrecognised:
            click.echo(f"  {clip(f['raw']['text'], 200)}{_where(f)}")
    if doc["alternatives"]:
        click.echo("Also considered:")
        for alt in doc["alternatives"][:3]:
            click.echo(f"  {alt['label']} ({alt['scope']}): {clip(alt.get('summary', ''), 160)}")
    if doc["not_checked"]:
        click.echo(f"Not checked: {'; '.join(doc['not_checked'])}")
    click.echo("Next:")
    for step in a["next_steps"]:
        click.echo(f"  - {step}")
    if teach and unrecognised:
        from slurm_diag.kb.add import teach_command

        job = (doc.get("job") or {}).get("job_id")
        click.echo("To teach it, once you know the cause (LABEL, SCOPE user or infra, and why), so the next "
                   "job failing this way is explained:")
        click.echo(f"  {teach_command(unrecognised[-1]['raw']['text'], job)}")


def _where(finding: dict) -> str:
    raw = finding.get("raw")
    if isinstance(raw, dict) and raw.get("line"):
        return f"  ({raw.get('where', 'log')} line {raw['line']})"
    if isinstance(raw, dict) and raw.get("text"):                  # a knowledge-base signature's line
        return f"  (matched in the {raw.get('where', 'log')}: {clip(raw['text'], 100)})"
    return ""
