"""Evidence from Slurm's record of a job: its state and exit, every step (which failed first),
elapsed against the limit, and its output files read as untrusted logs.

Input is the Slurm adapter's ``Job`` (accounting merged with the controller's view); nothing here
talks to Slurm. A source that could not be read becomes an UNKNOWN finding, never silence.
"""

from __future__ import annotations

import os
import pwd
import re

from slurm_diag.diagnose import evidence, logfile, slurm_facts
from slurm_diag.diagnose.evidence import Evidence, finding
from slurm_diag.slurm import job_lookup, submission

_CANCELLED_BY = re.compile(r"CANCELLED by (\d+)")
IGNORED_STEPS = ("extern",)


def _uid(user: str | None) -> int | None:
    try:
        return pwd.getpwnam(user).pw_uid if user else None
    except KeyError:
        return None


def cancelled_by_owner(job) -> bool | None:
    m = _CANCELLED_BY.search(job.state_detail or "")
    if not m:
        return None
    by = int(m.group(1))
    owner = _uid(job.user)
    return None if owner is None else by == owner


def first_failed_step(job):
    """The step that failed first, by when it ended, ignoring the extern step. The batch script ends
    after the steps it started, so a step that failed under it comes first (sacct lists the batch
    step before them); in the same second too. A step still running counts as ending last."""
    failed = [step for step in job.steps if step.kind not in IGNORED_STEPS
              and (step.state not in ("COMPLETED", "RUNNING", "PENDING") or step.exit_code or step.signal)]
    if not failed:
        return None
    from datetime import datetime, timezone

    from slurm_diag.diagnose.node_facts import when

    last = datetime.max.replace(tzinfo=timezone.utc)
    return min(failed, key=lambda s: (when(s.end) or last, s.step_id == "batch"))


def from_job(job) -> tuple[list[Evidence], list[str], list[tuple[str, logfile.LogText]]]:
    """(evidence, what could not be checked, the logs that were read, each with its stream name)."""
    jid = job.job_id
    found = slurm_facts.evidence(job.state, job.exit_code, job.signal, job_id=jid,
                                 cancelled_by_owner=cancelled_by_owner(job))
    step = first_failed_step(job)
    for s in job.steps:
        if s.kind in IGNORED_STEPS or s.state == job.state:
            continue
        # a step killed by a signal in a job that was not cancelled: Slurm shows the step CANCELLED (a batch
        # script killed by SIGKILL, or one whose output file could not be created), but nobody cancelled it
        state = None if s.state == "CANCELLED" and s.signal and job.state != "CANCELLED" else s.state
        for ev in slurm_facts.evidence(state, s.exit_code, s.signal, job_id=jid, where=f"sacct-step-{s.step_id}"):
            ev.finding["summary"] = f"step {s.step_id}: {ev.finding['summary']}"
            ev.finding["node"] = s.nodes[0] if len(s.nodes) == 1 else None
            if ev.finding["node"] is None:
                ev.finding.pop("node")
            found.append(ev)
    if step is not None:
        found.append(Evidence(finding("sacct:first-failed-step", "sacct", "WARN",
                                      f"step {step.step_id} ({step.name}) failed first: {step.state}, exit code "
                                      f"{step.exit_code}, signal {step.signal}", job_id=jid,
                                      raw={"step": step.step_id, "state": step.state, "exit_code": step.exit_code,
                                           "signal": step.signal, "nodes": list(step.nodes)})))
    requeued = requeue_words(job)
    if requeued:                      # context: how the job came to this run, not how this run ended
        found.append(Evidence(finding("sacct:requeued", "sacct", "WARN", requeued, job_id=jid,
                                      raw={"earlier_runs": [r.to_dict() for r in job.earlier_runs],
                                           "restarts": job.restarts})))
    if job.elapsed_s is not None and job.time_limit_s:
        share = job.elapsed_s / job.time_limit_s
        found.append(Evidence(finding("sacct:elapsed", "sacct", "WARN" if share >= 0.99 else "OK",
                                      f"ran {job.elapsed_s} s of its {job.time_limit_s} s limit ({share:.0%})",
                                      job_id=jid, raw={"elapsed_s": job.elapsed_s, "time_limit_s": job.time_limit_s})))
    not_checked: list[str] = []
    logs: list[logfile.LogText] = []
    found += _logs(job, not_checked, logs)
    _cancelled_steps(job, found)
    return found, not_checked, logs


def _cancelled_steps(job, found: list[Evidence]) -> None:
    """What ended each step Slurm shows CANCELLED in a job nobody cancelled, read once the logs are
    in, each step's evidence reworded once:
    - Slurm's own verdict on the job (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL ...) ended it: context.
    - The log shows srun reporting a task's failure before that step's cancel: srun ended the
      step's other tasks (a task killed by a signal, --kill-on-bad-exit) with SIGTERM, or SIGKILL
      where they outlived KillWait (seen on a loaded node). Context, and the task's failure is the cause.
    - SIGTERM in a job that FAILED, the log silent: neither a cancel, a preemption nor a time limit
      (the job would say so), most often srun ending the step once a task failed. A symptom."""
    if job.state == "CANCELLED":
        return
    cascades = [e for e in found if e.finding.get("source") == "log" and "task_failure" in (e.finding.get("raw") or {})]
    for step in job.steps:
        if step.state != "CANCELLED":
            continue
        mine = [ev for ev in found if ev.id.startswith(f"sacct-step-{step.step_id}:")]
        srun = next((c for c in cascades if c.finding["raw"]["cancelled_step"] in (None, step.step_id)), None)
        for ev in mine:
            if job.state in slurm_facts.STATES:
                _ended_by(ev, f", as Slurm ended the job {job.state}")
            elif srun is not None and step.signal in (9, 15):    # SIGTERM, then SIGKILL after KillWait
                raw = srun.finding["raw"]
                _ended_by(ev, f": srun ended the step's other tasks after a task failed "
                              f"({raw['where']} line {raw['consequence_of_line']})")
            elif step.signal == 15 and job.state == "FAILED" and ev.id.endswith(":signal"):
                ev.tier = max(ev.tier, evidence.SYMPTOM_TIER)
                _reword(ev, ", in a job that failed: srun ends a step's other tasks this way once one of them "
                            "fails (or someone cancelled the step)")


def _ended_by(ev: Evidence, what: str) -> None:
    """A step's end that something else decided: context, saying what ended it."""
    ev.label = ev.scope = ev.component = None
    ev.tier = 9
    _reword(ev, what)


def _reword(ev: Evidence, what: str) -> None:
    """A SIGTERM's summary with what ended the step in place of the guesses it lists."""
    ev.finding["summary"] = ev.finding["summary"].removesuffix(slurm_facts.OUTSIDE) + what


def requeue_words(job) -> str | None:
    """'Slurm requeued the job once: run 1 on node1 ended NODE_FAIL at ...', from accounting's
    earlier runs, or slurmctld's restart count before accounting has them; None for a job that ran
    once."""
    runs = job.earlier_runs
    times = len(runs) or job.restarts or 0
    if not times:
        return None
    said = "; ".join(f"run {i} on {', '.join(r.nodes) or 'no node'} ended {r.state_detail or r.state}"
                     + (f" at {r.end}" if r.end else "") for i, r in enumerate(runs, 1))
    return f"Slurm requeued the job {'once' if times == 1 else f'{times} times'}" + (f": {said}" if said else "")


def script_file_options(job) -> dict[str, str] | None:
    """The ``#SBATCH`` options (and ``#BSUB`` or ``#PBS`` paths) of the job's script file as it is now,
    where slurmctld has forgotten the job, accounting kept no copy of the script (``Job.script_file``)
    and a path is still unknown; read for the job's user, as its output is. None when there is no such file to read, or
    the script moves its own work dir (the file the command line named may then be another one)."""
    if (job.stdout and job.stderr) or not job.script_file:
        return None
    seen = _SCRIPTS.get(id(job))       # asked several times per explain: read once per looked-up job
    if seen is not None and seen[0] is job:
        return seen[1]
    text = logfile.read_tail(job.script_file, max_bytes=SCRIPT_MAX_BYTES, for_user=job.user)
    named = submission.script_file(text.text()) if text.usable and not text.truncated else None
    named = None if named is None or "chdir" in named or submission.UNSURE in named else named
    if len(_SCRIPTS) >= 64:
        _SCRIPTS.pop(next(iter(_SCRIPTS)))
    _SCRIPTS[id(job)] = (job, named)   # the job is kept with it, so its id is not reused meanwhile
    return named


SCRIPT_MAX_BYTES = 256 * 1024        # a batch script; a larger file is not read as one
_SCRIPTS: dict[int, tuple] = {}


def log_paths(job) -> list[tuple[str, str]]:
    """(stream, path) of the job's output; where slurmctld no longer knows the paths and accounting
    did not say (slurm.submission), what the script file names now, else Slurm's default slurm-%j.out
    in its work dir for stdout, and stdout's file for stderr."""
    paths: list[tuple[str, str]] = []
    stdout, stderr = job.stdout, job.stderr
    named = script_file_options(job)
    if named is not None:
        stdout = stdout or job_lookup.in_work_dir(named.get("output"), job.work_dir)
        stderr = stderr or job_lookup.in_work_dir(named.get("error"), job.work_dir)
    if not stdout and job.work_dir:
        stdout = os.path.join(job.work_dir, "slurm-%A_%a.out" if job.array_task_id else "slurm-%j.out")
    for stream, path in (("stdout", stdout), ("stderr", stderr or stdout)):
        path = expand_path(path, job) if path else None
        if path and path not in (p for _, p in paths):
            paths.append((stream, path))
    return paths


def path_origin(job) -> str | None:
    """Where the output path came from, once slurmctld has forgotten the job (None while it shows it)."""
    if job.stdout:
        return {submission.SUBMIT_LINE: "the path the job's sbatch command line named, as accounting kept it",
                submission.SCRIPT: "the path the job's #SBATCH lines named, as accounting kept the script",
                submission.PBS: "the path the job's #PBS lines named, as accounting kept the script (sbatch "
                                "reads them over its #SBATCH lines, unless --ignore-pbs)",
                submission.BSUB: "the path the job's #BSUB lines named, as accounting kept the script (sbatch "
                                 "reads them over its #SBATCH lines, unless --ignore-pbs)",
                submission.ENVIRONMENT: "the path SBATCH_OUTPUT named when the job was submitted",
                submission.DEFAULT: "Slurm's default name: nothing sbatch read (the job's command line, "
                                    "environment and batch script, as accounting kept them) named another"
                }.get(job.output_from or "")
    named = script_file_options(job)
    if named is not None:
        said = (f"the path the #SBATCH, #BSUB or #PBS lines of {job.script_file} name now" if named.get("output")
                else f"Slurm's default name: the #SBATCH, #BSUB and #PBS lines of {job.script_file} name no other now")
        return said + "; accounting kept no copy of the script, and the file may have changed since the job was submitted"
    read = set(job.request_read)
    if submission.SCRIPT not in read:
        kept = ("accounting kept its command line (it names no -o) but not its batch script" if read else
                "accounting kept neither its command line nor its batch script") + \
            " (AccountingStoreFlags=job_script keeps the script)"
    elif submission.ENVIRONMENT not in read:
        kept = ("accounting kept its batch script but not the environment it was submitted from, where "
                "SBATCH_OUTPUT may have named another (AccountingStoreFlags=job_env keeps it)")
    else:
        kept = "its command line could not be read whole (--wrap, an option slurm-diag does not know, or " \
               "quoting that accounting dropped)"
    return (f"Slurm's default name; slurmctld has forgotten the job, and {kept}, so the job may have named "
            "another: give it with sdiag-agent explain --log FILE")


NO_ARRAY_TASK = "4294967294"        # what slurmstepd writes for %a in a job that is not an array


def expand_path(path: str, job) -> str:
    """The batch script's output file as slurmstepd names it (22.05, checked on the local cluster):
    %j and %J the job id, %A the array's id (the job's where it is none), %a the task id
    (4294967294 where none), %s "batch", %t and %n 0, %u the user, %x the job name, %N the batch
    node (its NodeName: slurmstepd writes the host's name, the same on most clusters), %% a %. A
    width (%5j) pads numbers with zeros, to at most 10 digits; an unknown letter is kept. A path
    with a backslash is not expanded, and loses its escaping backslashes. scontrol expands only
    the simple ones, and only where it knows every pattern in the path."""
    if "\\" in path:
        return re.sub(r"\\(.?)", r"\1", path, flags=re.S)
    numbers = {"j": job.job_id_raw or job.job_id, "J": job.job_id_raw or job.job_id,
               "A": job.array_job_id or job.job_id_raw or "", "a": job.array_task_id or NO_ARRAY_TASK,
               "t": "0", "n": "0"}
    words = {"s": "batch", "u": job.user or "", "x": job.name or "", "N": job.nodes[0] if job.nodes else ""}

    def one(m: re.Match) -> str:
        width, key = m.group(1), m.group(2)
        if key == "%" and not width:
            return "%"
        if key in numbers and numbers[key].isdigit():
            return numbers[key].zfill(min(int(width or 0), 10))
        if key in numbers or key in words:
            return numbers[key] if key in numbers else words[key]
        return (width[-1] if width else "%") + key          # slurmstepd drops the % of an unknown %5z
    return re.sub(r"%(\d*)(.)", one, path)


INTERACTIVE = "log:interactive"


def interactive(job) -> bool:
    """Run by srun or salloc from a shell, with no batch script: its output went to that terminal.
    Accounting shows steps that ran but no batch step (the extern step alone is no sign: a batch job
    that failed before its script started has only that), and slurmctld no output file."""
    ran = [s for s in job.steps if s.kind not in IGNORED_STEPS]
    return bool(ran) and not any(s.step_id == "batch" for s in ran) and not (job.stdout or job.stderr)


def _logs(job, not_checked: list[str], logs: list) -> list[Evidence]:
    out: list[Evidence] = []
    if interactive(job):
        out.append(Evidence(finding(INTERACTIVE, "log", "UNKNOWN",
                                    "an interactive job (srun or salloc, no batch script): its output went to the "
                                    "terminal it ran from, not to a file slurm-diag can read", job_id=job.job_id)))
        not_checked.append("the job's output (it went to the terminal srun or salloc ran in)")
        return out
    if not job.nodes and not job.start and not job.earlier_runs and job.state not in ("RUNNING", "PENDING"):
        not_checked.append("the job's output (the job never started, so it wrote none)")
        return out
    paths = log_paths(job)
    if not paths:
        out.append(Evidence(finding("log:unknown-path", "log", "UNKNOWN",
                                    "the job's output path is not known (slurmctld has forgotten the job and "
                                    "accounting does not record it)", job_id=job.job_id)))
        not_checked.append("the job's output")
        return out
    origin = path_origin(job)
    for stream, path in paths:
        log = logfile.read_tail(path, for_user=job.user)
        if not log.usable:
            out.append(Evidence(finding(f"{stream}:unreadable", "log", "UNKNOWN", f"{stream}: {log.problem}",
                                        job_id=job.job_id, raw={"path": path})))
            said = log.problem[len(path):].lstrip() if log.problem.startswith(path + " ") else None
            not_checked.append(f"the job's {stream} (it went to {path})" if path == os.devnull else
                               f"the job's {stream} ({path}" + (f": {origin}" if origin else "") + ")"
                               + (f", which {said}" if said else f": {log.problem}"))
            continue
        logs.append((stream, log))
        out += evidence.from_log(log.lines, where=stream, job_id=job.job_id)
    return out
