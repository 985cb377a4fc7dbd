"""The ``openai`` backend: any OpenAI-compatible chat endpoint (vLLM, llama.cpp's server, NIM).

Plain HTTP with the standard library. The answer schema goes as ``response_format``
``{"type": "json_object", "schema": ...}``, which llama.cpp's server and vLLM both honour (llama.cpp
refuses ``json_schema``); a server that ignores it may answer anything, and then the rounds reject
the answer as not JSON and the verifier never sees it. The key is read from a file, never from
the config itself, and never printed.

Measured against llama.cpp's server (llama-cpp-python 0.3.36, tests/agent/test_llama_server.py): its
schema converter ignores ``maxItems: 0`` on an array without ``items`` and lets raw newlines into
strings, so ``for_grammar`` and ``strict_json`` keep the schema's meaning on the way there and
back. A request that runs out of the job's time is a budget overrun; the server may still be
working on it, and the next request then waits behind it.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from slurm_diag.agent.llm import Answer, BudgetExceeded
from slurm_diag.errors import EnvironmentProblem, UsageError


class EndpointTimeout(EnvironmentProblem):
    """The endpoint took the request but did not answer in time."""


class OpenAIBackend:
    def __init__(self, url: str, *, model: str = "", api_key: str = "", timeout_s: float = 120):
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"llm.openai_url must be an http(s) URL, found {url!r}",
                             hint="set llm.openai_url, e.g. http://gpu01:8000/v1")
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.model_id = model or self._first_model()

    @classmethod
    def from_settings(cls, settings: dict) -> "OpenAIBackend":
        key = ""
        if settings.get("api_key_file"):
            path = Path(settings["api_key_file"]).expanduser()
            try:
                key = path.read_text().strip()
            except OSError as exc:
                raise EnvironmentProblem(f"cannot read the LLM API key file {path}: {exc.strerror}",
                                         hint="check llm.api_key_file and its permissions (the agent's account must "
                                              "read it)") from None
        return cls(settings.get("openai_url", ""), model=settings.get("openai_model", ""), api_key=key,
                   timeout_s=settings.get("timeout_s", 120))

    def _request(self, path: str, body: dict | None, timeout: float) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method="POST" if data else "GET")
        where = f"{self.url}{path}"
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = " ".join(exc.read().decode(errors="replace").split())[:300]
            if exc.code in (401, 403):
                raise EnvironmentProblem(f"the LLM endpoint {where} refused the API key (HTTP {exc.code}): {detail}",
                                         hint="put the server's key in the file llm.api_key_file names (one "
                                              "line), or leave llm.api_key_file empty for a server without "
                                              "one") from None
            raise EnvironmentProblem(f"the LLM endpoint {where} answered HTTP {exc.code}: {detail}",
                                     hint="check llm.openai_url and llm.openai_model") from None
        except (ConnectionResetError, http.client.HTTPException) as exc:
            # RemoteDisconnected and IncompleteRead included: the server went away mid-request
            raise EnvironmentProblem(f"the LLM endpoint {where} closed the connection before answering "
                                     f"({type(exc).__name__}: {exc})",
                                     hint="the server stopped or crashed while it worked on the request: "
                                          "check its log and restart it, or use --llm none") from None
        except TimeoutError:
            raise EndpointTimeout(f"cannot reach the LLM endpoint {where}: no answer within {timeout:g} s",
                                     hint="is the server running and not overloaded? raise llm.timeout_s if it is "
                                          "only slow, or use --llm none") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EnvironmentProblem(f"cannot reach the LLM endpoint {where}: {reason}",
                                     hint="is the server running and reachable from this node? or use --llm none") from None
        try:
            return json.loads(raw.decode(errors="replace"))
        except ValueError:
            raise EnvironmentProblem(f"the LLM endpoint {where} answered with something other than JSON: "
                                     f"{raw[:120]!r}", hint="is llm.openai_url an OpenAI-compatible API "
                                                            "(its base, ending in /v1)?") from None

    def _first_model(self) -> str:
        models = self._request("/models", None, self.timeout_s).get("data") or []
        if not models:
            raise EnvironmentProblem(f"the LLM endpoint {self.url} lists no model",
                                     hint="set llm.openai_model to the model the server serves")
        return str(models[0]["id"])

    def generate(self, system: str, user: str, *, schema: dict, max_tokens: int, max_seconds: float) -> Answer:
        start = time.perf_counter()
        body = {"model": self.model_id, "temperature": 0, "max_tokens": max_tokens,
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
                "response_format": {"type": "json_object", "schema": for_grammar(schema)}}
        timeout = min(self.timeout_s, max(1.0, max_seconds))
        try:
            doc = self._request("/chat/completions", body, timeout)
        except EndpointTimeout:
            if timeout < self.timeout_s:     # the job's time budget ran out, not the server
                raise BudgetExceeded(f"time_budget: no answer within the {timeout:g} s left to the job") from None
            raise
        seconds = time.perf_counter() - start
        try:
            choice = doc["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise EnvironmentProblem(f"the LLM endpoint {self.url} answered without choices[0].message.content",
                                     hint="is it an OpenAI-compatible chat endpoint?") from None
        text = strict_json(text)
        usage = doc.get("usage") or {}
        stopped = "max_tokens" if choice.get("finish_reason") == "length" else \
            "time_budget" if seconds > max_seconds else "done"
        answer = Answer(text, int(usage.get("completion_tokens", 0)), int(usage.get("prompt_tokens", 0)),
                        seconds, str(doc.get("model") or self.model_id), stopped)
        if stopped == "max_tokens":
            raise BudgetExceeded(f"max_tokens: the answer was cut at {max_tokens} tokens", answer)
        if stopped == "time_budget":
            raise BudgetExceeded(f"time_budget: {seconds:.1f} s, {max_seconds:.1f} s allowed", answer)
        return answer


def for_grammar(schema):
    """The schema with every empty-only array (``maxItems: 0``) given ``items``: llama.cpp's schema
    converter ignores ``maxItems`` on an array without ``items`` and lets the model write any array
    there (and takes ``items: {}`` for no items). Same meaning, a grammar that keeps it."""
    if isinstance(schema, list):
        return [for_grammar(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: for_grammar(v) for k, v in schema.items()}
    if out.get("maxItems") == 0 and "items" not in out and "prefixItems" not in out:
        out["items"] = {"type": "null"}
    return out


def strict_json(text: str) -> str:
    """JSON text as a strict parser reads it. llama-cpp-python's schema grammar lets raw control
    characters (a newline) into strings, which strict JSON forbids; such an answer is read leniently
    and written back with those characters escaped, same content. Text that is not JSON at all is
    returned as it is (the rounds reject it)."""
    try:
        json.loads(text)
        return text
    except ValueError:
        pass
    try:
        return json.dumps(json.loads(text, strict=False), ensure_ascii=False)
    except ValueError:
        return text
