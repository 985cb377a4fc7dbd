"""Slurm's accounting-limit pending reasons in words. Slurm 22.05 has about 150 of them
(AssocGrpCpuLimit, QOSMaxWallDurationPerJobLimit, MaxGRESPerAccount, QOSMinMemory, ...), all built
the same way, so they are read by that grammar rather than listed:
- whose limit: an association's (Assoc: the job's user in its account), a QOS's (QOS), or a QOS's
  limit on each account (no prefix: Max...PerAccount);
- which kind: Grp (every running job under it together), Max (one job, node, user or account),
  Min (what each job must ask at least);
- of what: CPUs, memory, nodes, GPUs (GRES), ..., or jobs, or wall time;
- over what: held at once, run minutes (what the running jobs have left), or minutes used so far.

slurmctld also sets a sentence for a minutes limit ("Job is at or exceeds QOS normal's group max
TRES(cpu) minutes of 6000 with 6120"), which scontrol prints with underscores for spaces: it is read
as the reason it stands for."""

from __future__ import annotations

import re

LIMIT = re.compile(r"(Assoc|QOS)?(Grp|Max|Min)(SubmitJobs?|Jobs|CPU|Cpu|Memory|Mem|Node|GRES|Energy|License|BB|"
                   r"Billing|Unknown|WallDuration|Wall)(RunMinutes|Minutes)?(Per(?:Job|Node|User|Account))?"
                   r"(?:Limit|NotSatisfied)?")
SENTENCE = re.compile(r"Job is at or exceeds (?:QOS (?P<qos>\S+)'s|association \((?P<assoc>[^)]*)\)) "
                      r"(?:(?P<grp>group )?max TRES\((?P<tres>[^)]+)\) minutes|(?P<wall>group wall limit))")

WHAT = {"Cpu": "CPUs", "CPU": "CPUs", "Mem": "memory", "Memory": "memory", "Node": "nodes",
        "GRES": "GPUs (or other GRES)", "Energy": "energy", "License": "licenses", "BB": "burst buffer space",
        "Billing": "billing units (the site's weighted sum of CPUs, memory and GPUs)", "Unknown": "a resource",
        "Jobs": "running jobs", "SubmitJob": "submitted jobs", "SubmitJobs": "submitted jobs",
        "Wall": "wall time", "WallDuration": "wall time"}
# sacctmgr's field for each Max/Min limit, to show its value
FIELD = {("Max", "PerJob"): "MaxTRESPerJob", ("Max", "PerNode"): "MaxTRESPerNode",
         ("Max", "PerUser"): "MaxTRESPerUser", ("Max", "PerAccount"): "MaxTRESPerAccount",
         ("Min", None): "MinTRESPerJob", ("Min", "PerJob"): "MinTRESPerJob"}
# the same as a unit of "...-minutes"
UNIT = {"Cpu": "CPU", "CPU": "CPU", "Mem": "MB-of-memory", "Memory": "MB-of-memory", "Node": "node",
        "GRES": "GPU (or other GRES)", "Energy": "energy", "License": "license", "BB": "burst-buffer",
        "Billing": "billing-unit", "Unknown": "resource"}
TRES_TOKEN = {"cpu": "Cpu", "mem": "Mem", "node": "Node", "energy": "Energy", "billing": "Billing", "bb": "BB"}


def parse(reason: str) -> tuple[str | None, str, str, str | None, str | None, str] | None:
    """(whose: "Assoc", "QOS" or None, kind, what, over: "RunMinutes", "Minutes" or None, per, the
    QOS or association Slurm named or "") for a limit reason; None for any other reason."""
    m = LIMIT.fullmatch(reason)
    if m:
        return m[1], m[2], m[3], m[4], m[5], ""
    m = SENTENCE.match(reason.replace("_", " "))
    if not m:
        return None
    whose, named = ("QOS", m["qos"]) if m["qos"] else ("Assoc", m["assoc"])
    if m["wall"]:
        return whose, "Grp", "Wall", None, None, named
    tres = m["tres"].lower()
    what = TRES_TOKEN.get(tres) or ("GRES" if tres.startswith("gres/") else
                                    "License" if tres.startswith("license/") else "Unknown")
    return whose, "Grp" if m["grp"] else "Max", what, "Minutes", None if m["grp"] else "PerJob", named


def words(reason: str, job) -> tuple[str, bool, str] | None:
    """(words, whether the job can still start as it asked, the next step with {id}) for a limit
    reason of ``job``; None for any other reason."""
    parsed = parse(reason)
    if parsed is None:
        return None
    whose, kind, what_token, over, per, named = parsed
    what = WHAT[what_token]
    qos, account = getattr(job, "qos", None), getattr(job, "account", None)
    if whose == "Assoc":
        owner = (f"your association ({named})" if named else f"your association in account {account}" if account
                 else "your association (your user in its account)")
        show = "`scontrol show assoc_mgr flags=assoc users=$USER`"
    else:
        qos = named or qos
        owner = f"the QOS {qos}" if qos else "its QOS"
        show = f"`scontrol show assoc_mgr flags=qos qos={qos or 'QOS'}`"
    jobs = what_token in ("Jobs", "SubmitJob", "SubmitJobs")
    if what_token in ("Wall", "WallDuration") and kind == "Max":
        return (f"its --time is longer than {owner} allows one job, so it will never start as it asked", False,
                f"scontrol update JobId={{id}} TimeLimit=... within that limit ({show} shows it)")
    if kind == "Min":
        return (f"it asks for fewer {what} than {owner} requires of each job, so it will never start as it asked",
                False, f"scancel {{id}} and resubmit asking for at least the minimum ({show} shows it)")
    if kind == "Max" and over == "Minutes":
        return (f"it asks for more {UNIT[what_token]}-minutes (what it asks times its --time) than {owner} allows one job, "
                "so it will never start as it asked", False,
                f"scontrol update JobId={{id}} TimeLimit=... shorter, or scancel {{id}} and resubmit asking for "
                f"less ({show} shows the limit)")
    if kind == "Max" and per in ("PerJob", "PerNode"):
        each = "one job" if per == "PerJob" else "one job on each node"
        return (f"it asks for more {what} than {owner} allows {each}, so it will never start as it asked", False,
                f"scancel {{id}} and resubmit asking for fewer {what}" + (" per node" if per == "PerNode" else "")
                + f" ({show} shows the limit)")
    if kind == "Max":
        if per == "PerAccount":
            run, have, hold, each = "your account already runs", "your account already has", "your account's", "an account"
        else:
            run, have, hold, each = "you already run", "you already have", "your", "a user"
        held = (f"{run} as many jobs at once as {owner} allows {each}" if what_token == "Jobs" else
                f"{have} as many jobs queued and running as {owner} allows {each}" if jobs else
                f"{hold} running jobs already hold as many {what} as {owner} allows {each}")
        return (held, True, f"nothing to do: it starts when some of them end (`squeue --me`; {show} shows the limit)")
    if over == "Minutes" or what_token == "Wall":
        used = what if what_token == "Wall" else f"{UNIT[what_token]}-minutes"
        return (f"the jobs under {owner} have used up its allocation of {used}, so it will not start until an "
                "administrator raises the limit or past usage decays", False,
                "ask your PI or the administrators for more time" + (f" on account {account}" if account else "")
                + f" ({show} shows the limit and what is used; `sshare -l` shows your usage)")
    if over == "RunMinutes":
        return (f"the running jobs under {owner} together still have as many {UNIT[what_token]}-minutes to run as it "
                "allows",
                True, f"nothing to do: it starts as they run down, sooner with a shorter --time "
                      f"(`scontrol update JobId={{id}} TimeLimit=...`; {show} shows the limit)")
    held = (f"the jobs under {owner} already number as many as it allows" if jobs else
            f"the running jobs under {owner} together already hold as many {what} as it allows")
    return (held, True, f"nothing to do: it starts when some of them end ({show} shows the limit and what is in use)")
