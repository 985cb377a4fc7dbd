"""A scripted model for deterministic tests of the rounds and the verifier.

Each answer in the script is a dict (dumped as JSON), a string (returned as is) or a callable
``(system, user, schema) -> dict|str``, so a test can script a model that obeys an injected
instruction. Once the script is spent, the last answer repeats. Every call is recorded.
"""

from __future__ import annotations

import json

from slurm_diag.agent.llm import Answer, BudgetExceeded


class FakeBackend:
    model_id = "fake"

    def __init__(self, script, *, tokens_per_answer: int = 10):
        self.script = list(script)
        self.calls: list[dict] = []
        self.tokens_per_answer = tokens_per_answer

    def generate(self, system: str, user: str, *, schema: dict, max_tokens: int, max_seconds: float) -> Answer:
        self.calls.append({"system": system, "user": user, "schema": schema})
        if not self.script:
            raise AssertionError("the fake model has no scripted answer")
        step = self.script[min(len(self.calls) - 1, len(self.script) - 1)]
        if callable(step):
            step = step(system, user, schema)
        text = step if isinstance(step, str) else json.dumps(step)
        answer = Answer(text, self.tokens_per_answer, len(user.split()), 0.0, self.model_id)
        if self.tokens_per_answer > max_tokens:
            raise BudgetExceeded(f"{self.tokens_per_answer} tokens wanted, {max_tokens} left", answer)
        return answer
