"""`explain --pending` over the fake Slurm client: the caller's jobs that wait, grouped by what keeps
them waiting, those that will never start as asked first; another user's never shown; --all an
administrator's. The same command runs on the real cluster in test_cluster_explain.py."""

from __future__ import annotations

import json
import os
import pwd
from dataclasses import replace

import pytest

from slurm_diag import schemas
from slurm_diag.errors import EXIT_REFUSED, EXIT_USAGE
from slurm_diag.slurm import parse
from slurm_diag.slurm.fake import FakeSlurmClient
from slurm_diag.slurm.records import Job
from tests.conftest import run_main

ME = pwd.getpwuid(os.getuid()).pw_name


def waiting(job_id: str, reason: str, user=ME, state="PENDING") -> Job:
    return Job(job_id=job_id, job_id_raw=job_id, name="train", user=user, partition="gpu", state=state,
               state_detail=state, exit_code=0, signal=0, elapsed_s=0, time_limit_s=3600, nodes=(), node_list="",
               reason=reason, account="physics", qos="normal")


@pytest.fixture()
def fake(tmp_path, monkeypatch):
    monkeypatch.setenv("SDIAG_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SDIAG_CONFIG", raising=False)
    client = FakeSlurmClient(["node1"])
    client.jobs.update({j.job_id: j for j in (
        waiting("21", "Priority"), waiting("22", "Priority"), waiting("23", "Priority"),
        waiting("24", "DependencyNeverSatisfied"),                       # never starts: listed first
        waiting("25", "QOSMaxJobsPerUserLimit"),
        waiting("26", "None", state="SUSPENDED"),
        waiting("27", "Priority", user="nobody"),                        # another user's
        replace(waiting("28", "None"), state="RUNNING", state_detail="RUNNING"),   # runs: not listed
    )})
    import slurm_diag.slurm

    monkeypatch.setattr(slurm_diag.slurm, "default_client", lambda cfg=None: client)
    return client


def test_the_callers_waiting_jobs_are_told_once_per_reason_the_hopeless_first(fake, capsys):
    code, out, err = run_main(capsys, "explain", "--pending", "--json")
    assert code == 0, err
    doc = json.loads(out)
    schemas.validate("explain_waiting", doc)
    assert doc["user"] == ME and doc["count"] == 6
    groups = [(g["reason"], g["jobs"], g["will_start"]) for g in doc["groups"]]
    assert groups[0] == ("DependencyNeverSatisfied", ["24"], False)
    assert groups[1] == ("Priority", ["21", "22", "23"], True)                     # then the largest
    assert {g[0] for g in groups[2:]} == {"QOSMaxJobsPerUserLimit", "None"}
    assert ("waiting_jobs", (ME,)) in fake.calls                                  # squeue -u: only theirs
    assert "27" not in out and "28" not in out

    code, out, _ = run_main(capsys, "explain", "--pending")
    assert code == 0
    assert out.startswith(f"6 of {ME}'s jobs wait (pending, held or suspended):")
    assert "     3  pending: other jobs with higher priority are ahead of it" in out
    assert "jobs: 21 22 23" in out and "next, for job 21: nothing to do" in out
    assert "so it will never start" in out.split("\n")[1]                    # the hopeless group first
    assert "suspended: it was suspended" in out


def test_another_users_job_is_never_listed_even_if_squeue_returned_it(fake, capsys, monkeypatch):
    monkeypatch.setattr(fake, "waiting_jobs", lambda user=None: list(fake.jobs.values()))
    code, out, _ = run_main(capsys, "explain", "--pending", "--json")
    assert code == 0 and "27" not in [j for g in json.loads(out)["groups"] for j in g["jobs"]]


def test_every_users_waiting_jobs_are_an_administrators_to_list(fake, capsys, monkeypatch):
    from slurm_diag import identity

    monkeypatch.setattr(identity.Access, "privileged", lambda self, caller: True)
    fake.jobs["29"] = replace(waiting("29", "Priority", user="nobody"), name="sdiag-gemm")   # slurm-diag's own
    code, out, _ = run_main(capsys, "explain", "--pending", "--all", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["user"] is None and doc["count"] == 7                # not slurm-diag's sweep
    assert next(g for g in doc["groups"] if g["reason"] == "Priority")["users"] == [ME, "nobody"]
    code, out, _ = run_main(capsys, "explain", "--pending", "--all")
    assert out.startswith("7 jobs wait (all users)") and f"(users: {ME}, nobody)" in out
    code, out, _ = run_main(capsys, "explain", "--pending", "--user", "nobody", "--json")
    assert code == 0 and [g["jobs"] for g in json.loads(out)["groups"]] == [["27", "29"]]
    monkeypatch.setattr(identity.Access, "privileged", lambda self, caller: False)
    for args in (("--all",), ("--user", "nobody")):
        code, out, err = run_main(capsys, "explain", "--pending", *args)
        assert code == EXIT_REFUSED and out == "" and "only your own jobs" in err, err
        assert "sdiag-agent explain --pending lists yours" in err


@pytest.mark.parametrize("args", [("--pending", "12"), ("--pending", "--since", "1d"),
                                  ("--pending", "--log", "-"), ("--pending", "--user", "x", "--all")])
def test_pending_takes_no_job_log_or_window(fake, capsys, args):
    code, out, err = run_main(capsys, "explain", *args)
    assert code == EXIT_USAGE and out == "" and ("give one" in err or "takes no job id" in err), err


def test_nothing_waiting_says_so(fake, capsys):
    fake.jobs.clear()
    code, out, _ = run_main(capsys, "explain", "--pending")
    assert code == 0 and out.strip() == f"None of {ME}'s jobs is waiting (pending, held or suspended)."


def test_squeues_lines_are_read_with_a_pending_arrays_tasks_as_one_job():
    """As the real 22.05 squeue printed them with SQUEUE_WAITING_FORMAT (tried on the local cluster)."""
    sep = "\x1f"
    text = (f"6955{sep}6955{sep}6955{sep}N/A{sep}PENDING{sep}debug{sep}root{sep}root{sep}normal{sep}N/A{sep}"
            f"UNLIMITED{sep}JobHeldUser{sep}wrap\n"
            f"6954_[0-3%1]{sep}6954{sep}6954{sep}0-3%1{sep}PENDING{sep}debug{sep}root{sep}root{sep}normal{sep}N/A{sep}"
            f"1:00:00{sep}ReqNodeNotAvail, UnavailableNodes:node3{sep}a b|c\n")
    plain, array = parse.squeue_waiting(text)       # printed whole (SLURM_BITSTR_LEN=0), throttle and all
    assert (plain.job_id, plain.array_job_id, plain.reason, plain.time_limit_s, plain.qos) == \
        ("6955", None, "JobHeldUser", None, "normal")
    assert (array.job_id, array.array_job_id, array.array_task_id, array.name) == ("6954_[0-3]", "6954", "0-3", "a b|c")
    assert array.reason == "ReqNodeNotAvail, UnavailableNodes:node3" and array.time_limit_s == 3600


def test_slurm_down_is_said_and_exits_3(fake, capsys):
    fake.unreachable = True
    code, out, err = run_main(capsys, "explain", "--pending")
    assert code == 3 and out == "" and "Unable to contact slurm controller" in err and "Traceback" not in err


def test_an_arrays_waiting_tasks_are_named_so_the_commands_take_them():
    """squeue and sprio read 123_[5-9] as task 0; the shell may read it as a file pattern."""
    from slurm_diag.diagnose import pending

    tasks = replace(waiting("6954_[2-5,9]", "Priority"), array_job_id="6954", array_task_id="2-5,9")
    said, can_start, step = pending.words(tasks)
    assert can_start and step == ("nothing to do: `squeue -j 6954 --start` shows when Slurm expects to start it; "
                                  "`sprio -j 6954` shows its priority")
    _, _, held = pending.words(replace(tasks, reason="JobHeldUser"))
    assert held == "scontrol release '6954_[2-5,9]'"


def test_squeues_other_lines_a_heterogeneous_job_a_name_with_the_separator_and_no_time_limit():
    sep = "\x1f"

    def line(shown, raw, array, task, name="w", limit="1:00"):
        return sep.join([shown, raw, array, task, "PENDING", "debug", "ana", "phys", "normal", "N/A", limit,
                         "Resources", name])
    jobs = parse.squeue_waiting("\n".join([
        line("200+0", "200", "200", "N/A"), line("200+1", "201", "201", "N/A"),      # one job, by its id
        line("300", "300", "300", "N/A", name=f"a{sep}b"), line("301", "301", "301", "N/A", limit="NOT_SET"),
        line("6954_7", "6961", "6954", "7")]))
    assert [(j.job_id, j.het_job_id) for j in jobs] == [("200", "200"), ("300", None), ("301", None), ("6954_7", None)]
    assert jobs[1].name == f"a{sep}b" and jobs[2].time_limit_s is None and jobs[3].array_task_id == "7"
    with pytest.raises(parse.ParseError, match="expected 13 fields a line, found 2"):
        parse.squeue_waiting("6955" + sep + "6955")
