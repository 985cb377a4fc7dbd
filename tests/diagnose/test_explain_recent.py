"""`explain --since` over the fake Slurm client: which jobs it lists (the caller's, ended badly, in the
window, not slurm-diag's own), in what order, how many, and what it refuses. The same command runs
against the real cluster as an ordinary user in test_explain_users.py."""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from slurm_diag import schemas
from slurm_diag.errors import EXIT_REFUSED
from slurm_diag.slurm.fake import FakeSlurmClient
from slurm_diag.slurm.records import Job, JobStep
from tests.conftest import run_main

ME = pwd.getpwuid(os.getuid()).pw_name
NOW = datetime.now().astimezone()


def ended(job_id: str, hours_ago: float, state="FAILED", exit_code=1, user=ME, name="train", tmp=None) -> Job:
    end = NOW - timedelta(hours=hours_ago)
    out = None
    if tmp is not None:
        out = tmp / f"slurm-{job_id}.out"
        out.write_text("Traceback (most recent call last):\n  File \"t.py\", line 1, in <module>\n"
                       "KeyError: 'lr'\n" if state == "FAILED" else "epoch 3\n")
    return Job(job_id=job_id, job_id_raw=job_id, name=name, user=user, partition="gpu", state=state,
               state_detail=state, exit_code=exit_code, signal=0, elapsed_s=60, time_limit_s=3600,
               nodes=("node1",), node_list="node1", start=(end - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S"),
               end=end.strftime("%Y-%m-%dT%H:%M:%S"), stdout=str(out) if out else None)


@pytest.fixture()
def fake(tmp_path, monkeypatch):
    shared = tempfile.TemporaryDirectory(dir="/tmp")       # another user's log: where that user can read it
    os.chmod(shared.name, 0o755)
    monkeypatch.setenv("SDIAG_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SDIAG_CONFIG", raising=False)
    client = FakeSlurmClient(["node1"])
    client.jobs.update({j.job_id: j for j in (
        ended("11", 1, tmp=tmp_path),                                   # the newest
        ended("12", 2, state="TIMEOUT", exit_code=0, tmp=tmp_path),
        ended("13", 3, state="COMPLETED", exit_code=0, tmp=tmp_path),   # ended well
        dataclasses.replace(ended("17", 4, state="COMPLETED", exit_code=0, tmp=tmp_path),   # ... but a step did not
                            steps=(JobStep("0", "python", "OUT_OF_MEMORY", 0, 0, 30, ("node1",)),)),
        ended("14", 72, tmp=tmp_path),                                  # before the window
        ended("15", 1, name="sdiag-gemm", tmp=tmp_path),                # slurm-diag's name: left out of --all
        ended("16", 1, user="nobody", tmp=Path(shared.name)),     # another user's
    )})
    import slurm_diag.slurm

    monkeypatch.setattr(slurm_diag.slurm, "default_client", lambda cfg=None: client)
    yield client
    shared.cleanup()


def test_the_callers_jobs_that_ended_badly_in_the_window_newest_first(fake, capsys):
    code, out, err = run_main(capsys, "explain", "--since", "1d", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert not schemas.output_errors("explain_recent", doc)
    assert [row["job"]["job_id"] for row in doc["jobs"]] == ["11", "15", "12", "17"]
    labels = [row["attribution"]["label"] for row in doc["jobs"]]
    assert labels == ["user_code", "user_code", "time_limit", "host_oom"] and doc["user"] == ME   # 17: its step's OOM
    assert doc["counts"] == {"user_code": 2, "time_limit": 1, "host_oom": 1} and doc["not_shown"] == 0
    code, out, _ = run_main(capsys, "explain", "--since", "1d", "--limit", "1")
    assert code == 0 and "; 3 older ones not shown (--limit)" in out and "\n  11 " in out
    assert "user_code (your job)" in out and "By cause: user_code 1" in out


def test_a_window_with_nothing_in_it_says_so(fake, capsys):
    code, out, _ = run_main(capsys, "explain", "--since", "10m")
    assert code == 0 and out.startswith(f"No job of {ME} ended badly")


def test_every_users_jobs_are_an_administrators_to_list(fake, capsys, monkeypatch):
    from slurm_diag import identity

    code, out, _ = run_main(capsys, "explain", "--since", "1d", "--all", "--json")
    if os.getuid() == 0:                        # root may: the other user's job is listed too
        assert code == 0 and "16" in {row["job"]["job_id"] for row in json.loads(out)["jobs"]}
    monkeypatch.setattr(identity.Access, "privileged", lambda self, caller: False)
    for args in (("--all",), ("--user", "nobody")):
        code, out, err = run_main(capsys, "explain", "--since", "1d", *args)
        assert code == EXIT_REFUSED and out == "" and "only your own jobs" in err, err
    code, _, err = run_main(capsys, "explain", "--since", "1d", "--user", ME)
    assert code == 0, err


def test_another_users_job_is_never_listed_even_if_accounting_returned_it(fake, capsys):
    """sacct's -u picks the user; the rows are checked again, so a job of someone else's that came
    back anyway (here: a client that ignores the user) is not shown."""
    every = list(fake.jobs.values())
    fake.list_jobs = lambda start, end, states=(), *, name=None, user=None: [j for j in every if j.state in states]
    code, out, err = run_main(capsys, "explain", "--since", "1d", "--json")
    assert code == 0, err
    assert {row["job"]["user"] for row in json.loads(out)["jobs"]} == {ME}


def test_an_administrator_listing_someone_elses_jobs_is_not_told_they_are_theirs(fake, capsys, monkeypatch):
    from slurm_diag import identity

    monkeypatch.setattr(identity.Access, "privileged", lambda self, caller: True)      # an approver, say
    code, out, err = run_main(capsys, "explain", "--since", "1d", "--user", "nobody")
    assert code == 0 and "1 of nobody's jobs ended badly" in out, err
    assert "user_code (the job's own)" in out and "(your job)" not in out
    code, out, _ = run_main(capsys, "explain", "--since", "1d", "--all", "--json")
    assert "15" not in {row["job"]["job_id"] for row in json.loads(out)["jobs"]}       # slurm-diag's own name
    code, out, err = run_main(capsys, "explain", "--since", "1d", "--user", "no-such-user-here")
    assert (code, out) == (2, "") and "--user: no user 'no-such-user-here' on this machine" in err


def test_an_arrays_tasks_that_failed_alike_share_one_row(fake, capsys, tmp_path):
    """Three tasks of array 20 raised the same error and a fourth timed out: two rows, the first
    standing for the three; the counts still count every task."""
    for task, state in (("1", "FAILED"), ("2", "FAILED"), ("3", "FAILED"), ("4", "TIMEOUT")):
        j = ended(f"20_{task}", 5 + int(task) / 100, state=state, exit_code=1 if state == "FAILED" else 0, tmp=tmp_path)
        fake.jobs[j.job_id] = dataclasses.replace(j, job_id_raw=f"20{task}", array_job_id="20", array_task_id=task)
    code, out, err = run_main(capsys, "explain", "--since", "1d", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert not schemas.output_errors("explain_recent", doc)
    arrays = [row["job"] for row in doc["jobs"] if row["job"]["job_id"].startswith("20_")]
    assert [(j["job_id"], j["tasks"]) for j in arrays] == [("20_1", ["20_1", "20_2", "20_3"]), ("20_4", ["20_4"])]
    assert doc["counts"]["user_code"] == 2 + 3 and doc["counts"]["time_limit"] == 2
    code, out, _ = run_main(capsys, "explain", "--since", "1d")
    assert "\n  20_1 +2 " in out and "ID +N: an array task and N more" in out and out.startswith("8 of ")


def test_one_jobs_explanation_names_the_file_it_read(fake, capsys, tmp_path):
    code, out, err = run_main(capsys, "explain", "11")
    assert code == 0, err
    assert f"Output: {tmp_path}/slurm-11.out\n" in out
    code, out, err = run_main(capsys, "explain", "11", "--json")
    job = json.loads(out)["job"]
    assert job["output"] == [{"stream": "stdout", "path": f"{tmp_path}/slurm-11.out"}] and job["output_from"] is None
    # a job that never started wrote no file, and none is named
    fake.jobs["18"] = dataclasses.replace(ended("18", 1, state="CANCELLED", exit_code=0), start=None, nodes=(),
                                          node_list="", work_dir=str(tmp_path))
    code, out, err = run_main(capsys, "explain", "18", "--json")
    assert code == 0 and json.loads(out)["job"]["output"] == [], err


def test_forgotten_jobs_are_asked_for_their_paths_at_once_and_only_the_remembered_ones_one_by_one(
        fake, capsys, tmp_path):
    """One squeue tells which jobs slurmctld still holds: those are looked up one by one (it has
    their paths); the paths of the forgotten ones, from what accounting kept of their submission, are
    asked for all of them in one call."""
    from slurm_diag.slurm import submission
    from slurm_diag.slurm.records import ACCOUNTING, CONTROLLER

    for job_id in ("11", "12"):                               # forgotten: accounting's rows, no path
        fake.jobs[job_id] = dataclasses.replace(fake.jobs[job_id], stdout=None, sources=(ACCOUNTING,),
                                                work_dir=str(tmp_path))
        fake.requests[job_id] = submission.request(f"sbatch -o slurm-{job_id}.out run.sh", None, None)
    fake.jobs["17"] = dataclasses.replace(fake.jobs["17"], sources=(ACCOUNTING, CONTROLLER))
    fake.calls.clear()
    code, out, err = run_main(capsys, "explain", "--since", "1d", "--json")
    assert code == 0, err
    rows = {row["job"]["job_id"]: row["attribution"] for row in json.loads(out)["jobs"]}
    assert rows["11"]["label"] == "user_code" and rows["12"]["label"] == "time_limit"
    asked = [c for c in fake.calls if c[0] in ("get_job", "job_requests", "job_request", "remembered",
                                                "accounting_jobs")]
    assert asked[0] == ("remembered", ("11", "15", "12", "17"))
    assert asked[1] == ("accounting_jobs", ("11", "12"))       # every run of each, all at once
    assert sorted(c for c in asked[1:] if c[0] == "get_job") == [("get_job", ("15",)), ("get_job", ("17",))]
    assert [c for c in asked if c[0].startswith("job_request")] == [("job_requests", ("11", "12"))]


def test_a_large_array_reads_a_few_tasks_of_each_ending_and_counts_the_rest(fake, capsys, tmp_path, monkeypatch):
    """Tasks that ended alike in accounting (state, exit code, signal, failed step) are read up to
    ARRAY_READ_PER_KIND; the others are listed as not read, by kind, with the command that reads one."""
    from slurm_diag.cli import explain_cmd
    from slurm_diag.slurm.records import JobArray

    monkeypatch.setattr(explain_cmd, "ARRAY_READ_PER_KIND", 4)
    tasks = []
    for n in range(12):
        state, code = ("TIMEOUT", 0) if n >= 10 else ("FAILED", 1)
        j = ended(f"30_{n}", 2, state=state, exit_code=code, tmp=tmp_path)
        tasks.append(dataclasses.replace(j, job_id_raw=str(300 + n), array_job_id="30", array_task_id=str(n)))
    fake.jobs["30"] = JobArray(array_job_id="30", tasks=tuple(tasks))
    code, out, err = run_main(capsys, "explain", "30", "--json")
    assert code == 0, err
    arr = json.loads(out)["array"]
    assert not schemas.output_errors("explain", json.loads(out))
    assert [(f["attribution"]["label"], f["tasks"]) for f in arr["failures"]] == [
        ("user_code", ["30_0", "30_1", "30_2", "30_3"]), ("time_limit", ["30_10", "30_11"])]
    assert arr["unread"] == [{"tasks": [f"30_{n}" for n in range(4, 10)], "state": "FAILED", "exit_code": 1,
                              "signal": 0}]
    code, out, err = run_main(capsys, "explain", "30")
    assert ("  tasks 30_[4-9] (6): not read (they ended FAILED, exit code 1, as the first 4 that did, read above; "
            "`sdiag-agent explain 30_4` reads one)") in out
