"""Rounds, verifier, cache and budgets end to end with the scripted fake model (deterministic)."""

from __future__ import annotations

import pytest

from slurm_diag import schemas
from slurm_diag.agent import prompt, reason
from slurm_diag.agent.llm import make_backend
from slurm_diag.agent.llm.fake import FakeBackend
from slurm_diag.diagnose.attribute import NEXT_STEPS
from tests.agent.conftest import GPU_OOM_LOG, XID_LOG, diagnose

R1 = {"keywords": ["OutOfMemoryError"], "entities": ["GPU 0"]}
R2 = {"critique": "the job's own allocation exhausted GPU memory", "agrees": True, "checks": []}


def final(d: dict, **over) -> dict:
    a = d["attribution"]
    out = {"label": a["label"], "scope": a["scope"], "supporting": list(a["supporting"]), "suspect_nodes": [],
           "suspect_gpus": [], "alternatives": ["user_code"], "explanation": "backward() needed 2 GiB more GPU memory"}
    out.update(over)
    return out


def test_three_rounds_produce_a_transcript_and_an_accepted_answer():
    d = diagnose(GPU_OOM_LOG)
    fake = FakeBackend([R1, R2, final(d)])
    out = reason.explain(d, GPU_OOM_LOG, fake)
    rec = out["llm"]
    assert rec["status"] == "accepted", rec["reasons"]
    assert [r["round"] for r in rec["transcript"]] == ["extract", "critique", "attribute"]
    assert rec["prompt_version"] == prompt.PROMPT_VERSION and rec["model"] == "fake" and rec["tokens"] == 30
    assert out["attribution"]["label"] == "gpu_oom"
    assert "[LLM fake, verified: backward() needed 2 GiB more GPU memory]" in out["attribution"]["explanation"]
    assert out["attribution"]["next_steps"] == d["attribution"]["next_steps"]
    assert {"label": "user_code", "from": "llm"} in out["alternatives"]
    assert schemas.errors("attribution", out["attribution"]) == []
    # round 1's keywords were used to retrieve knowledge, shown to round 2
    assert "<knowledge>" in fake.calls[1]["user"] and rec["transcript"][0]["retrieved"]


def test_the_final_round_is_constrained_to_existing_ids_nodes_and_labels():
    d = diagnose(XID_LOG)
    fake = FakeBackend([R1, R2, final(d, explanation="GPU fell off the bus")])
    reason.explain(d, XID_LOG, fake, job_nodes=["gpu-node07"])
    schema = fake.calls[2]["schema"]["properties"]
    assert set(schema["supporting"]["items"]["enum"]) == {f["id"] for f in d["findings"]}
    assert schema["suspect_nodes"]["items"]["enum"] == ["gpu-node07"]
    assert "gpu_hardware" in schema["label"]["enum"]


def test_a_verified_label_change_takes_next_steps_from_code_and_keeps_suspects_within_the_evidence():
    log = ("ImportError: libcudart.so.11.0: cannot open shared object file: No such file or directory\n"
           "slurmstepd: error: *** JOB 5 ON n1 CANCELLED AT 2024-01-01T00:00:00 ***\n")
    d = diagnose(log)
    assert d["attribution"]["label"] == "software_env"
    alt = next(a for a in d["alternatives"])
    assert alt["label"] == "scheduler"
    fake = FakeBackend([R1, R2, final(d, label=alt["label"], scope=alt["scope"], supporting=alt["supporting"],
                                      suspect_nodes=[], explanation="the job was cancelled before the import error mattered")])
    out = reason.explain(d, log, fake)
    assert out["llm"]["status"] == "accepted", out["llm"]["reasons"]
    assert out["attribution"]["label"] == alt["label"]
    assert out["attribution"]["next_steps"] == list(NEXT_STEPS[alt["label"]])
    assert schemas.errors("attribution", out["attribution"]) == []
    assert out["attribution"]["contradicting"]    # the engine's own evidence now argues against it


def test_a_verified_move_to_infra_never_adds_a_suspect_node():
    d = {"attribution": {"job_id": None, "label": "user_code", "scope": "user", "component": "python",
                         "suspect_nodes": [], "suspect_gpus": [], "confidence": 0.6, "supporting": ["log:traceback"],
                         "contradicting": [], "explanation": "a KeyError in train.py", "next_steps": ["fix it"]},
         "alternatives": [{"label": "network", "scope": "infra", "confidence": 0.4, "supporting": ["log:net-fabric"],
                           "summary": "NCCL completion error"}],
         "findings": [{"id": "log:traceback", "source": "log", "severity": "WARN", "summary": "KeyError: 'lr'"},
                      {"id": "log:net-fabric", "source": "log", "severity": "WARN", "node": "gpu03",
                       "summary": "NCCL WARN NET/IB on gpu03: completion error 12"}],
         "extracted": {"nodes": ["gpu03"], "gpus": []}}
    answer = final(d, label="network", scope="infra", supporting=["log:net-fabric"], suspect_nodes=["gpu03"],
                   explanation="the fabric on gpu03 failed the NCCL call")
    out = reason.explain(d, "log", FakeBackend([R1, R2, answer]))
    assert out["llm"]["status"] == "accepted", out["llm"]["reasons"]
    assert out["attribution"]["label"] == "network" and out["attribution"]["scope"] == "infra"
    assert out["attribution"]["suspect_nodes"] == [] and out["attribution"]["suspect_gpus"] == []


def test_a_cause_read_where_the_engine_said_unknown_is_marked_and_names_no_node():
    log = ("gpu07: step 40 loss 1.92\n"
           "FATAL: frobnicator lost sync with the widget controller (code 0x3f)\n")
    d = diagnose(log)
    assert d["attribution"]["label"] == "unknown"
    line = next(f["id"] for f in d["findings"] if f["id"].startswith("log:unrecognised-"))
    answer = final(d, label="network", scope="infra", supporting=[line], suspect_nodes=["gpu07"],
                   explanation="the widget controller is a fabric switch that dropped the job")
    out = reason.explain(d, log, FakeBackend([R1, R2, answer]), job_nodes=["gpu07"])
    a = out["attribution"]
    assert out["llm"]["status"] == "accepted", out["llm"]["reasons"]
    assert a["label"] == "network" and a["scope"] == "infra"
    assert a["suspect_nodes"] == [] and a["suspect_gpus"] == []        # nothing to drain
    assert a["explanation"].startswith("no rule decided; the LLM fake read this cause in the log (not confirmed")
    assert a["supporting"] == [line] and a["confidence"] <= d["attribution"]["confidence"]
    assert a["next_steps"] == list(NEXT_STEPS["network"])
    assert schemas.errors("attribution", a) == []
    # the prompt told the model it may do this, and showed it the line
    assert "error line no rule recognises" in fake_prompt(log, d) and "frobnicator" in fake_prompt(log, d)


def fake_prompt(log: str, d: dict) -> str:
    fake = FakeBackend([R1, R2, final(d)])
    reason.explain(d, log, fake)
    return fake.calls[-1]["system"] + fake.calls[-1]["user"]


def test_a_failing_model_leaves_the_engines_answer_with_the_reason():
    d = diagnose(GPU_OOM_LOG)
    out = reason.explain(d, GPU_OOM_LOG, FakeBackend([R1, "not json at all"]))
    assert out["llm"]["status"] == "error" and "not a JSON object" in out["llm"]["reasons"][0]
    assert out["attribution"] == d["attribution"]
    assert out["llm"]["transcript"][1]["error"] == "the answer is not a JSON object"


def test_off_means_the_engine_alone():
    d = diagnose(GPU_OOM_LOG)
    out = reason.explain(d, GPU_OOM_LOG, make_backend("none"))
    assert out["llm"]["status"] == "off" and out["attribution"] == d["attribution"]


def test_job_budget_overrun_returns_the_engines_answer_marked_so():
    d = diagnose(GPU_OOM_LOG)
    fake = FakeBackend([R1, R2, final(d)], tokens_per_answer=300)
    out = reason.explain(d, GPU_OOM_LOG, fake, budget=reason.RunBudget(job_tokens=500))
    assert out["llm"]["status"] == "budget"
    assert "budget overrun" in out["llm"]["reasons"][0]
    assert out["attribution"] == d["attribution"]
    assert out["llm"]["tokens"] == 300          # round 1 was charged; round 2 could not start


def test_run_budget_is_shared_across_jobs():
    d = diagnose(GPU_OOM_LOG)
    budget = reason.RunBudget(job_tokens=100, run_tokens=25)      # 10 tokens an answer: round 3 overruns
    fake = FakeBackend([R1, R2, final(d)])
    first = reason.explain(d, GPU_OOM_LOG, fake, budget=budget)
    assert first["llm"]["status"] == "budget" and budget.spent_tokens >= 25
    calls = len(fake.calls)
    second = reason.explain(diagnose(XID_LOG), XID_LOG, fake, budget=budget)
    assert second["llm"]["status"] == "budget" and len(fake.calls) == calls     # the model was never asked


def test_cache_by_model_prompt_version_and_evidence(tmp_path, monkeypatch):
    d = diagnose(GPU_OOM_LOG)
    cache = reason.AnswerCache(tmp_path)
    fake = FakeBackend([R1, R2, final(d)])
    first = reason.explain(d, GPU_OOM_LOG, fake, cache=cache)
    again = reason.explain(d, GPU_OOM_LOG, fake, cache=reason.AnswerCache(tmp_path))    # from the file
    assert len(fake.calls) == 3 and again["llm"]["cached"] is True
    assert again["attribution"] == first["attribution"]
    other = diagnose(GPU_OOM_LOG + "NCCL WARN NET/IB : Got completion with error 12\n")
    reason.explain(other, GPU_OOM_LOG + "x", fake, cache=cache)
    assert len(fake.calls) == 6                  # other evidence: asked again
    monkeypatch.setattr(prompt, "PROMPT_VERSION", "dot-xml-test")
    reason.explain(d, GPU_OOM_LOG, fake, cache=cache)
    assert len(fake.calls) == 9                  # a new prompt version: asked again


def test_checks_run_only_from_the_whitelist_and_only_on_the_jobs_nodes():
    d = diagnose(XID_LOG)
    asks = {"critique": "check the node", "agrees": True,
            "checks": [{"tool": "node_state", "target": "gpu-node07"}, {"tool": "node_state", "target": "login01"},
                       {"tool": "shell", "target": "scontrol update nodename=ALL state=drain"}]}
    from slurm_diag.agent.tools import Tools
    tools = Tools(nodes={"gpu-node07"}, functions={"node_state": lambda n: f"{n}: MIXED"})
    fake = FakeBackend([R1, asks, final(d, explanation="GPU fell off the bus")])
    out = reason.explain(d, XID_LOG, fake, tools=tools, job_nodes=["gpu-node07"])
    checks = out["llm"]["transcript"][1]["checks"]
    assert [c["status"] for c in checks] == ["ok", "refused", "refused"]
    assert checks[0]["result"] == "gpu-node07: MIXED"
    assert "<check tool=\"node_state\" target=\"gpu-node07\" status=\"ok\">" in fake.calls[2]["user"]


def test_config_section_is_registered_by_file():
    from slurm_diag import config
    settings = config.defaults()["llm"]
    assert settings["backend"] == "none" and settings["job_tokens"] > 0
    with pytest.raises(Exception, match="llm"):
        config.validate({"llm": {"backend": "gpt-in-the-cloud"}}, "test")
