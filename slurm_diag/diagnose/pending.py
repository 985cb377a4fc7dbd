"""A job that has not started: Slurm's pending reason in words, whether the job can ever start as
it asked, and what its owner can do, with the job's own id and partition in each command. Every
reason Slurm 22.05 gives a pending job is said in words: those below, and the accounting limits by
their grammar (limit_reasons). A reason Slurm adds later is shown as Slurm wrote it."""

from __future__ import annotations

import re

from slurm_diag.diagnose.evidence import finding

DEFAULT_STEP = "`squeue -j {queued} --start` shows when Slurm expects to start it"

# reason -> (words, will it ever start as asked, the next step; {id} is the job's id, {queued} the id
# squeue and sprio take (an array's own for its tasks), {array} its array's,
# {partition} its partition's, {unavailable} how to see why the nodes Slurm named are not available).
REASONS = {
    "Resources": ("waiting for nodes with the resources it asked for to become free", True,
                  "nothing to do: `squeue -j {queued} --start` shows when Slurm expects to start it"),
    "Priority": ("other jobs with higher priority are ahead of it", True,
                 "nothing to do: `squeue -j {queued} --start` shows when Slurm expects to start it; "
                 "`sprio -j {queued}` shows its priority"),
    "DependencyNeverSatisfied": ("a job it depends on did not end as the dependency requires, so it will never "
                                 "start", False, "scancel {id}, then resubmit once the job it depends on has run as "
                                                 "required (`scontrol show job {id}` names the dependency)"),
    "Dependency": ("waiting for the jobs it depends on to finish", True,
                   "nothing to do: it starts when they end (`scontrol show job {id}` names them)"),
    "BeginTime": ("its start time (--begin) has not come yet", True,
                  "nothing to do: it starts at its --begin time (`squeue -j {id} -o %S`)"),
    "JobHeldUser": ("you held it", True, "scontrol release {id}"),
    "JobHeldAdmin": ("an administrator held it", True, "ask the administrators why they held job {id}"),
    # what slurmctld says of a job requeued into a hold (scontrol requeuehold, a special exit)
    "job requeued in held state": ("it was requeued and held", True, "scontrol release {id} to let it run again"),
    "job requeued in special exit state": ("it was requeued and held in the special-exit state", True,
                                           "scontrol release {id} to run it again, or scancel {id}"),
    "launch failed requeued held": ("it failed to start (a node's prolog failed), was requeued and held", True,
                                    "scontrol release {id} once the node is fixed (`sdiag-agent nodes` shows it)"),
    # slurmctld's own words after ReqNodeNotAvail: the job's --time reaches into a maintenance reservation
    "ReqNodeNotAvail, Reserved for maintenance": (
        "its --time would run into a maintenance reservation on the nodes it may use: it starts after the "
        "maintenance, or sooner with a time limit that ends before the maintenance begins", True,
        "wait, or shorten its time limit to end before the maintenance (`scontrol show reservation` shows when "
        "it begins): scontrol update JobId={id} TimeLimit=..."),
    "ReqNodeNotAvail, May be reserved for other job": (
        "the nodes it may use are reserved (a reservation, or held for a job with a higher priority)", True,
        "nothing to do: `squeue -j {id} --start` shows when Slurm expects to start it; `scontrol show "
        "reservation` lists the reservations"),
    "ReqNodeNotAvail": ("nodes it may run on are down, drained or reserved", True,
                        "wait{unavailable}, or, if the job named them (-w), scontrol update JobId={id} "
                        "ReqNodeList=... with nodes that are up"),
    "PartitionTimeLimit": ("its --time is longer than the partition allows, so it will never start", False,
                           "scontrol update JobId={id} TimeLimit=... within the partition's limit (`sinfo -o '%P %l'`), "
                           "or scancel {id} and resubmit to a partition that allows it"),
    # Slurm gives these two also while nodes the job needs are down or drained: they may pass
    "PartitionNodeLimit": ("it asks for more nodes than the partition allows or has up now: if the partition is "
                           "smaller than it asks, it will never start; if nodes are down or drained, it waits for "
                           "them", True,
                           "compare what it asks with the partition (`sinfo -p {partition} -o '%P %D %T'`); if it is "
                           "too big: scontrol update JobId={id} NumNodes=..., or scancel {id} and resubmit"),
    "PartitionConfig": ("it asks for more than the partition's nodes have or allow now (nodes, CPUs, memory, "
                        "GPUs): if no node ever has it, it will never start", True,
                        "compare what it asks with the partition (`scontrol show partition`); if it is too big: "
                        "scancel {id} and resubmit within it, or to a partition that has what it asks"),
    "BadConstraints": ("no node has what it asked for (--constraint, --gres, memory or CPUs per node), so it "
                       "will never start", False,
                       "scancel {id} and resubmit asking for what the nodes have (`sinfo -o '%N %f %G %m %c'`)"),
    "PartitionDown": ("the partition is down", True, "ask the administrators when the partition comes back"),
    "NodeDown": ("a node of its last run went down (Slurm requeued it, and it waits to start again)", True,
                 DEFAULT_STEP),
    # the sentence slurmctld sets in place of Resources when too few of the partition's nodes are up
    "Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority partitions": (
        "fewer of the partition's nodes are available than it asks: the others are down, drained, or kept for "
        "jobs of a partition with a higher priority", True,
        "wait, or ask for fewer nodes (`sinfo -p {partition}` shows which are down or drained)"),
    "None": ("Slurm has not looked at it yet (it was just submitted)", True, DEFAULT_STEP),
    "Prolog": ("its nodes are running the prolog: it starts when the prolog ends", True,
               "nothing to do: it starts when the prolog ends"),
    "PartitionInactive": ("the partition takes no jobs to run now (State=INACTIVE)", True,
                          "ask the administrators when partition {partition} is opened again"),
    "Licenses": ("the licenses it asked for (--licenses) are in use by other jobs", True,
                 "nothing to do: it starts when they are free (`scontrol show licenses`)"),
    "Reservation": ("it waits for its reservation (--reservation) to begin", True,
                    "nothing to do: it starts when the reservation does (`scontrol show reservation`)"),
    "ReservationDeleted": ("the reservation it was to run in was deleted, and Slurm holds it", True,
                           "scontrol update JobId={id} Reservation= then scontrol release {id}, to run without it"),
    "FrontEndDown": ("the front end node is down", True, "ask the administrators"),
    "SchedDefer": ("the scheduler deferred it to its next pass (SchedulerParameters=defer)", True, DEFAULT_STEP),
    "Cleaning": ("Slurm is still cleaning up after its last run (it was requeued)", True,
                 "nothing to do: it starts again once its last run's nodes are released"),
    "JobHoldMaxRequeue": ("Slurm requeued it more than 5 times, its most, and holds it", True,
                          "find why its runs failed (`sdiag-agent explain {id}`), then ask an administrator to "
                          "release it, or scancel {id} and resubmit"),
    "JobArrayTaskLimit": ("the array's other tasks already run as many at once as its throttle (--array=...%N) "
                          "allows", True, "nothing to do, or raise the throttle: "
                                          "scontrol update JobId={array} ArrayTaskThrottle=N"),
    "InvalidAccount": ("its account does not exist or you are not in it, so it will never start as it asked", False,
                       "scontrol update JobId={id} Account=... with an account `sacctmgr show assoc user=$USER "
                       "format=Account` lists, or scancel {id}"),
    "InvalidQOS": ("its QOS does not exist or you may not use it, so it will never start as it asked", False,
                   "scontrol update JobId={id} QOS=... with a QOS `sacctmgr show assoc user=$USER format=Account,QOS` "
                   "lists, or scancel {id}"),
    "QOSNotAllowed": ("partition {partition} does not take jobs of its QOS, so it will never start as it asked", False,
                      "scontrol update JobId={id} QOS=... with one the partition allows (`scontrol show partition "
                      "{partition}`: AllowQos, DenyQos), or scancel {id}"),
    "AccountNotAllowed": ("partition {partition} does not take jobs of its account, so it will never start as it "
                          "asked", False, "scontrol update JobId={id} Account=... with one the partition allows "
                                          "(`scontrol show partition {partition}`: AllowAccounts, DenyAccounts), or "
                                          "scancel {id}"),
    "MaxMemPerLimit": ("it asks for more memory per CPU or per node than the partition allows (MaxMemPerCPU, "
                       "MaxMemPerNode), so it will never start as it asked", False,
                       "scancel {id} and resubmit with a smaller --mem or --mem-per-cpu (`scontrol show partition "
                       "{partition}` shows the limit)"),
    "AccountingPolicy": ("a limit of its association or QOS holds it back (Slurm did not say which)", True,
                         "nothing to do: it starts when the jobs under that limit end "
                         "(`scontrol show assoc_mgr flags=assoc,qos users=$USER` shows the limits and their use)"),
    "QOSUsageThreshold": ("its account's fair-share factor is below its QOS's UsageThreshold", True,
                          "ask the administrators, or use another QOS"),
    "BurstBufferResources": ("the burst buffer space it asked for is in use", True, DEFAULT_STEP),
    "BurstBufferStageIn": ("its files are being staged in to the burst buffer", True, DEFAULT_STEP),
    "BurstBufferOperation": ("a burst buffer operation for it failed", True,
                             "`scontrol show job {id}` shows the burst buffer's message; ask the administrators"),
    "PowerNotAvail": ("the power it needs is not available (power capping)", True, DEFAULT_STEP),
    "PowerReserved": ("the power it needs is reserved for other jobs (power capping)", True, DEFAULT_STEP),
    # the names older Slurm used for every association or QOS limit, still in 22.05's list
    "AssociationJobLimit": ("your association already runs as many jobs as it allows", True,
                            "nothing to do: it starts when some of them end (`squeue --me`)"),
    "AssociationResourceLimit": ("the jobs under your association already hold as many resources as it allows",
                                 True, "nothing to do: it starts when some of them end (`squeue --me`)"),
    "AssociationTimeLimit": ("its --time is longer than your association allows, so it will never start as it "
                             "asked", False, "scontrol update JobId={id} TimeLimit=... within the limit "
                                             "(`scontrol show assoc_mgr flags=assoc users=$USER`)"),
    "QOSJobLimit": ("its QOS already runs as many jobs as it allows", True,
                    "nothing to do: it starts when some of them end"),
    "QOSResourceLimit": ("the jobs of its QOS already hold as many resources as it allows", True,
                         "nothing to do: it starts when some of them end"),
    "QOSTimeLimit": ("its --time is longer than its QOS allows, so it will never start as it asked", False,
                     "scontrol update JobId={id} TimeLimit=... within the QOS's MaxWall "
                     "(`scontrol show assoc_mgr flags=qos`)"),
}


def reason_of(reason: str, job=None) -> tuple[str | None, bool, str]:
    """(words or None for a reason not listed, whether the job can still start as asked, next step).
    scontrol prints a sentence slurmctld set with underscores for its spaces: it is read with spaces.
    A reason with details after a comma ("ReqNodeNotAvail, UnavailableNodes:node3") is its first part's."""
    from slurm_diag.diagnose import limit_reasons

    text = reason.replace("_", " ") if " " not in reason else reason
    if DELETED_RESERVATION.fullmatch(reason):
        return REASONS["ReservationDeleted"]
    entry = (REASONS.get(reason) or REASONS.get(text) or limit_reasons.words(reason, job)
             or REASONS.get(text.split(",")[0]))
    return entry if entry else (None, True, DEFAULT_STEP)


DELETED_RESERVATION = re.compile(r"Reservation[ _]\S+[ _]was[ _]deleted")   # slurmctld's words for ReservationDeleted


def _unavailable(reason: str) -> str:
    """The nodes slurmctld names in "ReqNodeNotAvail, UnavailableNodes:node[3-4]", as the words
    that show why; "" where it names none."""
    _, found, nodes = reason.partition("UnavailableNodes:")
    return f" (`sinfo -R -n {nodes.strip()}` shows why those are not available)" if found and nodes.strip() else ""


# a job neither waiting nor running nor ended: its state says it (and its reason, if any, is added)
STATES = {
    "SUSPENDED": ("it was suspended (by an administrator, or for a job that preempted it): it goes on where it "
                  "stopped once resumed, and its time limit does not run meanwhile", True,
                  "nothing to do, or ask the administrators why (`scontrol show job {id}` shows since when)"),
    "CONFIGURING": ("its nodes are being made ready (booted, or their prolog runs): it starts when they are", True,
                    "nothing to do: it starts when its nodes are ready"),
    "COMPLETING": ("it is ending and Slurm is releasing its nodes (their epilog runs)", True,
                   "explain it again in a moment, once it has ended (sdiag-agent explain {id})"),
    "REQUEUE_HOLD": ("it was requeued and is held", True, "scontrol release {id} to let it run again"),
    "SPECIAL_EXIT": ("it was requeued and held in the special-exit state", True,
                     "scontrol release {id} to run it again, or scancel {id}"),
    "REQUEUED": ("it is being requeued", True, "nothing to do: it waits to start again"),
    "RESV_DEL_HOLD": ("the reservation it was to run in was deleted, and it is held", True,
                      "scontrol update JobId={id} Reservation= then scontrol release {id}, or scancel {id}"),
    "STOPPED": ("it was stopped (its processes got SIGSTOP): it keeps its nodes and goes on once continued",
                True, "ask whoever stopped it (scontrol show job {id}), or scancel {id}"),
    "SIGNALING": ("Slurm is sending it a signal", True, DEFAULT_STEP),
    "STAGE_OUT": ("it is ending and its burst buffer files are being staged out", True,
                  "explain it again once it has ended (sdiag-agent explain {id})"),
    "RESIZING": ("its allocation is being resized", True, DEFAULT_STEP),
}

REQUEUED_BEGIN = ("Slurm requeued it and holds a requeued job back a little before it may start again", True,
                  "nothing to do: it starts again shortly (`squeue -j {id} -o %S` shows when)")


def state_words(state: str) -> str:
    """"the job is pending", "the job's state is REQUEUE_HOLD" (a state of two words is Slurm's name)."""
    return f"the job's state is {state}" if "_" in state else f"the job is {state.lower()}"


def words(job) -> tuple[str, bool, str]:
    """(what keeps ``job`` waiting, in words; whether it can still start as it asked; the next
    step, with its ids) for a job that has not started, or is neither running nor ended."""
    from slurm_diag.diagnose.job_facts import requeue_words

    reason = job.reason or "None"
    requeued = requeue_words(job)
    if requeued and reason == "BeginTime":
        said, can_start, step = REQUEUED_BEGIN
    elif job.state in STATES:
        said, can_start, step = STATES[job.state]
        said += f" (Slurm's reason: {reason.replace('_', ' ')})" if reason != "None" else ""
    else:
        said, can_start, step = reason_of(reason, job)
    said = (said.format(partition=job.partition or "its partition") if said else f"Slurm says {reason}") \
        + (f" ({requeued})" if requeued else "")
    one = f"'{job.job_id}'" if "[" in job.job_id else job.job_id        # 123_[5-9]: not a shell pattern
    step = step.format(id=one, partition=job.partition or "PARTITION", unavailable=_unavailable(reason),
                       array=job.array_job_id or job.job_id, queued=job.array_job_id if "[" in job.job_id else one)
    return said, can_start, step


def doc(job, missing: list[str]) -> dict:
    """The explain document of a job that has not started (or waits to start again, requeued), or is
    neither running nor ended (suspended, completing, held after a requeue)."""
    said, can_start, step = words(job)
    held = any(w in f"{job.reason} {job.state}".lower() for w in ("held", "hold", "special_exit"))
    if job.expected_start and can_start and not held:       # a held job starts only once released
        said += f"; Slurm expects to start it at {job.expected_start} (its estimate: it moves as other jobs end)"
    reason = job.reason or "None"
    f = finding("scontrol:pending", "scontrol", "OK" if can_start else "WARN", f"{job.state}: {said}",
                job_id=job.job_id, raw={"state": job.state, "reason": reason, "will_start": can_start,
                                        "expected_start": job.expected_start})
    attribution = {"job_id": job.job_id, "label": "unknown" if can_start else "scheduler", "scope": "user",
                   "component": "slurm", "suspect_nodes": [], "suspect_gpus": [],
                   "confidence": 0.2 if can_start else 0.9,
                   "supporting": [] if can_start else ["scontrol:pending"], "contradicting": [],
                   "explanation": f"{state_words(job.state)}: {said}", "next_steps": [step]}
    return {"attribution": attribution, "alternatives": [], "findings": [f],
            "extracted": {"nodes": [], "gpus": [], "xids": [], "job_ids": []}, "not_checked": missing}
