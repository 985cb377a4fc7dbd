"""The engine's diagnosis, optionally reasoned over by an LLM: self-play, verification, cache, budgets.

``explain`` returns the final attribution and an ``llm`` record (stored with the attribution by
the agent loop): status, model, prompt version, evidence hash, tokens, seconds, the verifier's
reasons and the whole transcript. Statuses: ``off`` (no backend), ``accepted`` (the verified
answer is merged), ``rejected`` (the engine's attribution stands), ``budget`` (a token or time
budget ran out: the engine's attribution stands, marked so), ``error`` (the backend failed: the
engine's attribution stands). A cached record is reused when model, prompt version and evidence
hash are the same.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from slurm_diag.agent import prompt, rounds, verifier
from slurm_diag.agent import tools as tools_mod
from slurm_diag.agent.llm import Backend, BudgetExceeded
from slurm_diag.diagnose.attribute import NEXT_STEPS


@dataclass
class RunBudget:
    """Per job and per run limits; a job gets the smaller of its own and what the run has left."""
    job_tokens: int = 512
    job_seconds: float = 60.0
    run_tokens: int = 20000
    run_seconds: float = 1800.0
    spent_tokens: int = 0
    spent_seconds: float = 0.0

    @classmethod
    def from_settings(cls, settings: dict) -> "RunBudget":
        return cls(settings["job_tokens"], settings["job_seconds"], settings["run_tokens"], settings["run_seconds"])

    def for_job(self) -> rounds.Budget:
        return rounds.Budget(min(self.job_tokens, self.run_tokens - self.spent_tokens),
                             min(self.job_seconds, self.run_seconds - self.spent_seconds))

    def charge(self, job: rounds.Budget) -> None:
        self.spent_tokens += job.spent_tokens
        self.spent_seconds += job.spent_seconds


class AnswerCache:
    """llm records keyed by model, prompt version and evidence hash: in memory, and as JSON files
    under ``folder`` when one is given (the agent uses <home>/llm/answers)."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else None
        self.memory: dict[str, dict] = {}

    @staticmethod
    def key(model: str, evidence_hash: str) -> str:
        return hashlib.sha256(f"{model}\0{prompt.PROMPT_VERSION}\0{evidence_hash}".encode()).hexdigest()[:32]

    def get(self, key: str) -> dict | None:
        if key in self.memory:
            return self.memory[key]
        path = self.folder / f"{key}.json" if self.folder else None
        if path and path.is_file():
            try:
                self.memory[key] = json.loads(path.read_text())
                return self.memory[key]
            except ValueError:
                return None
        return None

    def put(self, key: str, record: dict) -> None:
        self.memory[key] = record
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".{key}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(record))
            os.replace(tmp, self.folder / f"{key}.json")


def evidence_hash(diagnosis: dict, log_text: str, job_nodes=None, model_figures=()) -> str:
    doc = {"model": list(model_figures), "findings": [{k: f.get(k) for k in ("id", "source", "severity", "summary", "node", "gpu")}
                        for f in diagnosis["findings"]],
           "engine": {k: diagnosis["attribution"].get(k) for k in ("label", "scope", "supporting")},
           "log": hashlib.sha256(log_text.encode(errors="replace")).hexdigest(), "nodes": sorted(job_nodes or [])}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def explain(diagnosis, log_text: str, backend: Backend | None, *, tools: tools_mod.Tools | None = None,
            job_nodes: list[str] | None = None, cache: AnswerCache | None = None, budget: RunBudget | None = None,
            model_figures: list[str] = ()) -> dict:
    """{"attribution": final, "alternatives": [...], "llm": record} for one diagnosis."""
    d = diagnosis.to_dict() if hasattr(diagnosis, "to_dict") else diagnosis
    engine = d["attribution"]
    ehash = evidence_hash(d, log_text, job_nodes, model_figures)
    if backend is None:
        return _result(d, engine, {"status": "off", "prompt_version": prompt.PROMPT_VERSION, "evidence_hash": ehash})
    key = AnswerCache.key(backend.model_id, ehash)
    if cache is not None and (hit := cache.get(key)) is not None:
        return _result(d, hit.get("merged") or engine, {**hit, "cached": True})
    budget = budget or RunBudget()
    job_budget = budget.for_job()
    nodes, gpus = verifier.allowed_scope(d, job_nodes)
    tools = tools or tools_mod.Tools(nodes=nodes)
    record = {"model": backend.model_id, "prompt_version": prompt.PROMPT_VERSION, "evidence_hash": ehash,
              "cached": False}
    transcript = rounds.Transcript()
    try:
        answer = rounds.self_play(backend, d, log_text, tools=tools, budget=job_budget, transcript=transcript,
                                  allowed_nodes=nodes, allowed_gpus=gpus, model_figures=model_figures)
    except BudgetExceeded as exc:
        record.update(status="budget", reasons=[f"budget overrun: {exc.what}; the engine's attribution stands"])
    except Exception as exc:       # a model that fails leaves the engine's answer, with the reason
        record.update(status="error", reasons=[f"{type(exc).__name__}: {str(exc)[:300]}"])
    else:
        verdict = verifier.verify(answer, d, job_nodes=job_nodes)
        record.update(status="accepted" if verdict.accepted else "rejected", reasons=verdict.reasons, answer=answer)
        if verdict.accepted:
            record["merged"] = merge(engine, answer, d, backend.model_id)
    budget.charge(job_budget)
    record.update(tokens=job_budget.spent_tokens, seconds=round(job_budget.spent_seconds, 3),
                  transcript=transcript.rounds)
    if cache is not None and record["status"] in ("accepted", "rejected"):
        cache.put(key, record)
    return _result(d, record.get("merged") or engine, record)


def merge(engine: dict, answer: dict, d: dict, model: str) -> dict:
    """A verified answer on top of the engine's attribution. The LLM adds an explanation and
    alternatives, and may move the label to one its cited findings argue for (where the engine said
    ``unknown``, to the cause it read in an error line no rule recognises); suspects stay within
    the engine's own (so no proposal can reach a node the engine did not suspect), and next steps
    come from code, never from the model's words."""
    out = copy.deepcopy(engine)
    by_id = {f["id"]: f for f in d["findings"]}
    cited = [c for c in answer["supporting"] if c in by_id]
    if answer["label"] != engine["label"]:
        alt = next((a for a in d["alternatives"] if a["label"] == answer["label"]), {})
        named = set(engine.get("suspect_nodes", []))      # never a node the engine did not suspect
        out.update(label=answer["label"], scope=answer["scope"], component=alt.get("component", answer["label"]),
                   confidence=min(engine["confidence"], alt.get("confidence", 0.5)),
                   supporting=cited, contradicting=sorted(set(engine["supporting"]) - set(cited)),
                   suspect_nodes=[n for n in answer.get("suspect_nodes", []) if n in named],
                   suspect_gpus=[g for g in engine.get("suspect_gpus", []) if g["node"] in named],
                   next_steps=list(NEXT_STEPS[answer["label"]]))
        if out["scope"] == "user":
            out["suspect_nodes"], out["suspect_gpus"] = [], []
    else:
        out["supporting"] = list(dict.fromkeys([*engine["supporting"], *cited]))
    note = " ".join(str(answer.get("explanation", "")).split())[:240]
    if engine["label"] == "unknown" and answer["label"] != "unknown":
        out["explanation"] = (f"no rule decided; the LLM {model} read this cause in the log (not confirmed by a "
                              f"rule): {note or answer['label']}")
    elif note:
        out["explanation"] = f"{engine['explanation']} [LLM {model}, verified: {note}]"
    return out


def _result(d: dict, attribution: dict, record: dict) -> dict:
    alternatives = list(d["alternatives"])
    extra = [a for a in (record.get("answer") or {}).get("alternatives", []) if record.get("status") == "accepted"]
    known = {a["label"] for a in alternatives} | {attribution["label"]}
    alternatives += [{"label": a, "from": "llm"} for a in extra if isinstance(a, str) and a not in known]
    return {"attribution": attribution, "alternatives": alternatives, "llm": record}
