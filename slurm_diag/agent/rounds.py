"""Three rounds of self-play over one diagnosis (arXiv 2411.05349's method, small-model sized).

1. extract: keywords and entities from the evidence and the log; the code retrieves knowledge
   entries for them (and the entries whose signatures match the log).
2. critique: the engine's hypothesis and the model's own; the model may ask for up to
   ``tools.MAX_CHECKS`` read-only checks from the whitelist, which the code runs.
3. attribute: the final answer, constrained to the label taxonomy, the finding ids that exist
   and the job's own nodes and GPUs.
Every prompt and answer goes into the transcript, which the caller stores.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from slurm_diag.agent import prompt, tools as tools_mod
from slurm_diag.agent.llm import Backend, BudgetExceeded
from slurm_diag.schemas import ATTRIBUTION_LABELS

ROUND_TOKENS = {"extract": 64, "critique": 128, "attribute": 160}


@dataclass
class Budget:
    """What one job may spend; the run's remainder caps it (see reason.RunBudget)."""
    tokens: int
    seconds: float
    spent_tokens: int = 0
    spent_seconds: float = 0.0

    def left(self) -> tuple[int, float]:
        return self.tokens - self.spent_tokens, self.seconds - self.spent_seconds


@dataclass
class Transcript:
    rounds: list[dict] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(r.get("tokens", 0) for r in self.rounds)

    @property
    def seconds(self) -> float:
        return round(sum(r.get("seconds", 0.0) for r in self.rounds), 3)


def extract_schema() -> dict:
    words = {"type": "array", "maxItems": 4, "items": {"type": "string", "maxLength": 24}}
    return {"type": "object", "additionalProperties": False, "required": ["keywords", "entities"],
            "properties": {"keywords": words, "entities": words}}


def critique_schema() -> dict:
    check = {"type": "object", "additionalProperties": False, "required": ["tool", "target"],
             "properties": {"tool": {"enum": list(tools_mod.WHITELIST)}, "target": {"type": "string", "maxLength": 24}}}
    return {"type": "object", "additionalProperties": False, "required": ["critique", "agrees", "checks"],
            "properties": {"critique": {"type": "string", "maxLength": 160}, "agrees": {"type": "boolean"},
                           "checks": {"type": "array", "maxItems": 2, "items": check}}}


def attribute_schema(finding_ids: list[str], nodes: list[str], gpus: list[int]) -> dict:
    def choice(values, **extra):
        return {"type": "array", "maxItems": 0} if not values else \
            {"type": "array", "maxItems": 4, "items": {"enum": list(values), **extra}}
    return {"type": "object", "additionalProperties": False,
            "required": ["label", "scope", "supporting", "suspect_nodes", "suspect_gpus", "alternatives", "explanation"],
            "properties": {"label": {"enum": list(ATTRIBUTION_LABELS)}, "scope": {"enum": ["user", "infra"]},
                           "supporting": choice(finding_ids), "suspect_nodes": choice(sorted(nodes)),
                           "suspect_gpus": choice(sorted(gpus)),
                           "alternatives": {"type": "array", "maxItems": 2, "items": {"enum": list(ATTRIBUTION_LABELS)}},
                           "explanation": {"type": "string", "maxLength": 200}}}


def _ask(backend: Backend, name: str, user: str, schema: dict, budget: Budget, transcript: Transcript) -> dict:
    tokens_left, seconds_left = budget.left()
    if tokens_left <= 0 or seconds_left <= 0:
        raise BudgetExceeded(f"the job's budget ({budget.tokens} tokens, {budget.seconds:g} s) was spent "
                             f"before round {name}")
    entry = {"round": name, "prompt": user}
    transcript.rounds.append(entry)
    started = time.perf_counter()
    try:
        answer = backend.generate(prompt.SYSTEM, user, schema=schema,
                                  max_tokens=min(ROUND_TOKENS[name], tokens_left), max_seconds=seconds_left)
    except BudgetExceeded as exc:
        spent = exc.answer
        entry.update(answer=spent.text if spent else None, tokens=spent.tokens if spent else 0,
                     seconds=round(time.perf_counter() - started, 3), error=f"budget: {exc.what}")
        budget.spent_tokens += entry["tokens"]
        budget.spent_seconds += entry["seconds"]
        raise
    budget.spent_tokens += answer.tokens
    budget.spent_seconds += answer.seconds
    entry.update(answer=answer.text, tokens=answer.tokens, prompt_tokens=answer.prompt_tokens,
                 seconds=round(answer.seconds, 3), model=answer.model)
    try:
        parsed = json.loads(answer.text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        entry["error"] = "the answer is not a JSON object"
        raise ValueError(f"round {name}: the answer is not a JSON object: {answer.text[:120]!r}")
    return parsed


def self_play(backend: Backend, diagnosis: dict, log_text: str, *, tools: tools_mod.Tools, budget: Budget,
              transcript: Transcript, allowed_nodes: set[str], allowed_gpus: set[int],
              model_figures: list[str] = ()) -> dict:
    """The three rounds; returns the final answer (parsed, not yet verified). Each round goes into
    ``transcript`` as it happens, so a round that failed or ran out of budget is kept too."""
    evidence = prompt.evidence_xml(diagnosis["findings"])
    engine = prompt.engine_xml(diagnosis["attribution"])
    log = prompt.log_xml(log_text)

    r1 = _ask(backend, "extract", prompt.render(
        evidence, log, "<task>Round 1 of 3. List up to 4 keywords (error names, codes) and up to 4 entities "
        "(nodes, GPUs, libraries) from the evidence that matter for the cause.</task>"),
        extract_schema(), budget, transcript)
    query = " ".join(str(w) for w in [*r1.get("keywords", []), *r1.get("entities", [])])
    knowledge, seen = [], set()
    for hit in tools_mod.signature_hits(log_text) + (tools_mod.kb_search(query) if query else []):
        if hit["id"] not in seen:
            seen.add(hit["id"])
            knowledge.append(hit)
    knowledge = knowledge[:4]
    transcript.rounds[-1]["retrieved"] = [k["id"] for k in knowledge]
    # evidence and log first in every round: the local backend reuses the prefix the rounds share
    context = prompt.render(evidence, log, engine, prompt.knowledge_xml(knowledge),
                            prompt.model_xml(list(model_figures)), prompt.rules_xml())

    r2 = _ask(backend, "critique", prompt.render(
        context, "<task>Round 2 of 3. Critique the engine's hypothesis and your own: which findings support "
        "it, which argue against it. Ask for checks only if they would decide: node_state, health_history, "
        "probe_history, node_events and kb_search read records; probe asks for a measurement of one of the "
        "job's nodes, answered on a later pass.</task>"),
        critique_schema(), budget, transcript)
    checks = [tools.run(c.get("tool"), c.get("target", "")) for c in (r2.get("checks") or [])[:tools_mod.MAX_CHECKS]
              if isinstance(c, dict)]
    transcript.rounds[-1]["checks"] = checks

    critique = prompt.clean(str(r2.get("critique", "")), 300)
    final = _ask(backend, "attribute", prompt.render(
        context, prompt.checks_xml(checks), f"<critique>{critique}</critique>",
        "<task>Round 3 of 3. Give the final attribution: one label from <labels>, its scope, the finding "
        "ids that support it, suspect nodes and GPUs only if a finding names them, up to 2 alternative "
        "labels and a one-sentence explanation.</task>"),
        attribute_schema([f["id"] for f in diagnosis["findings"]], sorted(allowed_nodes), sorted(allowed_gpus)),
        budget, transcript)
    final.setdefault("critique", r2.get("critique", ""))
    return final
