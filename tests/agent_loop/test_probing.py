"""The agent asks for probes on a slow job's nodes (plus a fleet to compare with), does not wait for
them inside its allocation, and leaves a follow-up pass that collects them; capped per run, once per
job, never on a drained node. Over the fake Slurm and a SQLite store; the real cluster runs it in
test_cluster_paper_case.py."""

from __future__ import annotations

import stat
from datetime import timedelta

import pytest

from slurm_diag.agent import probing
from slurm_diag.agent.loop import Loop, engine_diagnoser
from tests.actions.helpers import AGENT, make
from tests.agent_loop.test_loop import NODES, add_job

SETTINGS = probing.Settings(per_run=1, fleet=4, max_nodes=8, rounds=2, time_min=5,
                            params={"n": 256})


@pytest.fixture()
def ctx(tmp_path, monkeypatch):
    return make(tmp_path, monkeypatch, caller=AGENT, nodes=NODES)


def slow_job(ctx, tmp_path, jid, nodes, name="train", minutes=0):
    """Two earlier runs of 100 s on the same nodes, then this one at 400 s: slow, nothing on record."""
    for n, earlier in enumerate((f"{jid}01", f"{jid}02")):
        add_job(ctx, tmp_path, earlier, "done\n", nodes, state="COMPLETED", exit_code=0, name=name, elapsed=100,
                minutes=minutes - 20 - n)
    add_job(ctx, tmp_path, jid, "done\n", nodes, state="COMPLETED", exit_code=0, name=name, elapsed=400,
            minutes=minutes)


def run(ctx, probes=SETTINGS, **kw):
    return Loop(ctx, engine_diagnoser(ctx.client, ctx.store), probes=probes).run(
        since=kw.pop("since", timedelta(hours=2)), **kw)


def test_a_slow_job_gets_a_sweep_on_its_nodes_and_a_fleet_and_a_follow_up_pass(ctx, tmp_path):
    ctx.client.set_reason("node4", "admin: memory test")            # never probed: Slurm would not run it
    slow_job(ctx, tmp_path, "31", ("node2", "node3"))
    report = run(ctx)
    assert [a["job_id"] for a in report.attributions] == ["31"]
    [asked] = report.probes_asked
    assert asked["for_jobs"] == ["31"] and asked["nodes"][:2] == ["node2", "node3"]
    assert sorted(asked["nodes"]) == ["node1", "node2", "node3"]         # the fleet, minus the drained node
    assert len(asked["jobs"]) == 3 * SETTINGS.rounds                     # one job per node and round, a chain
    script, args, _ = ctx.client.submitted[asked["follow_up"]]
    assert f"--dependency=afterany:{asked['jobs'][-1]},singleton" in args and "--job-name=sdiag-agent" in args
    assert "agent run --jobs 31 --json" in script
    sweep_script, sweep_args, _ = ctx.client.submitted[asked["jobs"][0]]
    assert "--exclusive" in sweep_args and "--param n=256" in sweep_script
    # it shares the scheduled agent's singleton name: nothing in the chain may wait forever; each
    # job's deadline leaves room for the jobs ahead of it at their time limit, the follow-up for its own
    for k, job_id in enumerate(asked["jobs"], start=1):
        want = SETTINGS.deadline_min + k * SETTINGS.time_min
        assert f"--deadline=now+{want}minutes" in ctx.client.submitted[job_id][1]
    last = SETTINGS.deadline_min + len(asked["jobs"]) * SETTINGS.time_min
    assert f"--deadline=now+{last + probing.FOLLOW_UP_MIN}minutes" in args
    assert f"--time={probing.FOLLOW_UP_MIN}" in args
    out_dir = ctx.cfg.home / "agent"                # its output quotes other users' logs: the owner's only
    assert f"--output={out_dir / 'agent-follow-up-%j.out'}" in args and stat.S_IMODE(out_dir.stat().st_mode) == 0o700
    decide = [r for r in ctx.store.audit_log(subject="31") if r["event"] == "agent.attribution"][0]
    assert any(d.startswith("asked for gemm probes on node2, node3") for d in decide["detail"]["transcript"]["decide"])
    assert report.proposals == []                                        # slowness alone drains nothing


def test_a_job_is_probed_once_and_a_run_asks_for_one_sweep_at_most(ctx, tmp_path):
    slow_job(ctx, tmp_path, "41", ("node1",))
    slow_job(ctx, tmp_path, "42", ("node2",), name="other")
    first = run(ctx)
    assert [a["for_jobs"] for a in first.probes_asked] == [["41"]]
    decisions = [d for r in ctx.store.audit_log(subject="42") if r["event"] == "agent.attribution"
                 for d in r["detail"]["transcript"]["decide"]]
    assert any("cap of 1 sweep(s) per run is reached" in d for d in decisions), decisions
    submitted = len(ctx.client.submitted)
    second = run(ctx, job_ids=["41"])                   # the follow-up pass: the sweep has not ended yet
    assert second.probes_asked == [] and second.probes_collected == []
    assert len(ctx.client.submitted) == submitted
    assert second.unchanged == ["41"]                  # same evidence: nothing new written, nothing asked
    assert len([r for r in ctx.store.audit_log(subject="agent") if r["event"] == "agent.probe"]) == 1


@pytest.mark.parametrize("ended", ["FAILED", "DEADLINE"])     # killed; never started before its deadline
def test_a_sweep_whose_jobs_ended_is_collected_once(ctx, tmp_path, ended):
    slow_job(ctx, tmp_path, "51", ("node1",))
    [asked] = run(ctx).probes_asked
    for job_id in asked["jobs"]:                        # ended without writing results
        ctx.client.set_job_state(job_id, ended, exit_code=1 if ended == "FAILED" else 0)
    follow_up = run(ctx, job_ids=["51"])
    [collected] = follow_up.probes_collected
    assert collected["sweep"] == asked["sweep"] and collected["flagged"] == [] and collected["for_jobs"] == ["51"]
    assert run(ctx, job_ids=["51"]).probes_collected == []


def test_switched_off_it_asks_for_nothing(ctx, tmp_path):
    slow_job(ctx, tmp_path, "61", ("node1",))
    report = run(ctx, probes=probing.Settings(enabled=False))
    assert report.probes_asked == [] and ctx.client.submitted == {}


def test_the_models_round_two_checks_read_the_records_and_its_probe_request_goes_through_the_cap(ctx, tmp_path):
    from slurm_diag.agent.llm.fake import FakeBackend
    from slurm_diag.agent.loop import llm_reasoner
    from tests.agent_loop.test_loop import AMBIGUOUS

    add_job(ctx, tmp_path, "71", AMBIGUOUS, ("node2",))

    def final(system, user, schema):
        ids = schema["properties"]["supporting"]["items"]["enum"]
        return {"label": "unknown", "scope": "user", "supporting": ids[:1], "suspect_nodes": [], "suspect_gpus": [],
                "alternatives": [], "explanation": "nothing decides"}
    checks = [{"tool": "node_state", "target": "node2"}, {"tool": "probe", "target": "node2"},
              {"tool": "health_history", "target": "node9"}]
    model = FakeBackend([{"keywords": ["loss"], "entities": []}, {"critique": "thin", "agrees": True, "checks": checks},
                         final])
    reason = llm_reasoner(model, ctx.cfg, client=ctx.client, store=ctx.store)
    report = Loop(ctx, engine_diagnoser(ctx.client, ctx.store), reason=reason, llm="fake", probes=SETTINGS).run(
        since=timedelta(hours=2))
    [row] = [r for r in ctx.store.audit_log(subject="71") if r["event"] == "agent.attribution"]
    llm = row["detail"]["transcript"]["orient"]["llm"]
    ran = {c["tool"]: c for c in llm["transcript"][1]["checks"]}
    assert ran["node_state"]["status"] == "ok" and ran["node_state"]["result"].startswith("node2: IDLE")
    assert ran["health_history"]["status"] == "refused"                 # not one of the job's nodes
    assert llm["probe_wanted"] == ["node2"]
    [asked] = report.probes_asked
    assert asked["for_jobs"] == ["71"] and asked["nodes"][0] == "node2"
    assert any(d.startswith("the model asked for probes: asked for gemm probes on node2")
               for d in row["detail"]["transcript"]["decide"])
    answers = ctx.cfg.home / "llm" / "answers"      # the model's answers quote the job's log
    assert list(answers.glob("*.json")) and stat.S_IMODE(answers.stat().st_mode) == 0o700


def test_a_folder_the_agent_left_open_is_closed_when_it_is_used_again(ctx):
    (ctx.cfg.home / "agent").mkdir(mode=0o755, parents=True)          # as an earlier version left it
    (ctx.cfg.home / "agent").chmod(0o755)
    assert stat.S_IMODE(ctx.cfg.private_dir("agent").stat().st_mode) == 0o700


def test_settings_come_from_the_config_with_the_deadline(tmp_path):
    from slurm_diag import config
    from slurm_diag.errors import UsageError

    path = tmp_path / "sdiag.toml"
    path.write_text("[agent.probes]\ndeadline_min = 25\nrounds = 3\n")
    settings = probing.Settings.from_config(config.load(path))
    assert (settings.deadline_min, settings.rounds, settings.fleet) == (25, 3, 4)
    path.write_text("[agent.probes]\ndeadline_min = 0\n")
    with pytest.raises(UsageError, match="deadline_min: 0 is less than the minimum of 1"):
        config.load(path)


def test_the_models_prompt_carries_the_performance_model_for_the_jobs_nodes(ctx, tmp_path):
    """The paper's second retrieval source: the slow job's pace and its nodes' latest probes against
    the performance model reach the model in <model>; another node's probe does not."""
    from datetime import datetime

    from slurm_diag.agent.llm.fake import FakeBackend
    from slurm_diag.agent.loop import llm_reasoner

    slow_job(ctx, tmp_path, "81", ("node3",))
    at = datetime.now().astimezone().isoformat(timespec="seconds")
    for node, value, status in (("node3", 1.5e10, "CRITICAL"), ("node1", 1e9, "CRITICAL")):
        ctx.store.add_probe_result({
            "probe": "gemm", "node": node, "gpu": None, "dtype": "fp64", "metric": "flops", "value": value,
            "unit": "FLOP/s", "valid": True, "time": at, "params": {"n": 256},
            "expected": {"value": 5e10, "lower": 4.5e10, "unit": "FLOP/s", "source": "site override"},
            "verdict": {"status": status, "message": f"{node} far below the fleet"}})

    def final(system, user, schema):
        ids = schema["properties"]["supporting"]["items"]["enum"]
        return {"label": "unknown", "scope": "user", "supporting": ids[:1], "suspect_nodes": [], "suspect_gpus": [],
                "alternatives": [], "explanation": "nothing decides"}
    model = FakeBackend([{"keywords": ["slow"], "entities": []}, {"critique": "thin", "agrees": True, "checks": []},
                         final])
    reason = llm_reasoner(model, ctx.cfg, client=ctx.client, store=ctx.store)
    Loop(ctx, engine_diagnoser(ctx.client, ctx.store), reason=reason, llm="fake",
         probes=probing.Settings(enabled=False)).run(since=timedelta(hours=2), job_ids=["81"])
    critique = model.calls[1]["user"]
    block = critique[critique.index("<model>"):critique.index("</model>")]
    assert "sacct:earlier-runs: ran 4.0x slower than its 2 earlier runs" in block
    assert "probe gemm fp64 on node3" in block and "0.30x of it" in block and "verdict CRITICAL" in block
    assert "node1" not in block


def _probe(ctx, node, status, minutes=0, gpu=None):
    from datetime import datetime

    at = (datetime.now().astimezone() + timedelta(minutes=minutes)).isoformat(timespec="seconds")
    ctx.store.add_probe_result({
        "probe": "gemm", "node": node, "gpu": gpu, "dtype": "fp64", "metric": "flops", "unit": "FLOP/s",
        "value": 1e10 if status != "OK" else 5e10, "valid": True, "time": at, "params": {"n": 256},
        "expected": {"value": 5e10, "lower": 4.5e10, "unit": "FLOP/s", "source": "site override"},
        "verdict": {"status": status, "message": f"{node} at {'0.20' if status != 'OK' else '1.00'}x the fleet"}})


def test_a_node_a_probe_judged_critical_is_proposed_for_a_drain_without_any_job(ctx, tmp_path):
    """An admin's sweep flagged node2 (GPU 1) and node4; node4 passed a later run; node3 only WARN;
    node1 is drained already: only node2 is proposed, once."""
    _probe(ctx, "node2", "CRITICAL", gpu=1)
    _probe(ctx, "node4", "CRITICAL", minutes=-5)
    _probe(ctx, "node4", "OK", minutes=-1)
    _probe(ctx, "node3", "WARN")
    _probe(ctx, "node1", "CRITICAL")
    ctx.client.set_reason("node1", "admin: bios update")
    report = run(ctx, probes=probing.Settings(enabled=False))
    assert report.jobs_seen == 0
    [a] = report.attributions
    assert (a["label"], a["scope"], a["suspect_nodes"], a["suspect_gpus"]) == (
        "gpu_throttle", "infra", ["node2"], [{"node": "node2", "gpu": 1}])
    [p] = report.proposals
    assert (p["action"], p["target"], p["state"]) == ("drain", "node2", "proposed")
    assert p["evidence"] == a["supporting"] and p["evidence"][0].startswith("probe:")
    assert ctx.client.drained() == {"node1": "admin: bios update"}            # proposed, not done
    again = run(ctx, probes=probing.Settings(enabled=False))
    assert again.attributions == [] and again.proposals == []
