"""LLM backends behind one protocol: generate a JSON answer under a JSON Schema, within budgets.

Registration by name in ``BACKENDS``: ``transformers`` (in-process, schema-constrained with
llguidance), ``openai`` (any OpenAI-compatible endpoint), ``fake`` (scripted answers for tests)
and ``none`` (the engine alone: no backend at all). Heavy packages load only inside the backend
that needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from slurm_diag.errors import UsageError

NAMES = ("none", "fake", "transformers", "openai")


@dataclass(frozen=True)
class Answer:
    text: str               # the model's answer (JSON text when a schema was given)
    tokens: int             # tokens generated
    prompt_tokens: int      # tokens read
    seconds: float
    model: str              # which model answered (path, name or "fake")
    stopped: str = "done"   # done | max_tokens | time_budget


class BudgetExceeded(Exception):
    """A backend ran out of its token or time budget before the answer was complete."""

    def __init__(self, what: str, answer: Answer | None = None):
        super().__init__(what)
        self.what = what
        self.answer = answer


class Backend(Protocol):
    model_id: str

    def generate(self, system: str, user: str, *, schema: dict, max_tokens: int,
                 max_seconds: float) -> Answer:
        """A JSON answer that parses and matches ``schema`` (constrained where the backend can);
        raises BudgetExceeded when ``max_tokens`` or ``max_seconds`` ran out first."""
        ...


def make_backend(name: str, cfg=None, *, script=None) -> Backend | None:
    """The backend ``name`` as the config's ``llm`` section sets it up; None for ``none``."""
    settings = _settings(cfg)
    if name == "none":
        return None
    if name == "fake":
        from slurm_diag.agent.llm.fake import FakeBackend
        return FakeBackend(script or [])
    if name == "transformers":
        from slurm_diag.agent.llm.local import load_local
        return load_local(settings["model_path"], cache_dir=_home(cfg) / "llm", device=settings["device"])
    if name == "openai":
        from slurm_diag.agent.llm.openai_api import OpenAIBackend
        return OpenAIBackend.from_settings(settings)
    raise UsageError(f"unknown LLM backend {name!r}", hint="use one of: " + ", ".join(NAMES))


def _config(cfg):
    if cfg is None:
        from slurm_diag import config
        return config.load()
    return cfg


def _settings(cfg) -> dict:
    return _config(cfg).get("llm")


def _home(cfg):
    return _config(cfg).home
