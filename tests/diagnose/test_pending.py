"""A job that has not started: Slurm's pending reason in words, whether it can ever start as asked,
and the step its owner can take, with the job's own id."""

from __future__ import annotations

import pytest

from slurm_diag import schemas
from slurm_diag.diagnose import pending
from slurm_diag.slurm.records import Job


def waiting(reason: str) -> Job:
    return Job(job_id="812", job_id_raw="812", name="train", user="ana", partition="gpu", state="PENDING",
               state_detail="PENDING", exit_code=0, signal=0, elapsed_s=0, time_limit_s=3600, nodes=(),
               node_list="", reason=reason)


@pytest.mark.parametrize("reason,label,step", [
    ("DependencyNeverSatisfied", "scheduler", "scancel 812, then resubmit"),
    ("PartitionTimeLimit", "scheduler", "scontrol update JobId=812 TimeLimit="),
    # Slurm says these two also while the nodes the job needs are down or drained: they may pass
    ("PartitionNodeLimit", "unknown", "compare what it asks with the partition"),
    ("PartitionConfig", "unknown", "compare what it asks with the partition"),
    ("BadConstraints", "scheduler", "scancel 812 and resubmit"),
    ("JobHeldUser", "unknown", "scontrol release 812"),
    ("launch failed requeued held", "unknown", "scontrol release 812 once the node is fixed"),
    ("ReqNodeNotAvail, UnavailableNodes:node3", "unknown", "wait, or leave the node out"),
    ("Priority", "unknown", "nothing to do: `squeue -j 812 --start`"),
    ("SomethingNewInSlurm26", "unknown", "`squeue -j 812 --start`"),
])
def test_each_reason_says_whether_the_job_will_start_and_what_to_do(reason, label, step):
    d = pending.doc(waiting(reason), [])
    schemas.validate("attribution", d["attribution"])
    a = d["attribution"]
    assert a["label"] == label and a["scope"] == "user"
    assert a["next_steps"][0].startswith(step)
    assert "JOBID" not in a["next_steps"][0]
    assert ("will never start" in a["explanation"] and "if " not in a["explanation"]) == (label == "scheduler")
    assert "812" in a["next_steps"][0]


def test_the_partition_is_named_in_the_command():
    assert "`sinfo -p gpu -o '%P %D %T'`" in pending.doc(waiting("PartitionNodeLimit"), [])["attribution"]["next_steps"][0]


def test_a_reason_slurm_adds_later_is_shown_as_slurm_wrote_it():
    a = pending.doc(waiting("SomethingNewInSlurm26"), [])["attribution"]
    assert a["explanation"] == "the job is pending: Slurm says SomethingNewInSlurm26"


def test_a_job_requeued_and_waiting_to_start_again_is_not_told_about_a_begin_time_it_never_set():
    """Slurm gives a requeued job a BeginTime a little ahead; its owner set none."""
    from dataclasses import replace

    from slurm_diag.slurm.records import EarlierRun

    run = EarlierRun("NODE_FAIL", "NODE_FAIL", "2026-12-02T11:04:00", "2026-12-02T11:04:30", ("node1",), 0, 0)
    a = pending.doc(replace(waiting("BeginTime"), earlier_runs=(run,)), [])["attribution"]
    assert "--begin" not in a["explanation"] and "holds a requeued job back" in a["explanation"]
    assert "run 1 on node1 ended NODE_FAIL at 2026-12-02T11:04:30" in a["explanation"]
    assert a["next_steps"][0].startswith("nothing to do: it starts again shortly")
    assert "--begin" in pending.doc(waiting("BeginTime"), [])["attribution"]["explanation"]
