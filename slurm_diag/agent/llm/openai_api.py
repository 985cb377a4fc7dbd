"""The ``openai`` backend: any OpenAI-compatible chat endpoint (vLLM, llama.cpp's server, NIM).

Plain HTTP with the standard library. The answer schema goes as ``response_format``
``{"type": "json_object", "schema": ...}``, which llama.cpp's server and vLLM both honour (llama.cpp
refuses ``json_schema``); a server that ignores it may answer anything, and then the rounds reject
the answer as not JSON and the verifier never sees it. The key is read from a file, never from
the config itself, and never printed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from slurm_diag.agent.llm import Answer, BudgetExceeded
from slurm_diag.errors import EnvironmentProblem, UsageError


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
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read().decode())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise EnvironmentProblem(f"the LLM endpoint {self.url}{path} answered HTTP {exc.code}: {detail}",
                                     hint="check llm.openai_url, llm.openai_model and the key file") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EnvironmentProblem(f"cannot reach the LLM endpoint {self.url}{path}: {reason}",
                                     hint="is the server running and reachable from this node? or use --llm none") from None

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
                "response_format": {"type": "json_object", "schema": schema}}
        doc = self._request("/chat/completions", body, min(self.timeout_s, max(1.0, max_seconds)))
        seconds = time.perf_counter() - start
        try:
            choice = doc["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise EnvironmentProblem(f"the LLM endpoint {self.url} answered without choices[0].message.content",
                                     hint="is it an OpenAI-compatible chat endpoint?") from None
        usage = doc.get("usage") or {}
        answer = Answer(text, int(usage.get("completion_tokens", 0)), int(usage.get("prompt_tokens", 0)),
                        seconds, str(doc.get("model") or self.model_id))
        if choice.get("finish_reason") == "length":
            raise BudgetExceeded(f"max_tokens: the answer was cut at {max_tokens} tokens", answer)
        if seconds > max_seconds:
            raise BudgetExceeded(f"time_budget: {seconds:.1f} s, {max_seconds:.1f} s allowed", answer)
        return answer
