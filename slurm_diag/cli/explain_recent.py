"""`sdiag-agent explain --since DURATION`: the caller's jobs that ended badly in a window, one line
each with its cause and whose it is, then how many of each cause. What a user asks on a Monday
morning ("why did my jobs fail over the weekend?") and an administrator after an incident
(`--all`). Each job is the same diagnosis `explain JOBID` gives; the jobs' node events and node
records are read once for all of them."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import click

from slurm_diag.cli.output import clip

# how a job ends badly; a job that COMPLETED counts only if one of its steps failed (a step that ran out
# of memory under a script that carried on and exited 0)
ENDED_BADLY = ("FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "PREEMPTED", "DEADLINE", "CANCELLED")


def listed_user(cfg, user: str | None, everyone: bool, example: str) -> str | None:
    """Whose jobs a listing shows: the caller's by default, ``user``'s or every user's (None) for an
    administrator only (root, SlurmUser, an approver); anyone else is refused. ``example`` is the
    command that lists the caller's own."""
    from slurm_diag.errors import PermissionRefused
    from slurm_diag.identity import Access, Caller

    caller = Caller.current()
    if (everyone or (user and user != caller.name)) and not Access.from_config(cfg).privileged(caller):
        raise PermissionRefused(f"only your own jobs ({caller.name}) can be listed, not "
                                + ("every user's" if everyone else f"{user}'s"),
                                hint=f"{example} lists yours; an administrator (root, SlurmUser "
                                     "or an approver in access.approvers) may list any user's")
    if user and user != caller.name:
        import pwd

        from slurm_diag.errors import UsageError

        try:
            pwd.getpwnam(user)
        except KeyError:
            raise UsageError(f"--user: no user {user!r} on this machine", hint=f"check the name: id {user}") from None
    return None if everyone else (user or caller.name)


def recent_doc(since, user: str | None, everyone: bool, limit: int) -> dict:
    """The jobs of ``user`` (the caller by default; every user's with ``everyone``) that ended
    badly in the last ``since`` (a timedelta), newest first, at most ``limit`` explained. An
    array's tasks that ended the same way (state, cause, and the findings behind it) share a row,
    as `explain ARRAY` explains each distinct failure once; ``counts`` still counts every job."""
    from slurm_diag import config
    from slurm_diag.agent.loop import OWN_JOBS          # slurm-diag's own sweeps and passes: left out of --all
    from slurm_diag.cli.explain_cmd import _diagnoser, _job_summary, failure_key
    from slurm_diag.diagnose.collect import NodeHistory
    from slurm_diag.diagnose.job_facts import first_failed_step
    from slurm_diag.diagnose.node_facts import when
    from slurm_diag.slurm import default_client

    cfg = config.load()
    who = listed_user(cfg, user, everyone, "sdiag-agent explain --since 1d")
    until = datetime.now().astimezone()
    start = until - since
    client = default_client(cfg)
    # sacct's -u selects the user; the rows are checked again, so no other user's job is ever shown
    jobs = [j for j in client.list_jobs(start, until, (*ENDED_BADLY, "COMPLETED"), user=who)
            if (who is None or j.user == who) and not (everyone and (j.name or "").startswith(OWN_JOBS))
            and start <= (when(j.end) or until) <= until
            and (j.state != "COMPLETED" or first_failed_step(j) is not None)]
    jobs.sort(key=lambda j: when(j.end) or until, reverse=True)
    shown = _full_views(client, jobs[:limit])
    diagnose = _diagnoser(cfg, client)
    history = NodeHistory(client, shown)
    rows: list[dict] = []
    same: dict[tuple, dict] = {}          # an array's tasks that failed the same way: one row
    counts: Counter = Counter()
    for job in shown:
        a = diagnose(job, history)["attribution"]
        counts[a["label"]] += 1
        key = (job.array_job_id, job.state, *failure_key(a))
        if job.array_job_id and key in same:
            same[key]["job"]["tasks"].append(job.job_id)
            continue
        row = {"job": {**{k: v for k, v in _job_summary(job).items()
                          if k in ("job_id", "name", "user", "state", "state_detail", "exit_code", "nodes")},
                       "end": job.end, "tasks": [job.job_id]},
               "attribution": a}
        if job.array_job_id:
            same[key] = row
        rows.append(row)
    return {"since": start.isoformat(timespec="seconds"), "until": until.isoformat(timespec="seconds"),
            "user": who, "jobs": rows, "counts": dict(counts.most_common()), "not_shown": len(jobs) - len(shown)}


def _full_views(client, jobs: list) -> list:
    """Each job as `explain JOBID` sees it. One squeue asks which jobs slurmctld still holds: those
    are asked again, four at a time, for what it knows (the output paths a job named with -o,
    which accounting does not keep). The others, forgotten, are read again from accounting all at
    once (every run of a requeued one), with the paths accounting kept of their submission
    (job_lookup.with_requests). A job that cannot be asked again keeps the listing's row."""
    from concurrent.futures import ThreadPoolExecutor

    from slurm_diag.errors import SdiagError
    from slurm_diag.slurm.job_lookup import with_requests
    from slurm_diag.slurm.records import Job

    known = client.remembered(j.job_id for j in jobs)     # None: cannot tell, so every job is asked
    forgotten = [j.job_id for j in jobs if known is not None and j.job_id not in known]
    try:             # every run of each (the listing holds only the runs in its window), all at once
        again = {j.job_id: j for j in client.accounting_jobs(forgotten)} if forgotten else {}
    except SdiagError:
        again = {}

    def full(job):
        if known is not None and job.job_id not in known:
            return again.get(job.job_id, job)
        try:
            view = client.get_job(job.job_id)
        except SdiagError:
            return job
        return view if isinstance(view, Job) else job

    with ThreadPoolExecutor(max_workers=4) as pool:
        return with_requests(client, list(pool.map(full, jobs)))


def render(doc: dict) -> None:
    from slurm_diag.cli.explain_cmd import SCOPE_WORDS
    from slurm_diag.identity import Caller

    own = doc["user"] is not None              # one user's jobs (the caller's, or --user NAME's)
    mine = own and doc["user"] == Caller.current().name
    whose = {"user": SCOPE_WORDS["user"] if mine else "the job's own", "infra": SCOPE_WORDS["infra"]}
    rows = doc["jobs"]
    window = f"between {doc['since']} and {doc['until']}"
    if not rows:
        click.echo(f"No job {'of ' + doc['user'] + ' ' if own else ''}ended badly (failed, timed out, ran out of "
                   f"memory, lost its node, was cancelled or preempted, or had a step fail) {window}.")
        return
    total = sum(len(row["job"]["tasks"]) for row in rows)
    click.echo((f"{total} of {doc['user']}'s jobs" if own else f"{total} jobs (every user's)")
               + f" ended badly {window}"
               + (f"; {doc['not_shown']} older ones not shown (--limit)" if doc["not_shown"] else "") + ":")

    def shown_id(job: dict) -> str:            # an array's tasks that failed alike: the newest, and how many
        more = len(job["tasks"]) - 1
        return job["job_id"] + (f" +{more}" if more else "")

    id_width = max(len(shown_id(r["job"])) for r in rows)
    user_width = 0 if own else max(len(r["job"]["user"]) for r in rows)
    for row in rows:
        job, a = row["job"], row["attribution"]
        cause = "undetermined" if a["label"] == "unknown" else f"{a['label']} ({whose[a['scope']]})"
        owner = "" if own else f" {job['user']:<{user_width}}"
        click.echo(f"  {shown_id(job):<{id_width}}{owner} {clip(job['name'], 20):<20} {job['state']:<13} {cause}: "
                   f"{clip(a['explanation'], 110)}")
    if any(len(r["job"]["tasks"]) > 1 for r in rows):
        click.echo("  (ID +N: an array task and N more of the same array that ended the same way)")
    click.echo("By cause: " + ", ".join(f"{label} {n}" for label, n in doc["counts"].items()))
    click.echo("Next: sdiag-agent explain JOBID for one job's evidence and what to do")
