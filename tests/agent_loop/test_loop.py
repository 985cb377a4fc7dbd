"""The agent's loop over the fake Slurm and a SQLite store: what it attributes, what it proposes,
what it leaves alone, and that a rerun adds nothing."""

from __future__ import annotations

import os
import pwd
from datetime import datetime, timedelta, timezone

import pytest

from slurm_diag.agent.loop import Loop, engine_diagnoser
from slurm_diag.slurm.records import Job
from tests.actions.helpers import AGENT, make

START = datetime.now().astimezone() - timedelta(minutes=30)
END = START + timedelta(minutes=5)
NODES = ("node1", "node2", "node3", "node4")
OWNER = pwd.getpwuid(os.getuid()).pw_name     # a user with an account here, so the agent may read their logs
AMBIGUOUS = "epoch 1 step 10 loss 2.3\nepoch 1 step 20 loss 2.2\n"      # exit 1, nothing that decides
XID_STORM = ("[node1] NVRM: Xid (PCI:0000:3b:00): 13, pid=2231, Graphics SM Warp Exception on (GPC 0, TPC 1)\n"
             "node2:1234:1290 [0] NCCL WARN NET/IB : Got completion from peer 10.0.0.3<45678> with error 12, "
             "opcode 0, len 0, vendor err 129\n"
             "NVRM: Xid (PCI:0000:3b:00): 31, pid=2231, Ch 00000010, intr 10000000. MMU Fault\n")


def add_job(ctx, tmp_path, jid, out, nodes, state="FAILED", exit_code=1, name="train", elapsed=300, minutes=0):
    log = tmp_path / f"slurm-{jid}.out"
    log.write_text(out)
    start, end = START + timedelta(minutes=minutes), END + timedelta(minutes=minutes)
    ctx.client.jobs[jid] = Job(
        job_id=jid, job_id_raw=jid, name=name, user=OWNER, partition="gpu", state=state, state_detail=state,
        exit_code=exit_code, signal=0, elapsed_s=elapsed, time_limit_s=3600, nodes=tuple(nodes),
        node_list=",".join(nodes), start=start.strftime("%Y-%m-%dT%H:%M:%S"), end=end.strftime("%Y-%m-%dT%H:%M:%S"),
        stdout=str(log), work_dir=str(tmp_path))


def health(ctx, node, status="WARN", check="clocks", gpu=3):
    ctx.store.add_health_report({
        "node": node, "time": (END + timedelta(seconds=30)).astimezone(timezone.utc).isoformat(timespec="seconds"),
        "level": "quick", "context": "healthcheck", "status": status, "duration_s": 0.1,
        "checks": [{"name": check, "status": status, "gpu": gpu,
                    "message": f"gpu{gpu} SM clock 1100 MHz under load, expected >= 1755 MHz"}]})


@pytest.fixture()
def ctx(tmp_path, monkeypatch):
    return make(tmp_path, monkeypatch, caller=AGENT, nodes=NODES)


def run(ctx, **kw):
    loop = Loop(ctx, engine_diagnoser(ctx.client, ctx.store), min_jobs=3)
    return loop.run(since=kw.pop("since", timedelta(hours=1)), **kw)


def test_a_rerun_over_the_same_window_adds_nothing(ctx, tmp_path):
    add_job(ctx, tmp_path, "11", "ValueError: bad learning rate\n", ("node1",))
    add_job(ctx, tmp_path, "12", "slurmstepd: error: *** JOB 12 ON node2 CANCELLED AT 2026 DUE TO TIME LIMIT ***\n",
            ("node2",), state="TIMEOUT", exit_code=0)
    first = run(ctx)
    assert sorted(a["job_id"] for a in first.attributions) == ["11", "12"]
    counts = ctx.store.counts()
    again = run(ctx)
    assert again.attributions == [] and again.proposals == [] and sorted(again.unchanged) == ["11", "12"]
    assert ctx.store.counts()["attributions"] == counts["attributions"]
    assert ctx.store.counts()["findings"] == counts["findings"]
    later = Loop(ctx, engine_diagnoser(ctx.client, ctx.store)).run()      # from where the last run stopped
    assert (later.start, later.jobs_seen, later.attributions) == (again.end, 0, [])
    transcript = [r for r in ctx.store.audit_log(subject="11") if r["event"] == "agent.attribution"]
    assert len(transcript) == 1 and transcript[0]["detail"]["transcript"]["decide"]


def test_a_failed_job_slurmctld_has_forgotten_is_read_from_the_path_its_submission_named(ctx, tmp_path):
    """The pass's jobs come from accounting, which keeps no output path; what it kept of the
    submission names it (slurm.submission), as for `explain JOBID`."""
    import dataclasses

    from slurm_diag.slurm import submission
    from slurm_diag.slurm.records import ACCOUNTING

    add_job(ctx, tmp_path, "31", "Traceback (most recent call last):\nValueError: bad learning rate\n", ("node1",))
    ctx.client.jobs["31"] = dataclasses.replace(ctx.client.jobs["31"], stdout=None, sources=(ACCOUNTING,))
    (tmp_path / "logs").mkdir()
    (tmp_path / "slurm-31.out").rename(tmp_path / "logs" / "train-31.log")       # not Slurm's default name
    ctx.client.requests["31"] = submission.request("sbatch -o logs/%x-%j.log run.sh", None, None)
    report = run(ctx)
    assert [a["label"] for a in report.attributions if a["job_id"] == "31"] == ["user_code"]
    assert ("job_requests", ("31",)) in ctx.client.calls


def test_an_arrays_forgotten_tasks_share_one_request_and_only_the_passs_jobs_are_asked(ctx, tmp_path):
    import dataclasses

    from slurm_diag.slurm.records import ACCOUNTING

    for task in range(4):
        jid = f"40_{task}"
        add_job(ctx, tmp_path, jid, "ValueError: bad learning rate\n", ("node1",))
        ctx.client.jobs[jid] = dataclasses.replace(ctx.client.jobs[jid], stdout=None, sources=(ACCOUNTING,),
                                                   array_job_id="40", array_task_id=str(task))
    Loop(ctx, engine_diagnoser(ctx.client, ctx.store), min_jobs=3).run(since=timedelta(hours=1))
    assert [c for c in ctx.client.calls if c[0].startswith("job_request")] == [("job_requests", ("40_0",))]
    for jid in ("51", "52", "53"):
        add_job(ctx, tmp_path, jid, "ValueError: bad learning rate\n", ("node2",), minutes=1)
        ctx.client.jobs[jid] = dataclasses.replace(ctx.client.jobs[jid], stdout=None, sources=(ACCOUNTING,))
    ctx.client.calls.clear()
    Loop(ctx, engine_diagnoser(ctx.client, ctx.store), min_jobs=3, max_jobs=2).run(since=timedelta(hours=1))
    # seven jobs in the window, four submissions (array 40, 51, 52, 53): the pass's two jobs are asked
    # about, no more, in one call
    (asked,) = [c for c in ctx.client.calls if c[0].startswith("job_request")]
    assert asked[0] == "job_requests" and 1 <= len(asked[1]) <= 2


def test_three_ambiguous_failures_on_one_node_make_a_node_finding_but_no_drain_without_node_evidence(ctx, tmp_path):
    for jid, nodes in (("21", ("node2",)), ("22", ("node1", "node2")), ("23", ("node2", "node3"))):
        add_job(ctx, tmp_path, jid, AMBIGUOUS, nodes)
    report = run(ctx)
    per_job = {a["job_id"]: a for a in report.attributions if a["job_id"]}
    assert {a["label"] for a in per_job.values()} == {"unknown"}          # each alone is ambiguous
    assert [f["node"] for f in report.node_findings] == ["node2"]         # node1 and node3 failed once only
    node = next(a for a in report.attributions if a["job_id"] is None)
    assert (node["scope"], node["suspect_nodes"]) == ("infra", ["node2"])
    assert node["supporting"] == [report.node_findings[0]["id"]]
    assert report.proposals == []                                          # log text alone never drains
    assert ctx.store.proposals() == []


def test_a_model_that_blames_the_user_for_undecided_failures_cannot_hide_their_node(ctx, tmp_path):
    from slurm_diag.agent import reason as reason_mod
    from slurm_diag.agent.llm.fake import FakeBackend

    log = AMBIGUOUS + "FATAL: frobnicator lost sync with the widget controller\n"
    for jid, nodes in (("31", ("node2",)), ("32", ("node1", "node2")), ("33", ("node2", "node3"))):
        add_job(ctx, tmp_path, jid, log, nodes)

    def blame_the_user(d, job):
        line = next(f["id"] for f in d["findings"] if ":unrecognised-" in f["id"])
        answer = {"label": "user_code", "scope": "user", "supporting": [line], "suspect_nodes": [], "suspect_gpus": [],
                  "alternatives": [], "explanation": "the job's own code misused the widget controller"}
        out = reason_mod.explain(d, log, FakeBackend([{"keywords": [], "entities": []},
                                                      {"critique": "the job's code", "agrees": False, "checks": []},
                                                      answer]), job_nodes=list(job.nodes))
        return out["attribution"], out["llm"]

    report = Loop(ctx, engine_diagnoser(ctx.client, ctx.store), reason=blame_the_user, llm="fake", min_jobs=3).run(
        since=timedelta(hours=1))
    per_job = {a["job_id"]: a for a in report.attributions if a["job_id"]}
    assert {a["label"] for a in per_job.values()} == {"user_code"}        # the model's reading is recorded
    assert [f["node"] for f in report.node_findings] == ["node2"]         # and node2 still stands out


def test_with_a_health_finding_on_that_node_the_node_finding_proposes_a_drain(ctx, tmp_path):
    for jid, nodes in (("31", ("node2",)), ("32", ("node1", "node2")), ("33", ("node2", "node3"))):
        add_job(ctx, tmp_path, jid, AMBIGUOUS, nodes)
    health(ctx, "node2")
    report = run(ctx)
    assert [(p["action"], p["target"]) for p in report.proposals] == [("drain", "node2")]
    proposal = ctx.store.proposals()[0]
    assert proposal["state"] == "proposed" and proposal["proposed_by"] == "sdiag-agent"
    assert proposal["attribution"]["label"] == "gpu_throttle"
    assert proposal["attribution"]["suspect_gpus"] == [{"node": "node2", "gpu": 3}]
    assert any(f["source"] == "health" and f["node"] == "node2" for f in proposal["findings"])
    assert ctx.client.drained() == {}                                      # it proposes, never drains
    again = run(ctx)
    assert again.proposals == [] and again.node_findings == [] and len(ctx.store.proposals()) == 1


def test_a_job_whose_crash_left_application_xids_everywhere_is_the_jobs_fault_not_each_nodes(ctx, tmp_path):
    """NVSentinel's case: one job's Xid 13/31 crash (and its peers' NCCL errors) on every node."""
    for jid in ("41", "42", "43"):
        add_job(ctx, tmp_path, jid, XID_STORM, ("node1", "node2", "node3"))
    for node in ("node1", "node2", "node3"):
        health(ctx, node)                        # WARN on every node: a drain would pass the rules
    report = run(ctx)
    assert {(a["job_id"], a["label"], a["scope"]) for a in report.attributions} == \
        {(j, "user_code", "user") for j in ("41", "42", "43")}
    assert all(a["suspect_nodes"] == [] for a in report.attributions)
    assert report.node_findings == [] and report.proposals == [] and ctx.store.proposals() == []


def test_healthy_jobs_in_the_window_are_controls_with_no_infra_attribution(ctx, tmp_path):
    for jid, minutes in (("51", -2000), ("52", -1000)):                   # earlier runs, same speed
        add_job(ctx, tmp_path, jid, "done\n", ("node2",), state="COMPLETED", exit_code=0, elapsed=300, minutes=minutes)
    for jid in ("53", "54"):
        add_job(ctx, tmp_path, jid, "done\n", ("node2",), state="COMPLETED", exit_code=0, elapsed=310)
    add_job(ctx, tmp_path, "55", "done\n", ("node2",), state="COMPLETED", exit_code=0, elapsed=900)   # slow
    health(ctx, "node2")
    report = run(ctx, since=timedelta(hours=1))
    assert {"53", "54"} <= set(report.controls)
    assert not [a for a in report.attributions if a["job_id"] in ("53", "54")]
    assert not [a for a in ctx.store.attributions() if a["job_id"] in ("53", "54") or a["scope"] == "infra"
                and a["job_id"] != "55"]
    slow = [a for a in report.attributions if a["job_id"] == "55"]
    assert slow, report.controls                                            # the slow one is looked at


def test_user_causes_never_propose(ctx, tmp_path):
    add_job(ctx, tmp_path, "61", "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB "
                                 "(GPU 0; 79.15 GiB total capacity; 76.80 GiB already allocated)\n", ("node2",))
    add_job(ctx, tmp_path, "62", "Traceback (most recent call last):\nValueError: bad config\n", ("node2",))
    add_job(ctx, tmp_path, "63", "ModuleNotFoundError: No module named 'apex'\n", ("node2",))
    health(ctx, "node2", status="CRITICAL")
    report = run(ctx)
    labels = {a["job_id"]: (a["label"], a["scope"]) for a in report.attributions if a["job_id"]}
    assert labels["61"] == ("gpu_oom", "user") and labels["62"] == ("user_code", "user")
    assert report.proposals == [] and report.node_findings == [] and ctx.store.proposals() == []


def test_a_second_copy_stops_at_once_while_the_first_holds_the_lock(tmp_path):
    from slurm_diag.agent.loop import single_run
    from slurm_diag.errors import EnvironmentProblem

    with single_run(tmp_path):
        with pytest.raises(EnvironmentProblem) as err:
            with single_run(tmp_path):
                pass
    assert f"pid {__import__('os').getpid()}" in err.value.message
    with single_run(tmp_path):                   # released: the next run goes ahead
        pass


@pytest.mark.parametrize("text, seconds", [("30m", 1800), ("2h", 7200), ("1d", 86400), ("01:30:00", 5400)])
def test_since_durations(text, seconds):
    from slurm_diag.cli.agent_cmd import parse_since
    assert parse_since(text).total_seconds() == seconds


def test_agent_run_refuses_a_bad_duration_with_exit_2(capsys, tmp_path, monkeypatch):
    from tests.conftest import run_main

    monkeypatch.setenv("SDIAG_HOME", str(tmp_path))
    code, out, err = run_main(capsys, "agent", "run", "--since", "yesterday")
    assert code == 2 and "expected a duration like 30m" in err and out == ""


def test_slurm_diags_own_probe_and_agent_jobs_are_not_workload(ctx, tmp_path):
    add_job(ctx, tmp_path, "81", "gemm round 0 done\n", ("node1",), name="sdiag-gemm")
    add_job(ctx, tmp_path, "82", "agent pass\n", ("node1",), name="sdiag-agent")
    add_job(ctx, tmp_path, "83", "ValueError: bad learning rate\n", ("node1",))
    report = run(ctx)
    assert report.jobs_seen == 1 and [a["job_id"] for a in report.attributions] == ["83"]


def test_a_node_fail_is_proposed_for_requeue_but_its_node_not_drained_on_the_job_state_alone(ctx, tmp_path):
    """NODE_FAIL is infra: the job is proposed for requeue (slurmctld still holds it, requeue-able,
    not requeued by Slurm itself); the node is not drained on sacct's word alone (no health or probe
    finding on it), and nothing is done before an approver says so."""
    add_job(ctx, tmp_path, "31", "epoch 3 step 400 loss 1.9\n", ("node3",), state="NODE_FAIL", exit_code=0)
    ctx.client.records["31"] = {"JobId": "31", "JobState": "NODE_FAIL", "BatchFlag": "1", "Requeue": "1",
                                "Restarts": "0"}
    report = run(ctx)
    [a] = [a for a in report.attributions if a["job_id"] == "31"]
    assert (a["label"], a["scope"]) == ("node_failure", "infra") and "node3" in a["suspect_nodes"]
    assert [(p["action"], p["target"]) for p in report.proposals] == [("requeue", "31")], report.refused
    [requeue] = report.proposals
    assert requeue["command"][:2] == ["scontrol", "requeue"] and requeue["state"] == "proposed"
    assert ctx.client.records["31"]["Restarts"] == "0" and ctx.client.drained() == {}
    [row] = [r for r in ctx.store.audit_log(subject="31") if r["event"] == "agent.attribution"]
    assert any(d.startswith("no drain of node3: no health or probe finding") for d in row["detail"]["transcript"]["decide"])


@pytest.mark.parametrize("user,detail,observed", [
    ("nobody", "CANCELLED by 0", True),      # an admin (uid 0) cancelled nobody's job: the system's doing
    ("root", "CANCELLED by 0", False),       # root cancelled root's own job
    ("alice", "CANCELLED by 0", False),      # the owner has no uid here: cannot tell, not observed
    ("nobody", "CANCELLED", False),          # no canceller recorded
])
def test_only_cancels_by_someone_else_are_observed(ctx, tmp_path, user, detail, observed):
    import dataclasses

    from slurm_diag.agent.loop import observe_jobs

    add_job(ctx, tmp_path, "41", "working\n", ("node1",), state="CANCELLED", exit_code=0)
    ctx.client.jobs["41"] = dataclasses.replace(ctx.client.jobs["41"], user=user, state_detail=detail)
    seen = [j.job_id for j in observe_jobs(ctx.client, START - timedelta(hours=1), END + timedelta(hours=1))]
    assert seen == (["41"] if observed else [])
