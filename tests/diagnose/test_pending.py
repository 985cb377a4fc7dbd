"""A job that has not started: Slurm's pending reason in words, whether it can ever start as asked,
and the step its owner can take, with the job's own id."""

from __future__ import annotations

from pathlib import Path

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
    ("ReqNodeNotAvail, UnavailableNodes:node3", "unknown", "wait (`sinfo -R -n node3` shows why"),
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


# --- every reason Slurm 22.05 gives, read from its job_reason_string() -------------------------------

REASONS_22_05 = [line.strip() for line in
                 (Path(__file__).parents[1] / "data/slurm/job_reasons_22.05.txt").read_text().splitlines()
                 if line.strip() and not line.startswith("#")]
# reasons of a job that ended, or of hardware Slurm no longer runs on (BlueGene blocks, federations)
NOT_PENDING = {"SystemFailure", "JobLaunchFailure", "NonZeroExitCode", "TimeLimit", "InactiveLimit",
               "OutOfMemory", "BlockMaxError", "BlockFreeAction", "FedJobLock", "DeadLine"}


def limited(reason: str, **kw) -> dict:
    from dataclasses import replace

    return pending.doc(replace(waiting(reason), account="physics", qos="normal", **kw), [])["attribution"]


def test_every_reason_slurm_gives_a_waiting_job_is_said_in_words():
    assert len(REASONS_22_05) > 190 and "QOSMaxWallDurationPerJobLimit" in REASONS_22_05
    for reason in REASONS_22_05:
        a = limited(reason)
        said = a["explanation"].removeprefix("the job is pending: ")
        assert not said.startswith("Slurm says") or reason in NOT_PENDING, reason
        never = ("will never start" in said and "if " not in said) or "cannot start with the --time it asked" in said
        assert never == (a["label"] == "scheduler"), reason
        assert "{" not in a["next_steps"][0] and "{" not in said, reason


@pytest.mark.parametrize("reason,starts,says,step", [
    # the job itself asks more than one job may: it never starts as it is
    ("QOSMaxWallDurationPerJobLimit", False, "its --time is longer than the QOS normal allows one job",
     "scontrol update JobId=812 TimeLimit="),
    ("AssocMaxCpuPerJobLimit", False, "more CPUs than your association in account physics allows one job",
     "scancel 812 and resubmit asking for fewer CPUs"),
    ("AssocMaxMemPerNode", False, "more memory than your association in account physics allows one job on each node",
     "scancel 812 and resubmit asking for less memory per node"),
    ("QOSMaxGRESPerNode", False, "more GPUs (or other GRES) than the QOS normal allows one job on each node",
     "scancel 812 and resubmit asking for fewer GPUs (or other GRES) per node"),
    ("QOSMaxCpuMinutesPerJobLimit", False, "more CPU-minutes (what it asks times its --time)",
     "scontrol update JobId=812 TimeLimit=... shorter"),
    ("QOSMinGRES", False, "fewer GPUs (or other GRES) than the QOS normal requires of each job",
     "scancel 812 and resubmit asking for at least the minimum"),
    # an allocation of minutes used up: only an administrator or time changes it
    ("AssocGrpCPUMinutesLimit", False, "the jobs under account physics (or an account above it) have used up its "
                                       "allocation of CPU-minutes, or too little of it is left for this job's --time",
     "a shorter time limit may start it now (scontrol update JobId=812 TimeLimit=...); for more, ask your PI"),
    ("QOSGrpWallLimit", False, "the jobs under the QOS normal have used up its allocation of wall time",
     "a shorter time limit may start it now"),
    # other jobs hold the limit now: it starts when they end
    ("QOSMaxJobsPerUserLimit", True, "you already have as many jobs at once as the QOS normal allows a user",
     "nothing to do: it starts when some of them end"),
    ("AssocMaxJobsLimit", True, "you already have as many jobs at once", "nothing to do"),
    ("MaxGRESPerAccount", True, "your account's running jobs already hold as many GPUs (or other GRES) as the QOS "
                                "normal allows an account; if this job alone asks for more than the limit, it will "
                                "never start: ask for fewer GPUs", "nothing to do"),
    ("QOSMaxSubmitJobPerUserLimit", True, "you already have as many jobs queued and running", "nothing to do"),
    ("QOSGrpJobsLimit", True, "the jobs under the QOS normal together already number as many jobs at once",
     "nothing to do"),
    ("QOSGrpSubmitJobsLimit", True, "already number as many jobs queued and running", "nothing to do"),
    ("AssocGrpGRES", True, "the running jobs under account physics (or an account above it) together already hold as "
                           "many GPUs (or other GRES) as its limit allows", "nothing to do"),
    ("AssocGrpMemLimit", True, "already hold as much memory as its limit allows; if this job alone asks for more "
                               "than the limit, it will never start: ask for less memory", "nothing to do"),
    ("AssocGrpCPURunMinutesLimit", True, "still have as many CPU-minutes to run as its limit allows",
     "nothing to do: it starts as they run down, sooner with a shorter time limit"),
])
def test_an_accounting_limit_says_whose_it_is_what_it_limits_and_whether_the_job_can_start(reason, starts, says, step):
    a = limited(reason)
    assert says in a["explanation"] and a["next_steps"][0].startswith(step)
    assert (a["label"] == "unknown") == starts
    show = ("flags=qos qos=normal" if "QOS" in reason or reason.endswith("PerAccount") else
            "flags=assoc users=$USER accounts=physics")
    assert f"`scontrol show assoc_mgr {show}`" in a["next_steps"][0]


def test_a_sentence_slurmctld_sets_in_place_of_a_reason_is_read_as_the_reason_it_stands_for():
    """scontrol prints slurmctld's state_desc with underscores for its spaces (22.05 job_info.c)."""
    a = limited("Nodes_required_for_job_are_DOWN,_DRAINED_or_reserved_for_jobs_in_higher_priority_partitions")
    assert a["label"] == "unknown" and "the others are down, drained, or kept for jobs" in a["explanation"]
    assert "`sinfo -p gpu`" in a["next_steps"][0]
    deleted = limited("Reservation_maint_12_was_deleted")          # not "it waits for its reservation"
    assert "was deleted, and Slurm holds it" in deleted["explanation"]
    assert deleted["next_steps"][0].endswith("scontrol release 812, to run without it")
    assert "waits for its reservation" in limited("Reservation")["explanation"]


def test_the_nodes_slurm_names_unavailable_are_the_ones_to_look_at():
    step = limited("ReqNodeNotAvail,_UnavailableNodes:node[3-4]")["next_steps"][0]
    assert step.startswith("wait (`sinfo -R -n node[3-4]` shows why those are not available), or, if the job named "
                           "them (-w), scontrol update JobId=812 ReqNodeList=")
    assert limited("ReqNodeNotAvail,_UnavailableNodes:")["next_steps"][0].startswith("wait, or, if the job named")
    a = limited("ReqNodeNotAvail,_Reserved_for_maintenance")
    assert "run into a maintenance reservation" in a["explanation"] and "TimeLimit=" in a["next_steps"][0]


def test_without_the_jobs_qos_the_limit_is_its_qoss():
    a = pending.doc(waiting("QOSMaxWallDurationPerJobLimit"), [])["attribution"]
    assert "longer than its QOS allows" in a["explanation"] and "qos=QOS`" in a["next_steps"][0]


def test_an_array_tasks_throttle_is_raised_on_the_array():
    from dataclasses import replace

    task = replace(waiting("JobArrayTaskLimit"), job_id="812_3", array_job_id="812", array_task_id="3")
    a = pending.doc(task, [])["attribution"]
    assert "throttle" in a["explanation"] and a["next_steps"][0].endswith("scontrol update JobId=812 ArrayTaskThrottle=N")


@pytest.mark.parametrize("state,says", [
    ("SUSPENDED", "it was suspended"), ("COMPLETING", "it is ending and Slurm is releasing its nodes"),
    ("REQUEUE_HOLD", "it was requeued and is held"), ("CONFIGURING", "its nodes are being made ready"),
])
def test_a_job_neither_waiting_running_nor_ended_is_told_by_its_state(state, says):
    from dataclasses import replace

    a = pending.doc(replace(waiting("None"), state=state, state_detail=state), [])["attribution"]
    shown = f"the job's state is {state}" if "_" in state else f"the job is {state.lower()}"
    assert a["explanation"].startswith(f"{shown}: {says}") and "just submitted" not in a["explanation"]
    assert "{" not in a["next_steps"][0]
    assert "just submitted" in pending.doc(waiting("None"), [])["attribution"]["explanation"]


def test_the_schedulers_estimate_of_its_start_is_told_while_it_can_start():
    from dataclasses import replace

    a = pending.doc(replace(waiting("Resources"), expected_start="2026-12-03T09:30:00"), [])["attribution"]
    assert "Slurm expects to start it at 2026-12-03T09:30:00" in a["explanation"]
    never = pending.doc(replace(waiting("BadConstraints"), expected_start="2026-12-03T09:30:00"), [])["attribution"]
    assert "expects" not in never["explanation"]
    for reason in ("JobHeldUser", "job requeued in held state", "JobHoldMaxRequeue"):     # starts once released
        held = pending.doc(replace(waiting(reason), expected_start="2026-12-03T09:30:00"), [])["attribution"]
        assert "expects" not in held["explanation"], reason


def test_a_job_ending_says_how_it_is_ending_and_is_not_called_unfailed():
    from dataclasses import replace

    a = pending.doc(replace(waiting("NonZeroExitCode"), state="COMPLETING", state_detail="COMPLETING"), [])
    assert a["attribution"]["explanation"] == ("the job is completing: it is ending and Slurm is releasing its nodes "
                                               "(their epilog runs) (Slurm's reason: NonZeroExitCode)")
    assert a["attribution"]["next_steps"] == ["explain it again in a moment, once it has ended (sdiag-agent explain 812)"]
    held = pending.doc(replace(waiting("Reservation_maint_was_deleted"), state="RESV_DEL_HOLD"), [])["attribution"]
    assert held["explanation"].startswith("the job's state is RESV_DEL_HOLD: the reservation it was to run in was "
                                          "deleted")
    assert held["next_steps"][0].endswith("scontrol release 812, or scancel 812")


def test_the_text_of_a_job_still_ending_does_not_say_it_did_not_fail(capsys):
    from dataclasses import replace

    from slurm_diag.cli.explain_cmd import _job_summary, render

    for state, line in [("COMPLETING", "Why: still ending, not explained yet"), ("PENDING", "Why: pending, not failed"),
                        ("REQUEUE_HOLD", "Why: REQUEUE_HOLD, not failed")]:
        job = replace(waiting("None"), state=state, state_detail=state)
        doc = pending.doc(job, [])
        doc["job"] = _job_summary(job)
        render(doc)
        assert line in capsys.readouterr().out
