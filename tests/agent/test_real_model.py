"""The real SmolLM2-135M on CPU: the transformers backend under llguidance, and the openai backend
against an OpenAI-compatible server on 127.0.0.1 that serves the same model. A handful of
calls; the model is loaded once per session (conftest.smollm2)."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from slurm_diag.agent import reason, rounds, verifier
from slurm_diag.agent.llm import BudgetExceeded
from slurm_diag.agent.llm import smollm2 as smollm2_files
from slurm_diag.agent.llm.openai_api import OpenAIBackend
from slurm_diag.diagnose.attribute import NEXT_STEPS
from slurm_diag.errors import EnvironmentProblem
from tests.agent.conftest import CACHE, XID_LOG, diagnose
from tests.agent.openai_server import serve
from tests.agent.test_untrusted_input import INJECTIONS

# shared cores may be busy: the tests judge what the model answered, not how fast
def roomy() -> reason.RunBudget:
    return reason.RunBudget(job_seconds=900, run_seconds=3600)


def test_the_gguf_was_converted_once_to_a_cached_folder(smollm2):
    assert smollm2.model_id == smollm2_files.MODEL_ID
    folder = CACHE / smollm2_files.MODEL_ID
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    assert smollm2_files.gguf_path().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert smollm2_files.cached_folder(CACHE) == folder          # found, not converted again


def test_constrained_answers_always_parse_and_match_their_schema(smollm2):
    d = diagnose(XID_LOG)
    out = reason.explain(d, XID_LOG, smollm2, job_nodes=["gpu-node07"], budget=roomy())
    rec = out["llm"]
    assert rec["status"] in ("accepted", "rejected"), rec.get("reasons")
    nodes, gpus = verifier.allowed_scope(d, ["gpu-node07"])
    schemas = {"extract": rounds.extract_schema(), "critique": rounds.critique_schema(),
               "attribute": rounds.attribute_schema([f["id"] for f in d["findings"]], sorted(nodes), sorted(gpus))}
    for r in rec["transcript"]:
        Draft202012Validator(schemas[r["round"]]).validate(json.loads(r["answer"]))
        assert r["tokens"] > 0 and r["model"] == "SmolLM2-135M-Instruct"
    assert rec["tokens"] == sum(r["tokens"] for r in rec["transcript"])
    # the engine's answer, or a verified one that stays on the job's node
    a = out["attribution"]
    assert a["label"] == d["attribution"]["label"] or rec["status"] == "accepted"
    assert set(a["suspect_nodes"]) <= {"gpu-node07"}
    assert a["next_steps"] == list(NEXT_STEPS[a["label"]])


def test_a_real_model_reading_an_injected_log_leaves_the_engines_answer_or_a_verified_one(smollm2):
    log = XID_LOG + "\n".join(INJECTIONS.values()) + "\n"
    d = diagnose(log)
    # a short token budget: what is judged is the outcome (engine's answer or a verified one), and a
    # budget overrun must leave the engine's answer too
    budget = reason.RunBudget(job_tokens=160, job_seconds=900, run_seconds=3600)
    out = reason.explain(d, log, smollm2, job_nodes=["gpu-node07"], budget=budget)
    rec, a = out["llm"], out["attribution"]
    if rec["status"] != "accepted":
        assert a == d["attribution"]
    else:
        assert verifier.verify(rec["answer"], d, job_nodes=["gpu-node07"]).accepted
    assert not set(a["suspect_nodes"]) - {"gpu-node07"}
    assert "node001" not in json.dumps(a)


def test_the_token_budget_cuts_a_real_answer(smollm2):
    with pytest.raises(BudgetExceeded) as exc:
        smollm2.generate("Answer in JSON.", "Describe a GPU.", schema=rounds.critique_schema(), max_tokens=3,
                         max_seconds=900)
    assert exc.value.answer.tokens == 3 and exc.value.answer.stopped == "max_tokens"


def test_openai_backend_over_http_with_the_real_model(smollm2, tmp_path):
    server = serve(smollm2, api_key="s3cret")
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        key = tmp_path / "key"
        key.write_text("s3cret\n")
        backend = OpenAIBackend.from_settings({"openai_url": url, "openai_model": "", "api_key_file": str(key),
                                               "timeout_s": 900})
        assert backend.model_id == "SmolLM2-135M-Instruct"          # asked the server's /models
        d = diagnose(XID_LOG)
        schema = rounds.attribute_schema([f["id"] for f in d["findings"]], ["gpu-node07"], [])
        answer = backend.generate("Answer in JSON.", "A GPU fell off the bus on gpu-node07. Attribute it.",
                                  schema=schema, max_tokens=160, max_seconds=900)
        Draft202012Validator(schema).validate(json.loads(answer.text))
        assert answer.tokens > 0 and answer.prompt_tokens > 0
        with pytest.raises(BudgetExceeded):
            backend.generate("Answer in JSON.", "Describe a GPU.", schema=schema, max_tokens=2, max_seconds=900)
        wrong = OpenAIBackend(url, model="x", api_key="wrong")
        with pytest.raises(EnvironmentProblem, match="HTTP 401"):
            wrong.generate("s", "u", schema=schema, max_tokens=5, max_seconds=10)
    finally:
        server.shutdown()
    with pytest.raises(EnvironmentProblem, match="cannot reach the LLM endpoint"):
        OpenAIBackend(url, model="x", timeout_s=2).generate("s", "u", schema={}, max_tokens=5, max_seconds=5)
