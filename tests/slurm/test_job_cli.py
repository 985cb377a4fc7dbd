"""`sdiag-agent job` refuses what is not a job id before asking Slurm: exit 2, naming the forms."""

from __future__ import annotations

import pytest

from tests.conftest import run_main


@pytest.mark.parametrize("text", ["_", ".", "1..2", "1_", "_1", "12.x", "1_[1-3]", "0", "; rm -rf /"])
@pytest.mark.parametrize("as_json", [False, True])
def test_not_a_job_id_is_bad_input(capsys, monkeypatch, tmp_path, text, as_json):
    # a slurm.conf that points nowhere: the id must be refused before any Slurm command runs
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "absent.conf"))
    code, out, err = run_main(capsys, "job", text, *(["--json"] if as_json else []))
    assert code == 2, err
    assert f"{text!r} is not a job id" in err and "1234_5 for task 5 of array 1234" in err
    assert out == "" and "Traceback" not in err

    # a step pasted from sacct's list is told its job's id, before any Slurm command runs too
    code, out, err = run_main(capsys, "job", "12.batch", *(["--json"] if as_json else []))
    assert code == 2 and "'12.batch' is a step of job 12, not a job: give the job's id, 12" in err, err


def test_long_array_lists_every_failed_task_and_caps_the_rest():
    from dataclasses import replace

    from slurm_diag.cli.job_cmd import MAX_TASK_LINES, _array_lines
    from slurm_diag.slurm import parse
    from slurm_diag.slurm.records import JobArray
    from tests.conftest import DATA

    (held,) = parse.sacct_jobs((DATA / "slurm" / "sacct_array_held.txt").read_text())
    tasks = parse.expand_array_ranges([replace(held, array_task_id="[1-120]")])
    tasks = [replace(t, state="FAILED", exit_code=1) if int(t.array_task_id) % 2 else t for t in tasks]
    rows = _array_lines(JobArray(array_job_id=held.array_job_id, tasks=tuple(tasks)))
    assert dict(rows)["summary"] == "120 tasks: 60 FAILED, 60 PENDING  (not finished)"
    listed = [value.split()[0] for key, value in rows if key == "task"]
    assert len(listed) == max(60, MAX_TASK_LINES) + 1 and listed[-1] == "..."
    assert listed[:60] == [f"{held.array_job_id}_{i}" for i in range(1, 121, 2)]  # failed first, in order
    assert rows[-1][1].startswith("... 60 more (`--json` lists every task)")


def test_a_forgotten_jobs_output_says_where_its_path_came_from():
    from slurm_diag.cli.job_cmd import _job_lines
    from slurm_diag.slurm import submission
    from slurm_diag.slurm.records import ACCOUNTING, Job

    base = dict(job_id="40", job_id_raw="40", name="train", user="ana", partition="gpu", state="FAILED",
                state_detail="FAILED", exit_code=1, signal=0, elapsed_s=60, time_limit_s=600, nodes=("node1",),
                node_list="node1", work_dir="/home/ana", sources=(ACCOUNTING,))
    shown = dict(_job_lines(Job(**base, stdout="/home/ana/out.log")))
    assert shown["stdout"] == "/home/ana/out.log"                        # slurmctld's own: nothing to add
    read = dict(_job_lines(Job(**base, stdout="/home/ana/%j.log", output_from=submission.PBS)))
    assert read["stdout"] == ("/home/ana/%j.log  (from its #PBS lines, as accounting kept the job's submission: "
                              "slurmctld has forgotten the job)")
    default = dict(_job_lines(Job(**base, stdout="/home/ana/slurm-%j.out", output_from=submission.DEFAULT)))
    assert "Slurm's default name" in default["stdout"]
    # and `job --json` promises the same in its schema, for every origin
    from slurm_diag import schemas
    for origin in (submission.SUBMIT_LINE, submission.SCRIPT, submission.ENVIRONMENT, submission.PBS,
                   submission.BSUB, submission.DEFAULT):
        schemas.validate("job", Job(**base, stdout="/home/ana/%j.log", output_from=origin).to_dict())


def test_an_arrays_tasks_that_failed_alike_print_as_slurm_writes_a_range():
    """A 300-task array printed 300 ids on one line; Slurm's own notation is 123_[0-299]."""
    from slurm_diag.cli.explain_cmd import _tasks

    assert _tasks("123", [f"123_{i}" for i in [*range(300), 301, 305]]) == "tasks 123_[0-299,301,305] (302)"
    assert _tasks("123", ["123_4"]) == "task 123_4"
    assert _tasks("123", ["123_4", "77"]) == "tasks 123_4, 77"


def test_task_ranges_are_the_inverse_of_array_tasks():
    from slurm_diag.slurm import parse

    for spec in ("1-3,7", "0-299", "5", "1,3,5-9"):
        assert parse.task_ranges(parse.array_tasks(spec)) == spec
    assert parse.task_ranges(["3", "1", "2", "x", "2"]) == "1-3"


def test_a_pending_job_shows_its_account_qos_and_the_start_slurmctld_expects():
    from slurm_diag.cli.job_cmd import _job_lines
    from slurm_diag.slurm.records import CONTROLLER, Job

    job = Job(job_id="41", job_id_raw="41", name="train", user="ana", partition="gpu", state="PENDING",
              state_detail="PENDING", exit_code=0, signal=0, elapsed_s=0, time_limit_s=600, nodes=(), node_list="",
              reason="Resources", sources=(CONTROLLER,), account="physics", qos="normal",
              expected_start="2026-12-03T09:30:00")
    shown = dict(_job_lines(job))
    assert shown["job"] == "41 (train) user ana partition gpu account physics QOS normal"
    assert shown["state"] == "PENDING  reason: Resources  expected start: 2026-12-03T09:30:00 (slurmctld's estimate)"
