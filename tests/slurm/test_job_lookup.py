"""Job and array lookup from what sacct and scontrol said, on output captured from the real
local cluster (tests/data/slurm/, see capture.py), with either daemon down."""

from __future__ import annotations

from dataclasses import replace

import pytest

from slurm_diag import schemas
from slurm_diag.errors import EXIT_ENVIRONMENT, EXIT_USAGE
from slurm_diag.slurm import parse
from slurm_diag.slurm.errors import JobNotFound, JobSourcesUnavailable, SlurmUnavailable
from slurm_diag.slurm.job_lookup import Answer, merge, resolve
from slurm_diag.slurm.records import Job, JobArray, Unreachable

from tests.conftest import DATA

SLURM = DATA / "slurm"
IDS = dict(line.split() for line in (SLURM / "job_ids.txt").read_text().splitlines())


def acct(name: str) -> Answer:
    return Answer(jobs=tuple(parse.sacct_jobs((SLURM / f"sacct_{name}.txt").read_text())))


def live(name: str) -> Answer:
    return Answer(jobs=tuple(parse.scontrol_job_views((SLURM / f"scontrol_{name}.txt").read_text())))


def down(daemon: str) -> Answer:
    command = "sacct" if daemon == "slurmdbd" else "scontrol"
    said = (SLURM / f"{command}_{daemon}_down.stderr").read_text().strip().splitlines()[-1]
    return Answer(unreachable=Unreachable(daemon, command, said))


def test_array_is_its_tasks_failed_first_with_states_counted():
    arr = IDS["array_failed"]
    found = resolve(arr, None, acct("array_failed"), live("array_failed"))
    assert isinstance(found, JobArray) and found.array_job_id == arr
    assert [(t.job_id, t.state, t.exit_code) for t in found.tasks] == [
        (f"{arr}_1", "FAILED", 7), (f"{arr}_2", "COMPLETED", 0), (f"{arr}_3", "COMPLETED", 0)]
    assert found.counts == {"COMPLETED": 2, "FAILED": 1} and found.finished
    assert [t.job_id for t in found.failed] == [f"{arr}_1"]
    assert found.summary == "3 tasks: 2 COMPLETED, 1 FAILED"
    assert found.sources == ("slurmdbd", "slurmctld") and not found.unreachable
    first = found.tasks[0]
    assert first.steps[0].step_id == "batch" and first.stdout  # steps from sacct, paths from slurmctld
    doc = found.to_dict()
    schemas.validate("job_array", doc)
    assert doc["summary"]["failed"] == [f"{arr}_1"] and doc["tasks"][0]["exit_code"] == 7


def test_last_task_raw_id_is_the_array_id_yet_the_id_means_the_array():
    # task 3 of the array has raw id == the array's id: the old lookup showed only that task
    arr = IDS["array_failed"]
    last = next(j for j in acct("array_failed").jobs if j.array_task_id == "3")
    assert last.job_id_raw == arr
    assert isinstance(resolve(arr, None, acct("array_failed"), live("array_failed")), JobArray)


def test_one_task_of_an_array():
    arr = IDS["array_failed"]
    task = resolve(arr, "1", acct("array_failed"), live("array_failed"))
    assert isinstance(task, Job) and (task.job_id, task.state, task.exit_code) == (f"{arr}_1", "FAILED", 7)
    schemas.validate("job", task.to_dict())


def test_missing_task_of_an_existing_array_is_bad_input():
    arr = IDS["array_failed"]
    with pytest.raises(JobNotFound, match=f"array {arr} has no task 9: its tasks are 1-3") as err:
        resolve(arr, "9", acct("array_failed"), live("array_failed"))
    assert err.value.exit_code == EXIT_USAGE and f"sdiag-agent job {arr}" in err.value.hint


def test_task_of_a_job_that_is_not_an_array_is_bad_input():
    job = IDS["failed"]
    with pytest.raises(JobNotFound, match=f"job {job} is not an array") as err:
        resolve(job, "1", acct("failed"), Answer())
    assert err.value.exit_code == EXIT_USAGE


def test_held_array_task_is_pending_with_its_reason():
    arr = IDS["array_held"]
    task = resolve(arr, "3", acct("array_held"), live("array_held"))
    assert (task.job_id, task.state, task.reason) == (f"{arr}_3", "PENDING", "JobHeldUser")
    assert not task.finished and not task.failed
    whole = resolve(arr, None, acct("array_held"), live("array_held"))
    assert [t.array_task_id for t in whole.tasks] == ["1", "2", "3", "4", "5"]
    assert whole.counts == {"PENDING": 5} and not whole.finished
    schemas.validate("job_array", whole.to_dict())


def test_pending_task_from_accounting_alone_when_slurmctld_is_down():
    # sacct prints one row for the waiting tasks (9_[1-5]); `sacct -j 9_3` alone prints nothing
    arr = IDS["array_held"]
    task = resolve(arr, "3", acct("array_held"), down("slurmctld"))
    assert (task.job_id, task.state) == (f"{arr}_3", "PENDING")
    assert [u.daemon for u in task.unreachable] == ["slurmctld"]


def test_partly_running_array_with_throttle():
    arr = IDS["array_partial"]
    whole = resolve(arr, None, acct("array_partial"), live("array_partial"))
    assert [(t.array_task_id, t.state) for t in whole.tasks] == [
        ("1", "RUNNING"), ("2", "PENDING"), ("3", "PENDING"), ("4", "PENDING")]
    assert whole.counts == {"PENDING": 3, "RUNNING": 1}
    assert whole.tasks[1].reason == "JobArrayTaskLimit"


def test_slurmdbd_down_answers_from_slurmctld_and_says_so():
    arr = IDS["array_failed"]
    found = resolve(arr, None, down("slurmdbd"), live("array_failed"))
    assert isinstance(found, JobArray) and found.sources == ("slurmctld",)
    assert [u.daemon for u in found.unreachable] == ["slurmdbd"]
    assert "Problem talking to the database" in found.unreachable[0].error
    assert (found.tasks[0].job_id, found.tasks[0].exit_code) == (f"{arr}_1", 7)
    assert found.tasks[0].steps == ()  # only accounting keeps steps
    doc = found.to_dict()
    schemas.validate("job_array", doc)
    assert doc["unreachable"] == [{"daemon": "slurmdbd", "command": "sacct",
                                   "error": "sacct: error: Problem talking to the database: Connection refused"}]


def test_slurmctld_down_answers_from_accounting_and_says_so():
    job = IDS["failed"]
    found = resolve(job, None, acct("failed"), down("slurmctld"))
    assert (found.state, found.exit_code, found.sources) == ("FAILED", 3, ("slurmdbd",))
    assert found.unreachable[0].daemon == "slurmctld" and found.stdout is None
    doc = found.to_dict()
    schemas.validate("job", doc)
    assert doc["unreachable"][0]["error"].endswith("Unable to contact slurm controller (connect failure)")


def test_both_daemons_down_could_not_check_naming_both():
    with pytest.raises(JobSourcesUnavailable) as err:
        resolve("55", None, down("slurmdbd"), down("slurmctld"), conf="/etc/slurm/slurm.conf")
    assert isinstance(err.value, SlurmUnavailable) and err.value.exit_code == EXIT_ENVIRONMENT
    assert "neither slurmdbd nor slurmctld answered" in err.value.message
    assert "start slurmdbd and slurmctld" in err.value.hint and "/etc/slurm/slurm.conf" in err.value.hint


@pytest.mark.parametrize("gone", ["slurmdbd", "slurmctld"])
def test_not_found_with_one_daemon_down_is_could_not_check(gone):
    with pytest.raises(JobSourcesUnavailable) as err:
        resolve("987654", None, down(gone) if gone == "slurmdbd" else Answer(),
                down(gone) if gone == "slurmctld" else Answer())
    assert f"{gone} did not answer" in err.value.message and "cannot tell whether it exists" in err.value.message
    assert err.value.hint.startswith(f"start {gone} ")


def test_unknown_job_with_both_daemons_answering_is_not_found():
    with pytest.raises(JobNotFound, match="job 987654 not found") as err:
        resolve("987654", None, Answer(), Answer())
    assert err.value.exit_code == EXIT_USAGE


def test_accounting_behind_slurmctld_takes_the_live_state_and_keeps_the_steps():
    arr = IDS["array_failed"]
    done = next(j for j in live("array_failed").jobs if j.array_task_id == "1")
    behind = replace(next(j for j in acct("array_failed").jobs if j.array_task_id == "1"), state="RUNNING")
    merged = merge(behind, done)
    assert (merged.job_id, merged.state, merged.exit_code) == (f"{arr}_1", "FAILED", 7)
    assert merged.steps == behind.steps and merged.sources == ("slurmctld",)  # `wait` waits on


def test_an_exit_code_accounting_has_not_recorded_yet_comes_from_slurmctld():
    # seen under load: sacct already said FAILED but still 0:0 while scontrol had the job's 3
    arr = IDS["array_failed"]
    done = next(j for j in live("array_failed").jobs if j.array_task_id == "1")
    recorded = next(j for j in acct("array_failed").jobs if j.array_task_id == "1")
    early = replace(recorded, exit_code=0, signal=0)
    merged = merge(early, done)
    assert (merged.state, merged.exit_code, merged.sources) == ("FAILED", 7, ("slurmdbd", "slurmctld"))
    assert merge(recorded, replace(done, exit_code=9)).exit_code == 7    # accounting's own code stands


def test_job_only_in_slurmctld_yet_is_shown_not_retry():
    job = next(j for j in live("job_running").jobs)
    found = resolve(job.job_id, None, Answer(), live("job_running"))
    assert found.state == "RUNNING" and found.sources == ("slurmctld",) and not found.unreachable


def test_wait_settles_only_once_accounting_has_every_finished_task():
    from slurm_diag.slurm.client import _settled

    arr = IDS["array_failed"]
    assert _settled(resolve(arr, None, acct("array_failed"), live("array_failed")))
    # accounting knows tasks 2 and 3 only (it learns of jobs seconds after slurmctld here)
    partial = Answer(jobs=tuple(j for j in acct("array_failed").jobs if j.array_task_id != "1"))
    lagging = resolve(arr, None, partial, live("array_failed"))
    assert lagging.finished and not _settled(lagging)
    assert _settled(resolve(arr, None, down("slurmdbd"), live("array_failed")))  # nothing to wait for
    assert not _settled(resolve(IDS["array_held"], None, acct("array_held"), live("array_held")))


def test_a_running_job_keeps_accountings_earlier_runs_and_a_finished_one_slurmctlds_restarts():
    requeued = acct("requeued").jobs[0]
    running = replace(live("job_running").jobs[0], job_id=requeued.job_id, restarts=1, gpus_per_task=2)
    assert merge(requeued, running).earlier_runs == requeued.earlier_runs
    assert merge(requeued, running).gpus_per_task == 2
    finished = replace(running, state="COMPLETED")
    merged = merge(requeued, finished)
    assert merged.restarts == 1 and merged.earlier_runs == requeued.earlier_runs
    assert merged.gpus_per_task == 2          # only slurmctld knows it: kept from its view


# ---------------------------------------------------------------- heterogeneous jobs

def test_a_heterogeneous_job_is_one_job_with_every_components_nodes_and_steps():
    """Captured: `#SBATCH hetjob`, component 0 on node1 runs the script, component 1's step fails on
    node2. sacct and scontrol print the components (123+0, 123+1); the job is one."""
    het = IDS["het"]
    job = resolve(het, None, acct("het"), live("het"))
    assert isinstance(job, Job) and (job.job_id, job.job_id_raw) == (het, het)
    assert [(c.job_id, c.nodes, c.mem_alloc_kb) for c in job.het_components] == [
        (f"{het}+0", ("node1",), 200 * 1024), (f"{het}+1", ("node2",), 200 * 1024)] and job.het_job_id == het
    assert job.nodes == ("node1", "node2") and (job.state, job.exit_code) == ("FAILED", 3)
    assert [s.step_id for s in job.steps] == ["batch", "0", "+1.1"]
    assert [s.kind for s in job.steps] == ["batch", "0", "1"]
    assert dict(job.alloc_tres)["mem"] == "400M" and dict(job.alloc_tres)["cpu"] == "2" and job.alloc_cpus == 2
    assert job.stdout == f"/tmp/sdiag-capture-{het}.out"          # the leader's: it ran the script
    assert job.sources == ("slurmdbd", "slurmctld")
    doc = job.to_dict()
    schemas.validate("job", doc)
    assert [c["job_id"] for c in doc["het_components"]] == [f"{het}+0", f"{het}+1"]
    from slurm_diag.slurm.hetjob import component_of, describe
    assert describe(doc["het_components"][1]) == f"{het}+1 on node2 (200 MiB) FAILED"
    assert [component_of(job, s).job_id for s in job.steps] == [f"{het}+0", f"{het}+0", f"{het}+1"]


def test_a_component_id_means_the_whole_heterogeneous_job():
    het = IDS["het"]
    assert resolve(het, "+1", acct("het"), live("het")) == resolve(het, None, acct("het"), live("het"))
    with pytest.raises(JobNotFound, match=rf"heterogeneous job {het} has no component \+2: its components "
                                          rf"are {het}\+0, {het}\+1") as err:
        resolve(het, "+2", acct("het"), live("het"))
    assert err.value.exit_code == EXIT_USAGE


def test_a_task_of_a_heterogeneous_job_is_bad_input_not_the_whole_job():
    het = IDS["het"]
    with pytest.raises(JobNotFound, match=f"job {het} is not an array, so there is no task {het}_4"):
        resolve(het, "4", acct("het"), live("het"))


def test_a_component_of_a_job_that_is_not_heterogeneous_is_bad_input():
    job = IDS["failed"]
    with pytest.raises(JobNotFound, match=rf"job {job} is not a heterogeneous job, so there is no component {job}\+1"):
        resolve(job, "+1", acct("failed"), Answer())
    arr = IDS["array_failed"]
    with pytest.raises(JobNotFound, match="not a heterogeneous job"):
        resolve(arr, "+1", acct("array_failed"), live("array_failed"))
    with pytest.raises(JobNotFound, match=r"job 99999\+1 not found"):
        resolve("99999", "+1", Answer(), Answer())


def test_a_heterogeneous_job_from_accounting_alone_when_slurmctld_is_down():
    het = IDS["het"]
    job = resolve(het, None, acct("het"), down("slurmctld"))
    assert len(job.het_components) == 2 and job.nodes == ("node1", "node2")
    assert job.sources == ("slurmdbd",) and [u.daemon for u in job.unreachable] == ["slurmctld"]


def test_the_whole_heterogeneous_job_fails_when_a_later_component_does():
    """The leader COMPLETED (its script exited 0), component 1 ran out of memory: the job's state is
    the component's, and its nodes and steps are every component's."""
    from slurm_diag.slurm import hetjob

    het = IDS["het"]
    lead, second = acct("het").jobs
    lead = replace(lead, state="COMPLETED", state_detail="COMPLETED", exit_code=0, mem_used_kb=100 * 1024)
    second = replace(second, state="OUT_OF_MEMORY", state_detail="OUT_OF_MEMORY", exit_code=0, signal=9,
                     mem_used_kb=50 * 1024)
    job = hetjob.whole(het, [second, lead])                     # in any order: the leader comes first
    # side by side: 150 MiB used of the 400 MiB the two had
    assert job.mem_used_kb == 150 * 1024 and job.mem_efficiency == 150 / 400
    assert (job.state, job.signal, job.job_id) == ("OUT_OF_MEMORY", 9, het) and job.steps[0].step_id == "batch"
    other = replace(lead, job_id="7", job_id_raw="7", het_job_id=None)
    assert [j.job_id for j in hetjob.collapse([other, second, lead])] == ["7", het]
    assert [j.job_id for j in hetjob.collapse([other, second])] == ["7", f"{het}+1"]     # no leader: as listed
