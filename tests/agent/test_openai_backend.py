"""The openai backend's own handling, without a model: the schema it sends (kept for llama.cpp's
converter), the answer text it hands on (strict JSON), and a server that takes a request and never
answers (a real listening socket on 127.0.0.1)."""

from __future__ import annotations

import json
import socket

import pytest
from jsonschema import Draft202012Validator

from slurm_diag.agent import rounds
from slurm_diag.agent.llm import BudgetExceeded
from slurm_diag.agent.llm.openai_api import OpenAIBackend, for_grammar, strict_json
from slurm_diag.errors import EnvironmentProblem


def test_empty_only_arrays_get_items_and_keep_their_meaning():
    schema = rounds.attribute_schema(["log:xid-79"], ["gpu-node07"], [])
    sent = for_grammar(schema)
    assert sent["properties"]["suspect_gpus"] == {"type": "array", "maxItems": 0, "items": {"type": "null"}}
    assert "items" not in schema["properties"]["suspect_gpus"]            # the caller's schema is untouched
    assert sent["properties"]["supporting"] == schema["properties"]["supporting"]
    answer = {"label": "gpu_hardware", "scope": "infra", "supporting": ["log:xid-79"], "suspect_nodes": ["gpu-node07"],
              "suspect_gpus": [], "alternatives": [], "explanation": "Xid 79"}
    for doc, valid in ((answer, True), ({**answer, "suspect_gpus": [3]}, False)):
        assert Draft202012Validator(schema).is_valid(doc) is valid
        assert Draft202012Validator(sent).is_valid(doc) is valid


def test_raw_newlines_in_strings_become_strict_json_with_the_same_content():
    raw = '{"critique": "line one\nline two", "agrees": true, "checks": []}'
    with pytest.raises(ValueError):
        json.loads(raw)
    assert json.loads(strict_json(raw)) == {"critique": "line one\nline two", "agrees": True, "checks": []}
    assert strict_json('{"a": 1}') == '{"a": 1}'              # strict JSON is handed on as it came
    assert strict_json("not json {") == "not json {"          # and what is not JSON, for the rounds to reject


@pytest.fixture
def silent_server():
    """A port that accepts connections and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        sock.close()


def test_no_answer_within_the_jobs_time_is_a_budget_overrun(silent_server):
    backend = OpenAIBackend(silent_server, model="m", timeout_s=30)
    with pytest.raises(BudgetExceeded, match="time_budget: no answer within the 1 s left to the job"):
        backend.generate("s", "u", schema={}, max_tokens=5, max_seconds=1)


def test_no_answer_within_timeout_s_is_a_typed_error(silent_server):
    backend = OpenAIBackend(silent_server, model="m", timeout_s=1)
    with pytest.raises(EnvironmentProblem, match="no answer within 1 s") as exc:
        backend.generate("s", "u", schema={}, max_tokens=5, max_seconds=60)
    assert "llm.timeout_s" in exc.value.hint
