"""Pure parsers for Slurm command output (text in, frozen dataclasses out).

Tested on output captured from the real local cluster (tests/data/slurm/). Quirks of 22.05 that
shape this module: ``sacct --json`` reports wrong exit codes (so we read ``sacct -P``), and
``scontrol --json`` does not exist (so we read ``scontrol show ... -o``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from slurm_diag.slurm.records import (ACCOUNTING, CONTROLLER, TERMINAL_STATES, EarlierRun, Job, JobStep, Node, NodeEvent,
                                      NodeReason)

# A separator no job name or path contains in practice; sacct accepts any string.
SEP = "|#|"
SACCT_FIELDS = ("JobID", "JobIDRaw", "JobName", "User", "Partition", "State", "ExitCode",
                "Elapsed", "Timelimit", "Submit", "Start", "End", "NodeList", "AllocTRES",
                "WorkDir", "Reason", "MaxRSS", "TRESUsageInTot", "TotalCPU", "AllocCPUS")


class ParseError(ValueError):
    """Output that does not have the expected shape; names what was expected and what was seen."""


# ---------------------------------------------------------------- small value parsers

def duration_s(text: str) -> int | None:
    """``[D-]HH:MM:SS`` / ``MM:SS`` / ``UNLIMITED`` -> seconds (None for unlimited/unknown)."""
    text = text.strip()
    if not text or text.upper() in {"UNLIMITED", "PARTITION_LIMIT", "INVALID", "NONE", "N/A", "NOT_SET"}:
        return None
    return int(_clock_seconds(text))


def _clock_seconds(text: str) -> float:
    """``[D-][HH:]MM:SS[.fff]`` -> seconds, fractions kept."""
    days = 0
    if "-" in text:
        d, text = text.split("-", 1)
        days = int(d)
    parts = [float(p) for p in text.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    h, m, sec = parts[-3:]
    return days * 86400 + h * 3600 + m * 60 + sec


def exit_code(text: str) -> tuple[int, int]:
    """``"3:0"`` -> (3, 0): exit code and the signal that ended it."""
    text = text.strip()
    if not text:
        return 0, 0
    code, _, sig = text.partition(":")
    try:
        return int(code), int(sig or 0)
    except ValueError:
        raise ParseError(f"exit code: expected 'CODE:SIGNAL', found {text!r}") from None


def size_kb(text: str) -> int | None:
    """``"1234K"``, ``"12M"``, ``"1.5G"`` -> kilobytes; empty -> None."""
    text = text.strip()
    if not text:
        return None
    units = {"K": 1, "M": 1024, "G": 1024 ** 2, "T": 1024 ** 3}
    unit = text[-1].upper()
    if unit in units:
        return int(float(text[:-1]) * units[unit])
    return int(float(text)) // 1024  # plain bytes


def cpu_seconds(text: str) -> float | None:
    """sacct's TotalCPU: ``[D-][HH:]MM:SS[.fff]`` -> seconds, fractions kept."""
    text = text.strip()
    return _clock_seconds(text) if text else None


def tres_mem_kb(text: str) -> int | None:
    """The ``mem=`` of a TRES string (``cpu=00:00:01,mem=1128K,...``) in kilobytes."""
    value = dict(tres(text)).get("mem")
    return size_kb(value) if value else None


def tres_cpu_s(text: str) -> float | None:
    """The ``cpu=`` of a TRES usage string, the CPU time Slurm's accounting polled, in seconds."""
    value = dict(tres(text)).get("cpu")
    return cpu_seconds(value) if value else None


def tres(text: str) -> tuple[tuple[str, str], ...]:
    """``"billing=1,cpu=1,gres/gpu=2,mem=100M"`` -> sorted (key, value) pairs."""
    pairs = []
    for item in text.split(","):
        if "=" in item:
            key, _, value = item.partition("=")
            pairs.append((key.strip(), value.strip()))
    return tuple(sorted(pairs))


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets: "a[1,2],b" -> ["a[1,2]", "b"]."""
    items, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        depth += (ch == "[") - (ch == "]")
        current += ch
    return [i for i in [*items, current] if i]


def _expand(item: str) -> list[str]:
    """One hostlist item with any number of bracket groups: "r[1-2]n[01-02]" -> 4 names."""
    match = re.match(r"([^\[]*)\[([^\]]+)\](.*)", item)
    if not match:
        return [item]
    prefix, ranges, rest = match.groups()
    heads = []
    for part in ranges.split(","):
        lo, _, hi = part.partition("-")
        heads += [f"{prefix}{i:0{len(lo)}d}" for i in range(int(lo), int(hi) + 1)] if hi else [prefix + lo]
    return [head + tail for head in heads for tail in _expand(rest)]


def hostlist(text: str) -> tuple[str, ...]:
    """Expand ``"node[1-3,5],gpu07"`` -> ("node1", "node2", "node3", "node5", "gpu07")."""
    text = text.strip()
    if not text or text in {"None assigned", "(null)", "None"}:
        return ()
    return tuple(name for item in _split_top(text) for name in _expand(item))


def _none(text: str) -> str | None:
    text = text.strip()
    return None if text in {"", "None", "(null)", "Unknown", "N/A"} else text


# ---------------------------------------------------------------- job ids and array task ranges

JOB_ID_FORMS = ("a job id looks like 1234, or 1234_5 for task 5 of array 1234, or 1234+1 for component 1 "
                "of heterogeneous job 1234")


def job_id(text: str) -> tuple[str, str | None]:
    """``"1234"`` -> ("1234", None); ``"1234_5"`` -> ("1234", "5"); ``"1234+1"`` (a heterogeneous
    job's component, as squeue and sacct print it) -> ("1234", "+1"). Anything else is a ParseError."""
    match = re.fullmatch(r"(\d+)(?:_(\d+)|\+(\d+))?", text.strip())
    step = re.fullmatch(r"((\d+)(?:_\d+|\+\d+)?)\.(batch|extern|interactive|\d+)", text.strip())
    if step and int(step.group(2)):
        raise ParseError(f"{text!r} is a step of job {step.group(1)}, not a job: give the job's id, "
                         f"{step.group(1)} (its steps are shown with it)")
    if not match or int(match.group(1)) == 0:
        raise ParseError(f"{text!r} is not a job id: {JOB_ID_FORMS}")
    base, task, component = match.groups()
    if component is not None:
        return str(int(base)), f"+{int(component)}"
    return str(int(base)), None if task is None else str(int(task))


def het_base(job_id: str) -> str:
    """A heterogeneous job's component as its job: "123+1" -> "123"; any other id as it is."""
    return re.sub(r"\+\d+$", "", job_id)


def array_tasks(spec: str) -> list[str]:
    """A task range as Slurm prints it -> task ids: ``"[1-3,7]"``, ``"1,3,5"``, ``"1-9:4%2"``.

    ``%N`` (the throttle) is dropped; ``a-b:s`` steps by s.
    """
    body = spec.strip().strip("[]").split("%", 1)[0]
    tasks: list[str] = []
    for part in filter(None, body.split(",")):
        match = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part)
        if not match:
            raise ParseError(f"array tasks: expected ranges like '1-5,7', found {spec!r}")
        lo, hi, step = match.groups()
        tasks += [str(i) for i in range(int(lo), int(hi or lo) + 1, int(step or 1))]
    return tasks


def task_ranges(task_ids) -> str:
    """Task ids as ranges, the inverse of array_tasks: ["1", "2", "3", "7"] -> "1-3,7" (ids that are
    not numbers are left out)."""
    ids = sorted({int(t) for t in task_ids if (t or "").isdigit()})
    runs: list[list[int]] = []
    for i in ids:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


# slurmctld expands %a in the paths of a record that stands for many tasks to this placeholder
_NO_TASK = "4294967294"


def _with_task(job: Job, task: str) -> Job:
    def path(p: str | None) -> str | None:
        # without the placeholder the path may hold %j of the record, not of the task: unknown yet
        return p.replace(_NO_TASK, task) if p and _NO_TASK in p else None
    return replace(job, job_id=f"{job.array_job_id}_{task}", array_task_id=task,
                   stdout=path(job.stdout), stderr=path(job.stderr))


def expand_array_ranges(jobs: list[Job]) -> list[Job]:
    """One Job per array task: a row for a range of tasks (``123_[2-5]``, still pending or cancelled
    before they started) becomes one Job per task that has no row of its own."""
    own = {j.job_id for j in jobs}
    out = []
    for job in jobs:
        if job.array_task_id and not job.array_task_id.isdigit():
            out += [t for t in (_with_task(job, task) for task in array_tasks(job.array_task_id))
                    if t.job_id not in own]
        else:
            out.append(job)
    return out


# ---------------------------------------------------------------- sacct

def sacct_rows(text: str) -> list[dict[str, str]]:
    """Rows of ``sacct -P -n --delimiter=SEP -o <SACCT_FIELDS>``."""
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = line.split(SEP)
        if len(cells) != len(SACCT_FIELDS):
            raise ParseError(f"sacct line {lineno}: expected {len(SACCT_FIELDS)} fields, "
                             f"found {len(cells)}: {line[:120]!r}")
        rows.append(dict(zip(SACCT_FIELDS, cells)))
    return rows


def _state(text: str) -> tuple[str, str]:
    detail = text.strip()
    return (detail.split()[0] if detail else "UNKNOWN"), detail


def sacct_jobs(text: str) -> list[Job]:
    """Jobs with their steps, in sacct's order. Step rows (``123.batch``) attach to their job.

    With ``--duplicates`` a requeued job has a row per run, oldest first (sacct sorts by submit
    time): the last is the job, the others its earlier runs. A run counts as an earlier one of the
    same job only if it has the job's user and name and ended at most REQUEUE_GAP_S before the next
    was queued again (a requeue during the run is at once; `scontrol requeue` of a finished job
    works while slurmctld remembers it, MinJobAge, 300 s by default); otherwise the id was reused
    by another job after Slurm's ids were reset, and only the newest is kept."""
    jobs: dict[str, dict] = {}
    order: list[str] = []
    for row in sacct_rows(text):
        job_id, dot, step = row["JobID"].partition(".")
        if not dot:
            before = jobs.get(job_id)
            earlier = before["earlier"] + [before["row"]] if before and _requeued_into(before["row"], row) else []
            jobs[job_id] = {"row": row, "steps": [], "earlier": earlier}
            if before is None:
                order.append(job_id)
            continue
        if job_id not in jobs:  # a step whose job line is outside the window: skip it
            continue
        state, _ = _state(row["State"])
        code, sig = exit_code(row["ExitCode"])
        jobs[job_id]["steps"].append(JobStep(
            step_id=step, name=row["JobName"], state=state, exit_code=code, signal=sig,
            elapsed_s=duration_s(row["Elapsed"]), nodes=hostlist(row["NodeList"]),
            max_rss_kb=size_kb(row["MaxRSS"]), mem_tot_kb=tres_mem_kb(row["TRESUsageInTot"]),
            total_cpu_s=cpu_seconds(row["TotalCPU"]), polled_cpu_s=tres_cpu_s(row["TRESUsageInTot"]),
            end=_none(row["End"])))
    return [replace(_job(jobs[j]["row"], tuple(jobs[j]["steps"])), earlier_runs=tuple(map(_run, jobs[j]["earlier"])))
            for j in order]


REQUEUE_GAP_S = 900      # an earlier run's end and the next run's submit time, at most this far apart


def _requeued_into(old: dict[str, str], new: dict[str, str]) -> bool:
    if (old["User"], old["JobName"]) != (new["User"], new["JobName"]):
        return False
    try:
        ended, queued = datetime.fromisoformat(old["End"]), datetime.fromisoformat(new["Submit"])
    except ValueError:
        return False
    return -5 <= (queued - ended).total_seconds() <= REQUEUE_GAP_S


def _run(row: dict[str, str]) -> EarlierRun:
    state, detail = _state(row["State"])
    code, sig = exit_code(row["ExitCode"])
    return EarlierRun(state=state, state_detail=detail, start=_none(row["Start"]), end=_none(row["End"]),
                      nodes=hostlist(row["NodeList"]), exit_code=code, signal=sig)


def _job(row: dict[str, str], steps: tuple[JobStep, ...]) -> Job:
    state, detail = _state(row["State"])
    code, sig = exit_code(row["ExitCode"])
    array_job = array_task = None
    match = re.fullmatch(r"(\d+)_(\[?[\d,\-%:]+\]?)", row["JobID"])
    if match:
        array_job, array_task = match.groups()
    het = re.fullmatch(r"(\d+)\+\d+", row["JobID"])
    rss = [s.max_rss_kb for s in steps if s.max_rss_kb is not None]
    nodes = hostlist(row["NodeList"])
    return Job(
        job_id=row["JobID"], job_id_raw=row["JobIDRaw"], name=row["JobName"], user=row["User"],
        partition=row["Partition"], state=state, state_detail=detail, exit_code=code, signal=sig,
        elapsed_s=duration_s(row["Elapsed"]), time_limit_s=duration_s(row["Timelimit"]),
        nodes=nodes, node_list=row["NodeList"] if nodes else "", alloc_tres=tres(row["AllocTRES"]),
        submit=_none(row["Submit"]), start=_none(row["Start"]), end=_none(row["End"]),
        work_dir=_none(row["WorkDir"]), reason=_none(row["Reason"]),
        max_rss_kb=max(rss) if rss else size_kb(row["MaxRSS"]),
        array_job_id=array_job, array_task_id=array_task, steps=steps, sources=(ACCOUNTING,),
        het_job_id=het.group(1) if het else None,
        alloc_cpus=int(row["AllocCPUS"]) if row["AllocCPUS"].strip().isdigit() else None,
        total_cpu_s=_sum(s.total_cpu_s for s in steps) if steps else cpu_seconds(row["TotalCPU"]),
        polled_cpu_s=_sum(s.polled_cpu_s for s in steps),
        mem_used_kb=max((s.mem_tot_kb for s in steps if s.mem_tot_kb is not None), default=None))


def _sum(values) -> float | None:
    found = [v for v in values if v is not None]
    return round(sum(found), 3) if found else None


# ---------------------------------------------------------------- scontrol show ... -o

_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z][A-Za-z0-9_:/.]*)=")


def scontrol_record(line: str) -> dict[str, str]:
    """One ``scontrol show job|node -o`` line -> {key: value}; values may contain spaces.

    ``Reason=`` (free text set by people, possibly containing ``=``) runs to its trailing
    ``[user@time]`` stamp, or to the end of the line.
    """
    line = line.strip()
    reason = None
    at = re.search(r"(?:^|\s)Reason=", line)
    if at:
        rest = line[at.end():]
        stamp = re.search(r"\[[^\[\]@]*@[^\[\]]*\]", rest)
        end = stamp.end() if stamp else len(rest)
        tail = rest[end:]
        nxt = _KEY.search(tail)
        if not stamp:
            # no stamp: the reason ends where the next key starts (job records: Reason=None Dependency=...)
            nxt = _KEY.search(rest)
            end = nxt.start() if nxt else len(rest)
            tail = rest[end:]
        reason = rest[:end].strip()
        line = (line[:at.start()] + " " + tail).strip()
    keys = list(_KEY.finditer(line))
    record = {}
    for this, following in zip(keys, keys[1:] + [None]):
        end = following.start() if following else len(line)
        record[this.group(1)] = line[this.end():end].strip()
    if reason is not None:
        record["Reason"] = reason
    return record


def _reason_parts(text: str | None) -> tuple[str | None, str | None, str | None]:
    """``"maintenance [root@2026-11-21T09:00:00]"`` -> (reason, user, time)."""
    if not text or text in {"None", "(null)"}:
        return None, None, None
    match = re.fullmatch(r"(.*?)\s*\[([^\[\]@]*)@([^\[\]]*)\]", text)
    if match:
        return match.group(1) or None, match.group(2) or None, match.group(3) or None
    return text, None, None


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def _gpus_from_tres(text: str) -> int:
    return _int(dict(tres(text)).get("gres/gpu"), 0)


def scontrol_nodes(text: str) -> list[Node]:
    nodes = []
    for line in text.splitlines():
        if not line.startswith("NodeName="):
            continue
        r = scontrol_record(line)
        state_parts = r.get("State", "UNKNOWN").split("+")
        base = state_parts[0].rstrip("*~#%$@^-!")
        flags = list(state_parts[1:])
        if state_parts[0].endswith("*") and "NOT_RESPONDING" not in flags:
            flags.append("NOT_RESPONDING")
        reason, user, when = _reason_parts(r.get("Reason"))
        gres = r.get("Gres", "")
        gpus = _gpus_from_tres(r.get("CfgTRES", ""))
        if not gpus:
            match = re.search(r"gpu(?::[^:,(]+)?:(\d+)", gres)
            gpus = int(match.group(1)) if match else 0
        nodes.append(Node(
            name=r["NodeName"], state=base, flags=tuple(flags), reason=reason, reason_user=user,
            reason_time=when, gres="" if gres == "(null)" else gres, gpus=gpus,
            gpus_used=_gpus_from_tres(r.get("AllocTRES", "")),
            partitions=tuple(p for p in r.get("Partitions", "").split(",") if p),
            cpus=_int(r.get("CPUTot")), cpus_alloc=_int(r.get("CPUAlloc")),
            real_memory_mb=_int(r.get("RealMemory")), address=r.get("NodeAddr", "")))
    return nodes


def scontrol_job(text: str) -> dict[str, str]:
    """The first record of ``scontrol show job -o ID`` (array jobs print one line per task)."""
    for line in text.splitlines():
        if line.startswith("JobId="):
            return scontrol_record(line)
    raise ParseError(f"scontrol show job: expected a line starting with 'JobId=', found {text[:120]!r}")


def scontrol_jobs(text: str) -> list[dict[str, str]]:
    return [scontrol_record(line) for line in text.splitlines() if line.startswith("JobId=")]


def scontrol_job_views(text: str) -> list[Job]:
    """``scontrol show job -o`` -> one Job per job or array task, as slurmctld sees it (no steps).

    A pending array prints one record for all its waiting tasks (``ArrayTaskId=2-5``): it becomes
    one Job per task.
    """
    out = []
    for r in scontrol_jobs(text):
        array_job, task = _none(r.get("ArrayJobId", "")), _none(r.get("ArrayTaskId", ""))
        het, offset = _none(r.get("HetJobId", "")), r.get("HetJobOffset", "")
        state, detail = _state(r.get("JobState", ""))
        code, sig = exit_code(r.get("ExitCode", ""))
        user = job_owner(r.get("UserId", ""))
        nodes = hostlist(r.get("NodeList", ""))
        node_list = r["NodeList"] if nodes else ""
        job = Job(
            job_id=f"{array_job}_{task}" if array_job else f"{het}+{offset}" if het and offset.isdigit() else r["JobId"],
            job_id_raw=r["JobId"], het_job_id=het if het and offset.isdigit() else None,
            name=r.get("JobName", ""), user=user, partition=r.get("Partition", ""),
            state=state, state_detail=detail, exit_code=code, signal=sig,
            elapsed_s=duration_s(r.get("RunTime", "")), time_limit_s=duration_s(r.get("TimeLimit", "")),
            nodes=nodes, node_list=node_list, alloc_tres=tres(r.get("TRES", "")),
            submit=_none(r.get("SubmitTime", "")),
            start=_none(r.get("StartTime", "")) if state != "PENDING" else None,
            end=_none(r.get("EndTime", "")) if state in TERMINAL_STATES else None,
            work_dir=_none(r.get("WorkDir", "")), stdout=_none(r.get("StdOut", "")),
            stderr=_none(r.get("StdErr", "")), reason=_none(r.get("Reason", "")),
            array_job_id=array_job, array_task_id=task, sources=(CONTROLLER,),
            restarts=int(r["Restarts"]) if r.get("Restarts", "").isdigit() else None,
            gpus_per_task=per_task_gpus(r.get("TresPerTask", "")), gpus_per_task_known=True,
            account=_none(r.get("Account", "")), qos=_none(r.get("QOS", "")),
            expected_start=_ahead(r.get("StartTime", "")) if state == "PENDING" else None)
        out += expand_array_ranges([job]) if task and not task.isdigit() else [job]
    return out


def _ahead(stamp: str) -> str | None:
    """A pending job's StartTime, where it is still to come: the scheduler's estimate of its start
    (scontrol prints the host's local time). Unknown, or a time gone by (the start of a run before a
    requeue), is None."""
    from datetime import datetime

    try:
        return stamp if datetime.fromisoformat(stamp) > datetime.now() else None
    except ValueError:
        return None


# squeue's view of the jobs that wait (one line a job, a pending array's waiting tasks one line):
# id, raw id, array id, task ids, state, partition, user, account, QOS, expected start, time limit,
# reason (slurmctld's sentence where it set one), name last (it may hold anything but a newline)
SQUEUE_WAITING_FORMAT = "\x1f".join(["%i", "%A", "%F", "%K", "%T", "%P", "%u", "%a", "%q", "%S", "%l", "%r", "%j"])


def squeue_waiting(text: str) -> list[Job]:
    """``squeue -h -o SQUEUE_WAITING_FORMAT`` -> one Job per line. A pending array's waiting tasks
    are one Job, 123_[5-9] (its throttle, %1, left out); a heterogeneous job's components are one,
    by its id. squeue must print whole task lists (SLURM_BITSTR_LEN=0): the id is built from them."""
    out, seen = [], set()
    for line in text.splitlines():
        cells = line.split("\x1f", 12)
        if len(cells) != 13:
            raise ParseError(f"squeue: expected 13 fields a line, found {len(cells)}: {line[:200]!r}")
        shown, raw, array, task, state, partition, user, account, qos, start, limit, reason, name = cells
        tasks = task.split("%")[0] if _none(task) else None
        job_id = (het_base(shown) if "+" in shown else
                  f"{array}_{tasks}" if tasks and tasks.isdigit() else f"{array}_[{tasks}]" if tasks else shown)
        if job_id in seen:                    # a heterogeneous job's later component
            continue
        seen.add(job_id)
        out.append(Job(
            job_id=job_id, job_id_raw=raw, name=name, user=user, partition=partition,
            state=state.split()[0] if state.strip() else "UNKNOWN", state_detail=state, exit_code=0, signal=0,
            elapsed_s=None, time_limit_s=duration_s(limit), nodes=(), node_list="", reason=_none(reason),
            array_job_id=array if tasks else None, array_task_id=tasks, het_job_id=job_id if "+" in shown else None,
            sources=(CONTROLLER,), account=_none(account), qos=_none(qos),
            expected_start=_ahead(start) if state == "PENDING" else None))
    return out


def job_owner(text: str) -> str:
    """scontrol's ``UserId=ana(1001)`` -> "ana". slurmctld writes ``nobody(1003)`` for a uid that no
    longer has a name (a deleted account): that is not the user nobody, so it is no name ("")."""
    name, _, rest = text.partition("(")
    uid = rest.rstrip(")")
    if name == "nobody" and uid.isdigit():
        import pwd

        try:
            if pwd.getpwnam(name).pw_uid != int(uid):
                return ""
        except KeyError:
            return ""
    return name


def per_task_gpus(text: str) -> int | None:
    """scontrol's ``TresPerTask=gres:gpu:1`` (or ``gres/gpu:a100:2``, among other TRES) -> 1 (2);
    None when the job asked for no GPUs per task."""
    m = re.search(r"gres[:/]gpu(?::[^:,=]+)?:(\d+)", text or "")
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- sinfo

SINFO_REASON_FORMAT = "%N|#|%E|#|%u|#|%H|#|%T"


def sinfo_reasons(text: str) -> list[NodeReason]:
    """``sinfo -h -N -R -o SINFO_REASON_FORMAT`` -> one NodeReason per node."""
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = line.split(SEP)
        if len(cells) != 5:
            raise ParseError(f"sinfo line {lineno}: expected 5 fields, found {len(cells)}: {line[:120]!r}")
        node, reason, user, when, state = (c.strip() for c in cells)
        out.append(NodeReason(node=node, reason=reason, user=user, time=when, state=state))
    return out


def sbatch_job_id(text: str) -> str:
    """``sbatch --parsable`` prints ``ID`` or ``ID;cluster``."""
    first = text.strip().splitlines()[-1] if text.strip() else ""
    job_id = first.split(";")[0]
    if not job_id.isdigit():
        raise ParseError(f"sbatch --parsable: expected a job id, found {text.strip()[:120]!r}")
    return job_id


SACCTMGR_EVENT_FIELDS = ("NodeName", "TimeStart", "TimeEnd", "State", "Reason", "User")


def sacctmgr_events(text: str) -> list[NodeEvent]:
    """``sacctmgr -n -P show event ... format=SACCTMGR_EVENT_FIELDS`` -> NodeEvents. The reason may
    itself hold '|' (sacctmgr does not escape it): the fields around it are fixed, so it is rejoined."""
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = line.split("|")
        if len(cells) < len(SACCTMGR_EVENT_FIELDS):
            raise ParseError(f"sacctmgr event line {lineno}: expected {len(SACCTMGR_EVENT_FIELDS)} fields, "
                             f"found {len(cells)}: {line[:120]!r}")
        node, start, end, state = cells[:4]
        reason, user = "|".join(cells[4:-1]), cells[-1]
        out.append(NodeEvent(node=node.strip(), start=start.strip(),
                             end=None if end.strip() in ("", "Unknown", "None") else end.strip(),
                             state=state.strip(), reason=reason.strip(), user=user.strip()))
    return out
