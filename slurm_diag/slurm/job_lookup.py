"""One job, or one job array, put together from what accounting and slurmctld said.

Pure: the client runs sacct and scontrol; this decides what their answers add up to. Accounting
(slurmdbd) keeps steps and old jobs; slurmctld knows the live state, pending array tasks and the
stdout/stderr paths. Either may be down: the view then comes from the other one and names the
daemon that did not answer. Only when neither can decide is the lookup "could not check".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from slurm_diag.slurm import hetjob, parse, submission
from slurm_diag.slurm.errors import JobNotFound, JobSourcesUnavailable
from slurm_diag.slurm.records import ACCOUNTING, CONTROLLER, Job, JobArray, Unreachable


@dataclass(frozen=True)
class Answer:
    """What one daemon said: the jobs it returned, or why it did not answer."""

    jobs: tuple[Job, ...] = ()
    unreachable: Unreachable | None = None


def start_hint(daemons: list[str], conf: str | None = None) -> str:
    """What to do when ``daemons`` do not answer."""
    names = " and ".join(daemons)
    where = f" (SLURM_CONF={conf})" if conf else ""
    return (f"start {names} or ask the cluster's admin{where}; "
            f"for the local cluster run `sdiag-agent devcluster up`")


def merge(acct: Job | None, live: Job | None) -> Job:
    """One task or job seen by both daemons: accounting for a finished job (plus slurmctld's
    paths), slurmctld's live state while it runs or waits (plus accounting's steps). A job that
    slurmctld says has ended while accounting still has it running counts as slurmctld's alone
    (``wait`` waits for accounting to catch up)."""
    if acct is None or live is None:
        return acct or live
    both = (ACCOUNTING, CONTROLLER)
    if acct.finished:
        # slurmdbd can hold the job's end state a moment before its exit code (seen under load:
        # FAILED with 0:0): while slurmctld still has the job, its exit code fills the gap
        code, sig = (acct.exit_code, acct.signal) if acct.exit_code or acct.signal or not live.finished \
            else (live.exit_code, live.signal)
        return replace(acct, stdout=live.stdout or acct.stdout, stderr=live.stderr or acct.stderr,
                       work_dir=acct.work_dir or live.work_dir, reason=acct.reason or live.reason,
                       exit_code=code, signal=sig, sources=both, restarts=live.restarts,
                       gpus_per_task=live.gpus_per_task, gpus_per_task_known=live.gpus_per_task_known)
    if live.finished:  # accounting has not caught up yet: the facts are slurmctld's
        return replace(live, steps=acct.steps, max_rss_kb=acct.max_rss_kb, earlier_runs=acct.earlier_runs,
                       sources=(CONTROLLER,))
    return replace(live, steps=acct.steps, max_rss_kb=acct.max_rss_kb or live.max_rss_kb,
                   work_dir=live.work_dir or acct.work_dir, earlier_runs=acct.earlier_runs, sources=both)


def needs_request(job: Job) -> bool:
    """A batch job that ran and that slurmctld has forgotten: its output paths and GPUs per task are
    gone with it, and only what accounting kept of its submission can tell them."""
    return CONTROLLER not in job.sources and ACCOUNTING in job.sources and bool(job.start) \
        and not (job.stdout or job.stderr)


def escaped(job: Job) -> bool:
    """slurmctld shows the job's paths, and one holds a backslash: slurmstepd expanded no pattern
    in it (the backslash says so), but scontrol substituted %j and the like all the same. The path
    as given is read from accounting instead (``with_raw_paths``)."""
    return CONTROLLER in job.sources and "\\" in (job.stdout or "") + (job.stderr or "")


def with_raw_paths(job: Job, req: submission.Request) -> Job:
    """``job`` with the stdout and stderr patterns its submission gave where scontrol's are not the
    files (``escaped``); a path accounting did not keep stays scontrol's."""
    if not escaped(job):
        return job
    out = in_work_dir(req.output, job.work_dir) if req.output else None
    err = in_work_dir(req.error, job.work_dir) if req.error else None
    stdout = out if out and "\\" in (job.stdout or "") else job.stdout
    if job.stderr == job.stdout:              # no -e of its own: stderr goes where stdout goes
        stderr = stdout
    else:
        stderr = err if err and "\\" in (job.stderr or "") else job.stderr
    return replace(job, stdout=stdout, stderr=stderr)


def with_requests(client, jobs: list[Job], skip=lambda job: False) -> list[Job]:
    """``jobs`` (from accounting: an agent's pass, a user's recent failures), those slurmctld has
    forgotten with the paths accounting kept of their submission: one ``client.job_requests`` for
    all, a job asked once, an array once (its tasks share one submission). ``skip``: jobs not worth
    the question."""
    asking = [needs_request(j) and not skip(j) for j in jobs]
    ask: dict[str, str] = {}
    for job, wanted in zip(jobs, asking):
        if wanted:
            ask.setdefault(job.array_job_id or job.job_id, job.job_id)
    if not ask:
        return jobs
    got = client.job_requests(list(ask.values()))
    return [with_request(j, got[ask[j.array_job_id or j.job_id]]) if wanted else j
            for j, wanted in zip(jobs, asking)]


def in_work_dir(path: str | None, work_dir: str | None) -> str | None:
    """A path sbatch took, as the job saw it: a relative one is the work dir's, and unknown (None)
    without a work dir to resolve it against."""
    if not path or path.startswith("/"):
        return path
    return os.path.join(work_dir, path) if work_dir else None


def with_request(job: Job, req: submission.Request) -> Job:
    """``job`` with the paths and GPUs per task sbatch took (``submission.request``). A path that no
    source named is Slurm's default only where the script was kept (it might have named one);
    stderr goes to stdout's file where nothing named its own. Relative paths are the work dir's; one
    without a work dir to resolve it against is left unknown."""
    if not needs_request(job):
        return job
    default = "slurm-%A_%a.out" if job.array_task_id else "slurm-%j.out"
    out = req.output or (default if req.output_known else None)
    err = req.error or (out if req.error_known else None)

    return replace(job, stdout=in_work_dir(out, job.work_dir), stderr=in_work_dir(err, job.work_dir),
                   request_read=req.read, script_file=in_work_dir(req.script_file, job.work_dir),
                   output_from=req.output_from if req.output else (submission.DEFAULT if out else None),
                   gpus_per_task=req.gpus_per_task, gpus_per_task_known=req.gpus_per_task_known)


def resolve(base: str, task: str | None, acct: Answer, live: Answer, conf: str | None = None) -> Job | JobArray:
    """The job ``base`` (an array when it has tasks), or task ``task`` of array ``base``. A
    heterogeneous job is one job, asked for by its id or by a component's (``task`` "+1").

    ``acct`` and ``live`` are what sacct and scontrol returned when asked for ``base``.
    Raises JobNotFound (bad input) or JobSourcesUnavailable (could not check).
    """
    component = task if task and task.startswith("+") else None
    requested = base if task is None else f"{base}{task}" if component else f"{base}_{task}"
    missing = tuple(a.unreachable for a in (acct, live) if a.unreachable)
    if len(missing) == 2:
        raise JobSourcesUnavailable(
            f"cannot look up job {requested}: neither slurmdbd nor slurmctld answered ("
            + "; ".join(f"{u.command}: {u.error}" for u in missing) + ")",
            hint=start_hint(["slurmdbd", "slurmctld"], conf))
    from_acct = {j.job_id: j for j in parse.expand_array_ranges(list(acct.jobs))}
    from_live = {j.job_id: j for j in live.jobs}
    jobs = [replace(merge(from_acct.get(i), from_live.get(i)), unreachable=missing)
            for i in dict.fromkeys([*from_acct, *from_live])]
    parts = [j for j in jobs if j.het_job_id == base]
    if parts and task is None or parts and component and any(j.job_id == requested for j in parts):
        return hetjob.whole(base, parts)
    if parts and component:
        raise JobNotFound(f"heterogeneous job {base} has no component {component}: its components are "
                          + ", ".join(sorted(j.job_id for j in parts)), hint=f"`sdiag-agent job {base}` shows the job")
    if component:
        if any(j.job_id == base or j.job_id_raw == base or j.array_job_id == base for j in jobs):
            raise JobNotFound(f"job {base} is not a heterogeneous job, so there is no component {requested}",
                              hint=f"`sdiag-agent job {base}` shows the job")
        task = None
    tasks = [j for j in jobs if j.array_job_id == base]
    if task is None:
        if tasks:
            sources = tuple(s for s in (ACCOUNTING, CONTROLLER) if any(s in t.sources for t in tasks))
            return JobArray(array_job_id=base, tasks=tuple(tasks), sources=sources, unreachable=missing)
        found = [j for j in jobs if j.job_id == base] or [j for j in jobs if j.job_id_raw == base]
        if found:
            return found[0]
    else:
        found = [t for t in tasks if t.array_task_id == task]
        if found:
            return found[0]
        if tasks and not acct.unreachable:
            raise JobNotFound(f"array {base} has no task {task}: its tasks are "
                              f"{parse.task_ranges(t.array_task_id for t in tasks)}",
                              hint=f"`sdiag-agent job {base}` shows every task")
        if any(j.job_id == base or j.het_job_id == base for j in jobs):
            raise JobNotFound(f"job {base} is not an array, so there is no task {requested}",
                              hint=f"`sdiag-agent job {base}` shows the job")
    if missing:
        (gone,) = missing
        answered = CONTROLLER if gone.daemon == ACCOUNTING else ACCOUNTING
        raise JobSourcesUnavailable(
            f"job {requested} is not in {answered}, and {gone.daemon} did not answer "
            f"({gone.command}: {gone.error}): cannot tell whether it exists",
            hint=start_hint([gone.daemon], conf))
    raise JobNotFound(f"job {requested} not found in accounting (slurmdbd) or in slurmctld",
                      hint="check the id with `sacct -X -u $USER`; records older than the purge "
                           "window are gone")
