"""llama.cpp's OpenAI-compatible server (``python -m llama_cpp.server`` from llama-cpp-python) on
127.0.0.1, for the openai backend's tests and benchmark: a real served model on this machine.

``start`` runs it through the process gateway (its own process group, output to a log file),
waits until ``/v1/models`` answers, and returns a ``Server`` whose ``stop`` kills the whole group.
A server that exits or does not answer in time is stopped and reported with its log's last lines.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from slurm_diag import process
from slurm_diag.errors import EnvironmentProblem

INSTALL = (f"`make setup`, or by hand from the repository: CMAKE_ARGS=-DGGML_NATIVE=OFF {sys.executable} -m pip "
           "install -e '.[llm-server]' (a first build takes 7 to 15 minutes)")
NEEDED = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")


@dataclass
class Server:
    url: str            # the base URL, ending in /v1
    api_key: str
    model_id: str
    proc: subprocess.Popen
    log: Path

    def stop(self) -> None:
        process.kill_group(self.proc)

    def running(self) -> bool:
        return self.proc.poll() is None


def missing_packages() -> list[str]:
    return [name for name in NEEDED if find_spec(name) is None]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(gguf: Path, *, model_id: str, log: Path, threads: int = 2, n_ctx: int = 2048,
          ready_s: float = 120) -> Server:
    """The server on a free port of 127.0.0.1 behind a fresh API key, once it lists ``model_id``."""
    missing = missing_packages()
    if missing:
        raise EnvironmentProblem(f"llama.cpp's server needs packages that are not installed: {', '.join(missing)}",
                                 hint=f"install llama-cpp-python[server]: {INSTALL}")
    key = secrets.token_hex(16)
    port = free_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", model_id,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
            "--n_threads", str(threads), "--n_threads_batch", str(threads), "--api_key", key,
            # no logprobs are asked for; the default keeps every position's logits and decodes
            # about ten times slower (2-4 instead of 45-54 tokens/s for SmolLM2 on 2 cores)
            "--logits_all", "False"]
    server = Server(f"http://127.0.0.1:{port}/v1", key, model_id, process.spawn(argv, log=log), Path(log))
    deadline = time.monotonic() + ready_s
    while time.monotonic() < deadline:
        if not server.running():
            raise EnvironmentProblem(f"llama.cpp's server exited with {server.proc.returncode} before it "
                                     f"answered; its log ends: {_tail(server.log)}",
                                     hint=f"read {server.log}; a missing piece installs with: {INSTALL}")
        if _answers(server):
            return server
        time.sleep(0.2)
    server.stop()
    raise EnvironmentProblem(f"llama.cpp's server did not answer {server.url}/models within {ready_s:g} s; "
                             f"its log ends: {_tail(server.log)}", hint=f"read {server.log}")


def _answers(server: Server) -> bool:
    req = urllib.request.Request(server.url + "/models", headers={"Authorization": f"Bearer {server.api_key}"})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return any(m.get("id") == server.model_id for m in json.loads(resp.read()).get("data", []))
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _tail(log: Path, lines: int = 5) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:]) or "(empty)"
    except OSError:
        return "(no log)"
