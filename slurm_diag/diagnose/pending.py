"""A job that has not started: Slurm's pending reason in words, whether the job can ever start as
it asked, and what its owner can do, with the job's own id and partition in each command. A reason not listed is
shown as Slurm wrote it."""

from __future__ import annotations

from slurm_diag.diagnose.evidence import finding

# reason -> (words, will it ever start as asked, the next step; {id} is the job's id). A reason is
# also matched by its start (Slurm appends details: "launch failed requeued held", "ReqNodeNotAvail,
# UnavailableNodes:node3").
REASONS = {
    "Resources": ("waiting for nodes with the resources it asked for to become free", True,
                  "nothing to do: `squeue -j {id} --start` shows when Slurm expects to start it"),
    "Priority": ("other jobs with higher priority are ahead of it", True,
                 "nothing to do: `squeue -j {id} --start` shows when Slurm expects to start it; "
                 "`sprio -j {id}` shows its priority"),
    "DependencyNeverSatisfied": ("a job it depends on did not end as the dependency requires, so it will never "
                                 "start", False, "scancel {id}, then resubmit once the job it depends on has run as "
                                                 "required (`scontrol show job {id}` names the dependency)"),
    "Dependency": ("waiting for the jobs it depends on to finish", True,
                   "nothing to do: it starts when they end (`scontrol show job {id}` names them)"),
    "BeginTime": ("its start time (--begin) has not come yet", True,
                  "nothing to do: it starts at its --begin time (`squeue -j {id} -o %S`)"),
    "JobHeldUser": ("you held it", True, "scontrol release {id}"),
    "JobHeldAdmin": ("an administrator held it", True, "ask the administrators why they held job {id}"),
    "launch failed requeued held": ("it failed to start (a node's prolog failed), was requeued and held", True,
                                    "scontrol release {id} once the node is fixed (`sdiag-agent nodes` shows it)"),
    "ReqNodeNotAvail": ("a node it needs is down, drained or reserved", True,
                        "wait, or leave the node out (scontrol update JobId={id} ExcNodeList=NODE)"),
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
    "QOSMaxGRESPerUser": ("you already use as many GPUs as your QOS allows", True,
                          "nothing to do: it starts when your running jobs free GPUs"),
    "AssocGrpGRES": ("your account already uses as many GPUs as it may", True,
                     "nothing to do: it starts when your account's running jobs free GPUs"),
    "PartitionDown": ("the partition is down", True, "ask the administrators when the partition comes back"),
    "NodeDown": ("a node it needs is down", True, "wait for the node, or ask the administrators"),
}
DEFAULT_STEP = "`squeue -j {id} --start` shows when Slurm expects to start it"


def reason_of(reason: str) -> tuple[str | None, bool, str]:
    """(words or None for a reason not listed, whether the job can still start as asked, next step)."""
    entry = REASONS.get(reason) or next((v for k, v in REASONS.items() if reason.startswith(k)), None)
    return entry if entry else (None, True, DEFAULT_STEP)


REQUEUED_BEGIN = ("Slurm requeued it and holds a requeued job back a little before it may start again", True,
                  "nothing to do: it starts again shortly (`squeue -j {id} -o %S` shows when)")


def doc(job, missing: list[str]) -> dict:
    """The explain document of a job that has not started (or waits to start again, requeued)."""
    from slurm_diag.diagnose.job_facts import requeue_words

    reason = job.reason or "None"
    requeued = requeue_words(job)
    words, can_start, step = REQUEUED_BEGIN if requeued and reason == "BeginTime" else reason_of(reason)
    said = (words or f"Slurm says {reason}") + (f" ({requeued})" if requeued else "")
    f = finding("scontrol:pending", "scontrol", "OK" if can_start else "WARN", f"{job.state}: {said}",
                job_id=job.job_id, raw={"state": job.state, "reason": reason, "will_start": can_start})
    attribution = {"job_id": job.job_id, "label": "unknown" if can_start else "scheduler", "scope": "user",
                   "component": "slurm", "suspect_nodes": [], "suspect_gpus": [],
                   "confidence": 0.2 if can_start else 0.9,
                   "supporting": [] if can_start else ["scontrol:pending"], "contradicting": [],
                   "explanation": f"the job is {job.state.lower()}: {said}",
                   "next_steps": [step.format(id=job.job_id, partition=job.partition or "PARTITION")]}
    return {"attribution": attribution, "alternatives": [], "findings": [f],
            "extracted": {"nodes": [], "gpus": [], "xids": [], "job_ids": []}, "not_checked": missing}
