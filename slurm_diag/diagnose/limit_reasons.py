"""Slurm's accounting-limit pending reasons in words. Slurm 22.05 has about 150 of them
(AssocGrpCpuLimit, QOSMaxWallDurationPerJobLimit, MaxGRESPerAccount, QOSMinMemory, ...), all built
the same way, so they are read by that grammar rather than listed:
- whose limit: an association's (Assoc: the job's user in its account, the account, or an account
  above it), a QOS's (QOS), or a QOS's limit on each account (no prefix: Max...PerAccount);
- which kind: Grp (every job under it together), Max (one job, node, user or account), Min (what
  each job must ask at least);
- of what: CPUs, memory, nodes, GPUs (GRES), ..., or jobs, or wall time;
- over what: held at once, run minutes (what the running jobs have left), or minutes used so far.

Slurm gives a Grp, PerUser or PerAccount reason both while other jobs hold the limit and when this
job alone asks for more than it (accepted unless DenyOnLimit, it then waits for good): the words say
both (acct_policy.c)."""

from __future__ import annotations

import re

LIMIT = re.compile(r"(Assoc|QOS)?(Grp|Max|Min)(SubmitJobs?|Jobs|CPU|Cpu|Memory|Mem|Node|GRES|Energy|License|BB|"
                   r"Billing|Unknown|WallDuration|Wall)(RunMinutes|Minutes)?(Per(?:Job|Node|User|Account))?"
                   r"(?:Limit|NotSatisfied)?")

# what each limits: (noun, whether it is counted: "fewer CPUs" but "less memory")
WHAT = {"Cpu": ("CPUs", True), "CPU": ("CPUs", True), "Mem": ("memory", False), "Memory": ("memory", False),
        "Node": ("nodes", True), "GRES": ("GPUs (or other GRES)", True), "Energy": ("energy", False),
        "License": ("licenses", True), "BB": ("burst buffer space", False),
        "Billing": ("billing units (the site's weighted sum of CPUs, memory and GPUs)", True),
        "Unknown": ("of a resource Slurm did not name", False)}
# the same, as the unit of "...-minutes"
UNIT = {"Cpu": "CPU", "CPU": "CPU", "Mem": "memory (MB)", "Memory": "memory (MB)", "Node": "node",
        "GRES": "GPU (or other GRES)", "Energy": "energy", "License": "license", "BB": "burst buffer",
        "Billing": "billing unit", "Unknown": "resource", "Wall": "wall", "WallDuration": "wall"}
JOB_COUNTS = ("Jobs", "SubmitJob", "SubmitJobs")


def words(reason: str, job) -> tuple[str, bool, str] | None:
    """(words, whether the job can still start as it asked, the next step with {id}) for a limit
    reason of ``job``; None for any other reason."""
    m = LIMIT.fullmatch(reason)
    if m is None:
        return None
    whose, kind, token, over, per = m.groups()
    qos, account = getattr(job, "qos", None), getattr(job, "account", None)
    if whose == "Assoc":
        owner = f"your association in account {account}" if account else "your association"
        group = f"account {account} (or an account above it)" if account else "your account (or one above it)"
        show = "`scontrol show assoc_mgr flags=assoc users=$USER" + (f" accounts={account}" if account else "") + "`"
        raise_it = "ask your PI or the administrators to raise the account's limit"
    else:
        owner = group = f"the QOS {qos}" if qos else "its QOS"
        show = f"`scontrol show assoc_mgr flags=qos qos={qos or 'QOS'}`"
        raise_it = "ask the administrators to raise the QOS's limit, or use another QOS"
    if token in JOB_COUNTS:
        return _job_counts(kind, token, per, owner, group, show)
    if token in ("Wall", "WallDuration") and kind == "Max":
        return (f"its --time is longer than {owner} allows one job, so it will never start as it asked", False,
                f"scontrol update JobId={{id}} TimeLimit=... within that limit ({show} shows it)")
    if kind == "Grp" and (over == "Minutes" or token == "Wall"):
        used = f"{UNIT[token]}-minutes" if token != "Wall" else "wall time"
        return (f"the jobs under {group} have used up its allocation of {used}, or too little of it is left for "
                "this job's --time, so it cannot start with the --time it asked for until past usage decays or the "
                "limit is raised", False,
                f"a shorter time limit may start it now (scontrol update JobId={{id}} TimeLimit=...); for more, "
                f"{raise_it} ({show} shows the limit and what is used)")
    noun, counted = WHAT[token]
    many, fewer = ("many", "fewer") if counted else ("much", "less")
    if kind == "Min":
        return (f"it asks for {fewer} {noun} than {owner} requires of each job, so it will never start as it asked",
                False, f"scancel {{id}} and resubmit asking for at least the minimum ({show} shows it)")
    if kind == "Max" and over == "Minutes":
        return (f"it asks for more {UNIT[token]}-minutes (what it asks times its --time) than {owner} allows one "
                "job, so it will never start as it asked", False,
                f"scontrol update JobId={{id}} TimeLimit=... shorter, or scancel {{id}} and resubmit asking for "
                f"less ({show} shows the limit)")
    if kind == "Max" and per in ("PerJob", "PerNode"):
        each = "one job" if per == "PerJob" else "one job on each node"
        return (f"it asks for more {noun} than {owner} allows {each}, so it will never start as it asked", False,
                f"scancel {{id}} and resubmit asking for {fewer} {noun}" + (" per node" if per == "PerNode" else "")
                + f" ({show} shows the limit)")
    short = noun.split(" (")[0]
    alone = f"; if this job alone asks for more than the limit, it will never start: ask for {fewer} {short}"
    if kind == "Max":
        held, each = (("your account's running jobs", "an account") if per == "PerAccount" else
                      ("your running jobs", "a user"))
        return (f"{held} already hold as {many} {noun} as {owner} allows {each}{alone}", True,
                f"nothing to do: it starts when some of them end (`squeue --me`; {show} shows the limit)")
    if over == "RunMinutes":
        return (f"the running jobs under {group} together still have as many {UNIT[token]}-minutes to run as its "
                f"limit allows{alone} or a shorter time limit", True,
                f"nothing to do: it starts as they run down, sooner with a shorter time limit "
                f"(`scontrol update JobId={{id}} TimeLimit=...`; {show} shows the limit)")
    return (f"the running jobs under {group} together already hold as {many} {noun} as its limit allows{alone}",
            True, f"nothing to do: it starts when some of them end ({show} shows the limit and what is in use)")


def _job_counts(kind: str, token: str, per: str | None, owner: str, group: str, show: str) -> tuple[str, bool, str]:
    """A limit on how many jobs run (Jobs) or are queued and running (SubmitJob): it waits for others."""
    counted = "jobs at once" if token == "Jobs" else "jobs queued and running"
    if kind == "Grp":
        said = f"the jobs under {group} together already number as many {counted} as its limit allows"
    elif per == "PerAccount":
        said = f"your account already has as many {counted} as {owner} allows an account"
    else:
        said = f"you already have as many {counted} as {owner} allows a user"
    return said, True, f"nothing to do: it starts when some of them end (`squeue --me`; {show} shows the limit)"
