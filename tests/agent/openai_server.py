"""A tiny OpenAI-compatible HTTP server for tests: the real SmolLM2 behind /v1/chat/completions.

It honours ``response_format`` ``{"type": "json_object", "schema": ...}`` as llama.cpp's server does
(the schema constrains decoding) and refuses ``json_schema`` with HTTP 400, as llama.cpp does. A
real model and a real HTTP round trip on 127.0.0.1, for the openai backend's tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slurm_diag.agent.llm import BudgetExceeded


def serve(backend, api_key: str = ""):
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, code: int, doc: dict) -> None:
            body = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _authorised(self) -> bool:
            if api_key and self.headers.get("Authorization") != f"Bearer {api_key}":
                self._send(401, {"error": {"message": "invalid api key"}})
                return False
            return True

        def do_GET(self):
            if self._authorised() and self.path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": backend.model_id, "object": "model"}]})

        def do_POST(self):
            if not self._authorised():
                return
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fmt = req.get("response_format") or {}
            if fmt.get("type") != "json_object" or "schema" not in fmt:
                self._send(400, {"error": {"message": "response_format: only json_object with a schema is supported"}})
                return
            msgs = {m["role"]: m["content"] for m in req["messages"]}
            finish = "stop"
            with lock:
                try:
                    ans = backend.generate(msgs.get("system", ""), msgs["user"], schema=fmt["schema"],
                                           max_tokens=req.get("max_tokens", 256), max_seconds=300)
                except BudgetExceeded as exc:
                    ans, finish = exc.answer, "length"
            self._send(200, {"model": backend.model_id, "object": "chat.completion",
                             "choices": [{"index": 0, "finish_reason": finish,
                                          "message": {"role": "assistant", "content": ans.text}}],
                             "usage": {"prompt_tokens": ans.prompt_tokens, "completion_tokens": ans.tokens}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
