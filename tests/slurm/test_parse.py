"""Parsers on output captured from the real local cluster (tests/data/slurm/, see capture.py)."""

from __future__ import annotations

import re

import pytest

from slurm_diag import schemas
from slurm_diag.slurm import parse
from slurm_diag.slurm.records import TERMINAL_STATES

from tests.conftest import DATA

SLURM = DATA / "slurm"


def jobs(name: str):
    return parse.sacct_jobs((SLURM / f"sacct_{name}.txt").read_text())


def only(name: str):
    found = jobs(name)
    assert len(found) == 1, found
    return found[0]


def test_failed_job_exit_code_and_batch_step():
    job = only("failed")
    assert (job.state, job.exit_code, job.signal) == ("FAILED", 3, 0)
    assert job.name == "exit3" and job.user == "root" and len(job.nodes) == 1 and job.nodes[0].startswith("node")
    assert [(s.step_id, s.state, s.exit_code) for s in job.steps] == [("batch", "FAILED", 3)]
    assert job.finished and job.state in TERMINAL_STATES
    schemas.validate("job", job.to_dict())


def test_timeout_job():
    job = only("timeout")
    assert job.state == "TIMEOUT"
    assert job.time_limit_s == 60 and job.elapsed_s >= 60
    assert [s.step_id for s in job.steps] == ["batch"]


def test_out_of_memory_job():
    job = only("oom")
    assert job.state == "OUT_OF_MEMORY"
    assert dict(job.alloc_tres)["mem"] == "60M"
    assert job.steps[0].state == "OUT_OF_MEMORY"


def test_cancelled_job_keeps_who_cancelled():
    job = only("cancelled")
    assert job.state == "CANCELLED" and job.state_detail == "CANCELLED by 0"


def test_node_fail_job():
    job = only("nodefail")
    assert job.state == "NODE_FAIL" and job.nodes == ("node4",)
    assert job.elapsed_s > 0


def test_array_job_tasks_ids_and_states():
    tasks = jobs("array")
    base = tasks[0].array_job_id
    assert [t.job_id for t in tasks] == [f"{base}_1", f"{base}_2", f"{base}_3"]
    assert [t.array_task_id for t in tasks] == ["1", "2", "3"]
    assert [(t.state, t.exit_code) for t in tasks] == [("COMPLETED", 0), ("FAILED", 7), ("COMPLETED", 0)]
    assert len({t.job_id_raw for t in tasks}) == 3


def test_multi_node_job_with_steps():
    job = only("steps")
    assert job.nodes == ("node1", "node2") and job.gpus == 4  # --gres=gpu:2 on each of 2 nodes
    steps = {s.step_id: s for s in job.steps}
    assert steps["0"].name == "hostname" and steps["0"].nodes == ("node1", "node2")
    assert steps["0"].state == "COMPLETED"
    assert (steps["1"].state, steps["1"].exit_code) == ("FAILED", 1)
    assert steps["0"].end and steps["0"].end <= steps["1"].end <= steps["batch"].end    # sacct's End, per step
    assert job.state == "COMPLETED"  # the batch script exited 0 although a step failed
    schemas.validate("job", job.to_dict())


def test_nodes_with_drain_reason_containing_equals():
    nodes = {n.name: n for n in parse.scontrol_nodes((SLURM / "scontrol_nodes.txt").read_text())}
    assert sorted(nodes) == ["node1", "node2", "node3", "node4"]
    node2 = nodes["node2"]
    assert node2.drained and "DRAIN" in node2.flags
    assert node2.reason == "sdiag: gpu3 clock=200 MHz (expected >= 1755)"
    assert node2.reason_user == "root" and node2.reason_time.startswith("20")
    assert node2.gpus == 8 and node2.partitions == ("debug",) and node2.cpus == 2
    for node in nodes.values():
        schemas.validate("node", node.to_dict())


def test_down_node_not_responding():
    nodes = {n.name: n for n in parse.scontrol_nodes((SLURM / "scontrol_nodes_down.txt").read_text())}
    node4 = nodes["node4"]
    assert node4.state == "DOWN" and "NOT_RESPONDING" in node4.flags and not node4.responding
    assert node4.reason == "Not responding"
    assert nodes["node1"].responding


def test_sinfo_reasons():
    reasons = parse.sinfo_reasons((SLURM / "sinfo_reasons.txt").read_text())
    got = {(r.node, r.reason, r.user, r.state) for r in reasons}
    assert ("node2", "sdiag: gpu3 clock=200 MHz (expected >= 1755)", "root", "drained") in got
    assert all(r.reason for r in reasons) and {r.node for r in reasons} <= {"node1", "node2", "node3", "node4"}


def test_scontrol_job_running_and_array():
    rec = parse.scontrol_job((SLURM / "scontrol_job_running.txt").read_text())
    assert rec["JobName"] == "to-cancel" and rec["JobState"] == "RUNNING"
    assert rec["StdOut"].startswith("/tmp/sdiag-capture-") and rec["WorkDir"] == "/tmp"
    tasks = parse.scontrol_jobs((SLURM / "scontrol_job_array.txt").read_text())
    assert len(tasks) == 3 and {t["ArrayJobId"] for t in tasks} == {tasks[0]["ArrayJobId"]}


@pytest.mark.parametrize("text,seconds", [
    ("00:00:05", 5), ("01:02:03", 3723), ("1-00:00:01", 86401), ("05:30", 330),
    ("UNLIMITED", None), ("Partition_Limit", None), ("", None),
])
def test_duration(text, seconds):
    assert parse.duration_s(text) == seconds


@pytest.mark.parametrize("text,names", [
    ("node[1-3,5]", ("node1", "node2", "node3", "node5")),
    ("gpu[08-10],login1", ("gpu08", "gpu09", "gpu10", "login1")),
    ("None assigned", ()),
    ("node4", ("node4",)),
    ("r[1-2]n[01-02]", ("r1n01", "r1n02", "r2n01", "r2n02")),
])
def test_hostlist(text, names):
    assert parse.hostlist(text) == names


def test_exit_code_and_sizes():
    assert parse.exit_code("0:9") == (0, 9)
    assert parse.size_kb("2960K") == 2960 and parse.size_kb("1.5M") == 1536 and parse.size_kb("") is None
    with pytest.raises(parse.ParseError, match="CODE:SIGNAL"):
        parse.exit_code("garbage")


def test_truncated_sacct_output_is_a_parse_error():
    line = (SLURM / "sacct_failed.txt").read_text().splitlines()[0]
    with pytest.raises(parse.ParseError, match=f"expected {len(parse.SACCT_FIELDS)} fields, found"):
        parse.sacct_jobs(line[: len(line) // 2])


def test_sbatch_job_id():
    assert parse.sbatch_job_id("123\n") == "123" and parse.sbatch_job_id("77;sdiag") == "77"
    with pytest.raises(parse.ParseError):
        parse.sbatch_job_id("sbatch: error: Batch job submission failed")


@pytest.mark.parametrize("text,parsed", [
    ("1234", ("1234", None)), ("1234_5", ("1234", "5")), (" 77 ", ("77", None)), ("007_01", ("7", "1")),
    ("1234+1", ("1234", "+1")), ("1234+00", ("1234", "+0")),
])
def test_job_id(text, parsed):
    assert parse.job_id(text) == parsed


@pytest.mark.parametrize("text", ["", "_", ".", "1..2", "1_", "_1", "1_[1-3]", "0", "-1", "1 2",
                                  "1+", "+1", "1+1_2", "1_2+1", "0.batch", "12.x"])
def test_not_a_job_id(text):
    with pytest.raises(parse.ParseError, match="1234_5 for task 5 of array 1234"):
        parse.job_id(text)


@pytest.mark.parametrize("text,job", [("12.batch", "12"), ("12.0", "12"), ("12_3.extern", "12_3"),
                                      ("12+1.0", "12+1"), ("12.interactive", "12")])
def test_a_step_id_is_refused_with_its_jobs_id(text, job):
    """sacct lists steps (12.batch, 12.0) under their job: one pasted from there is told the job's id."""
    with pytest.raises(parse.ParseError, match=rf"is a step of job {re.escape(job)}, not a job: give the job's id"):
        parse.job_id(text)


@pytest.mark.parametrize("spec,tasks", [
    ("[1-5]", ["1", "2", "3", "4", "5"]), ("1,3,5", ["1", "3", "5"]), ("[2-4%1]", ["2", "3", "4"]),
    ("1-9:4", ["1", "5", "9"]), ("7", ["7"]),
])
def test_array_tasks(spec, tasks):
    assert parse.array_tasks(spec) == tasks


def test_held_array_row_becomes_one_job_per_task():
    rows = jobs("array_held")
    assert [r.job_id for r in rows] == [f"{rows[0].array_job_id}_[1-5]"]
    tasks = parse.expand_array_ranges(rows)
    assert [t.array_task_id for t in tasks] == ["1", "2", "3", "4", "5"]
    assert {t.state for t in tasks} == {"PENDING"} and tasks[0].node_list == "" and tasks[0].nodes == ()


def test_scontrol_views_of_an_array_and_its_waiting_tasks():
    views = parse.scontrol_job_views((SLURM / "scontrol_array_partial.txt").read_text())
    arr = views[0].array_job_id
    assert sorted((v.job_id, v.state) for v in views) == [
        (f"{arr}_1", "RUNNING"), (f"{arr}_2", "PENDING"), (f"{arr}_3", "PENDING"), (f"{arr}_4", "PENDING")]
    running = next(v for v in views if v.state == "RUNNING")
    assert running.nodes and running.stdout and running.sources == ("slurmctld",) and running.end is None
    waiting = next(v for v in views if v.array_task_id == "2")
    assert waiting.stdout is None  # %j of a task that has not started is not known yet
    assert waiting.reason == "JobArrayTaskLimit" and waiting.start is None
    assert waiting.account == "root" and waiting.qos == "normal" and waiting.expected_start is None  # Unknown


def test_a_pending_jobs_start_time_to_come_is_the_schedulers_estimate_and_one_gone_by_is_not():
    from datetime import datetime, timedelta

    line = (SLURM / "scontrol_array_held.txt").read_text().splitlines()[0]
    ahead = (datetime.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
    view = parse.scontrol_job_views(line.replace("StartTime=Unknown", f"StartTime={ahead}"))[0]
    assert view.state == "PENDING" and view.expected_start == ahead and view.start is None
    gone = parse.scontrol_job_views(line.replace("StartTime=Unknown", "StartTime=2026-01-01T00:00:00"))[0]
    assert gone.expected_start is None


def test_scontrol_view_of_a_finished_task_has_exit_code_and_user():
    views = parse.scontrol_job_views((SLURM / "scontrol_array_failed.txt").read_text())
    failed = next(v for v in views if v.array_task_id == "1")
    assert (failed.state, failed.exit_code, failed.user, failed.reason) == ("FAILED", 7, "root", "NonZeroExitCode")
    assert failed.end and failed.elapsed_s is not None


def test_efficiency_the_way_seff_counts_it():
    """Memory used is the largest step's task peaks summed (TRESUsageInTot), CPU time every step's."""
    fields = dict.fromkeys(parse.SACCT_FIELDS, "")
    def row(**kw):
        return parse.SEP.join({**fields, **kw}[f] for f in parse.SACCT_FIELDS)
    text = "\n".join([
        row(JobID="9", JobIDRaw="9", JobName="t", State="COMPLETED", ExitCode="0:0", Elapsed="00:01:40",
            NodeList="node[1-2]", AllocTRES="cpu=4,mem=8G,node=2", AllocCPUS="4", TotalCPU="03:20.000"),
        row(JobID="9.batch", JobIDRaw="9.batch", JobName="batch", State="COMPLETED", ExitCode="0:0",
            Elapsed="00:01:40", NodeList="node1", MaxRSS="1024K", TRESUsageInTot="cpu=00:00:10,mem=1M",
            TotalCPU="00:10.000"),
        row(JobID="9.0", JobIDRaw="9.0", JobName="python", State="COMPLETED", ExitCode="0:0", Elapsed="00:01:30",
            NodeList="node[1-2]", MaxRSS="1G", TRESUsageInTot="cpu=00:03:10,mem=2G", TotalCPU="03:10.000"),
    ])
    [job] = parse.sacct_jobs(text)
    assert job.mem_used_kb == 2 * 1024 * 1024 and job.max_rss_kb == 1024 * 1024
    assert job.total_cpu_s == 200.0 and job.alloc_cpus == 4
    assert job.polled_cpu_s == 200.0           # the same time as accounting polled it (TRESUsageInTot cpu)
    assert job.mem_efficiency == 0.25 and job.cpu_efficiency == 0.5
    schemas.validate("job", job.to_dict())


def test_gpus_are_counted_from_typed_tres_where_a_site_accounts_only_those():
    from slurm_diag.slurm.records import Job

    def with_tres(*pairs):
        return Job("1", "1", "t", "u", "p", "FAILED", "FAILED", 1, 0, 10, 60, ("n1",), "n1", alloc_tres=pairs)
    assert with_tres(("gres/gpu", "2"), ("gres/gpu:a100", "2")).gpus == 2
    assert with_tres(("cpu", "8"), ("gres/gpu:a100", "2"), ("gres/gpu:h100", "1")).gpus == 3
    assert with_tres(("cpu", "8")).gpus == 0


def test_a_requeued_job_is_its_last_run_with_the_earlier_ones_oldest_first():
    """Captured: a requeueable job whose node's slurmd was killed (NODE_FAIL), run again elsewhere."""
    job = only("requeued")
    assert job.state == "COMPLETED" and [s.state for s in job.steps] == ["COMPLETED"]
    (run,) = job.earlier_runs
    assert run.state == "NODE_FAIL" and run.end and run.nodes and run.nodes != job.nodes
    schemas.validate("job", job.to_dict())


def test_a_job_id_slurm_reused_after_a_reset_is_not_an_earlier_run():
    """The same id, but the older record ended long before the newer was queued: another job."""
    text = (SLURM / "sacct_requeued.txt").read_text().splitlines()
    older = [line.replace("2026-12-02T", "2026-10-02T") for line in text[:2]]      # two months before
    job = parse.sacct_jobs("\n".join(older + text[2:]) + "\n")[0]
    assert job.state == "COMPLETED" and job.earlier_runs == ()


def test_a_finished_job_requeued_minutes_later_keeps_its_earlier_run_and_another_users_record_does_not_count():
    """`scontrol requeue` works on a finished job while slurmctld remembers it (MinJobAge, 300 s by
    default): the run ended minutes before the job was queued again. An hour before, or another
    user's record, is another job that had the id."""
    from datetime import datetime, timedelta

    first, *rest = (SLURM / "sacct_requeued.txt").read_text().splitlines()
    ended = first.split(parse.SEP)[parse.SACCT_FIELDS.index("End")]

    def runs(row: str):
        return parse.sacct_jobs("\n".join([row, *rest]) + "\n")[0].earlier_runs

    def ended_before(minutes: int) -> str:
        return first.replace(ended, (datetime.fromisoformat(ended) - timedelta(minutes=minutes)).isoformat())

    assert runs(first) and runs(ended_before(5))
    assert not runs(ended_before(60))
    assert not runs(first.replace(f"{parse.SEP}root{parse.SEP}", f"{parse.SEP}ana{parse.SEP}", 1))


def test_slurmctld_counts_restarts():
    (job,) = parse.scontrol_job_views((SLURM / "scontrol_job_running.txt").read_text())
    assert job.restarts == 0 and job.gpus_per_task is None


def test_gpus_per_task_as_slurmctld_prints_them():
    """22.05's scontrol prints --gpus-per-task=1 as TresPerTask=gres:gpu:1, as the local cluster showed;
    the field is appended here to a captured record of a job that asked for none."""
    text = (SLURM / "scontrol_job_running.txt").read_text().rstrip("\n") + " TresPerTask=gres:gpu:1\n"
    (job,) = parse.scontrol_job_views(text)
    assert job.gpus_per_task == 1
    assert [parse.per_task_gpus(t) for t in ("cpu=2,gres/gpu:a100:2", "gres:gpu:4", "cpu=4", "")] == [2, 4, None, None]


def test_a_job_whose_owner_lost_their_account_has_no_owner_name():
    """Seen on the local cluster: a job of a user deleted after submitting shows `UserId=nobody(1003)`
    in scontrol. Taking "nobody" would let the real nobody see the job, and read its files as nobody."""
    import pwd

    nobody = pwd.getpwnam("nobody").pw_uid
    assert parse.job_owner("ana(1001)") == "ana"
    assert parse.job_owner("nobody(1003)") == ""
    assert parse.job_owner(f"nobody({nobody})") == "nobody"
    assert parse.job_owner("") == ""
