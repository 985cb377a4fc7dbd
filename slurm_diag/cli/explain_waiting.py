"""`sdiag-agent explain --pending`: why the caller's jobs are not running. Every job that waits to
start or to go on (pending, held, suspended) is read in one squeue, and the jobs that wait for the
same reason are told once: how many, the reason in words, whether they can ever start as they
asked, and the command to take. What a user asks most ("why are my 40 jobs not running?")."""

from __future__ import annotations

import click

from slurm_diag.cli.output import clip


def waiting_doc(user: str | None, everyone: bool) -> dict:
    """The jobs of ``user`` (the caller by default; every user's with ``everyone``, slurm-diag's own
    sweeps left out) that wait, grouped by what keeps them waiting: the groups that cannot start as
    asked first, then the largest."""
    from slurm_diag import config
    from slurm_diag.agent.loop import OWN_JOBS
    from slurm_diag.cli.explain_recent import listed_user
    from slurm_diag.diagnose import pending
    from slurm_diag.slurm import default_client

    cfg = config.load()
    who = listed_user(cfg, user, everyone, "sdiag-agent explain --pending")
    jobs = [j for j in default_client(cfg).waiting_jobs(who)
            if (who is None or j.user == who) and not (everyone and (j.name or "").startswith(OWN_JOBS))]
    groups: dict[tuple, dict] = {}
    for job in jobs:
        said, can_start, step = pending.words(job)
        group = groups.setdefault((job.state, said), {
            "state": job.state, "reason": job.reason or "None", "explanation": said, "will_start": can_start,
            "jobs": [], "users": [], "next_step": step})
        group["jobs"].append(job.job_id)
        if job.user not in group["users"]:
            group["users"].append(job.user)
    ordered = sorted(groups.values(), key=lambda g: (g["will_start"], -len(g["jobs"])))
    return {"user": who, "count": len(jobs), "groups": ordered}


def render(doc: dict) -> None:
    own, n = doc["user"] is not None, doc["count"]
    if not doc["groups"]:
        click.echo(f"None of {doc['user']}'s jobs is waiting (pending, held or suspended)." if own else
                   "No job is waiting (pending, held or suspended).")
        return
    click.echo((f"{n} of {doc['user']}'s jobs {'waits' if n == 1 else 'wait'}" if own else
                f"{n} {'job waits' if n == 1 else 'jobs wait'} (all users)") + " (pending, held or suspended):")
    for g in doc["groups"]:
        jobs = g["jobs"]
        listed = " ".join(jobs[:8]) + (f" and {len(jobs) - 8} more" if len(jobs) > 8 else "")
        click.echo(f"  {len(jobs):>4}  {g['state'].lower()}: {clip(g['explanation'], 300)}")
        click.echo(f"        jobs: {listed}" + ("" if own else f"  (users: {', '.join(g['users'])})"))
        click.echo(f"        next, for job {jobs[0]}: {g['next_step']}")
    click.echo("`sdiag-agent explain JOBID` tells one job, with when Slurm expects to start it.")
