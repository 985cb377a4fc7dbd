"""Hybrid ranking, kept pure: signature hits first, then vector similarity.

Score is in [0, 1]: an entry whose signature matched scores 0.5 + 0.5 * similarity, one found by
similarity alone scores 0.5 * similarity, so a signature hit always ranks above a vector-only hit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from slurm_diag.kb.signatures import SignatureHit

QUERY_CHARS = 1500
_ERRORISH = re.compile(r"error|fail|fatal|xid|warn|kill|exception|timeout|timed out|oom|abort|"
                       r"cancel|denied|no space|stale|panic|assert|mismatch|insufficient|traceback",
                       re.IGNORECASE)


@dataclass(frozen=True)
class Hit:
    id: str
    label: str
    scope: str
    component: str
    severity: str
    action: str
    function: str
    score: float
    similarity: float | None
    problemkey: tuple[str, ...]
    result: str
    matched_signatures: tuple[str, ...]
    why: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "scope": self.scope, "component": self.component,
                "severity": self.severity, "action": self.action, "function": self.function,
                "score": round(self.score, 4),
                "similarity": None if self.similarity is None else round(self.similarity, 4),
                "problemkey": list(self.problemkey), "result": self.result,
                "matched_signatures": list(self.matched_signatures), "why": list(self.why)}


def query_text(cleaned: str, limit: int = QUERY_CHARS) -> str:
    """What to embed from a (possibly long) log: short text as is; otherwise the error-looking
    lines nearest the end, then the tail."""
    if len(cleaned) <= limit:
        return cleaned
    lines = [ln.strip() for ln in cleaned.split("\n") if ln.strip()]
    picked: list[str] = []
    size = 0
    for line in reversed(lines):
        if _ERRORISH.search(line) and size + len(line) < limit:
            picked.append(line)
            size += len(line) + 1
    if not picked:
        return cleaned[-limit:]
    return "\n".join(reversed(picked))


def rank(entries: dict, sig_hits: list[SignatureHit], vector_hits: list[tuple[str, float]],
         top: int, label: str | None = None, component: str | None = None,
         min_similarity: float = 0.0) -> list[Hit]:
    def allowed(e) -> bool:
        return (label is None or e.label == label) and (component is None or e.component == component)

    similarity = {i: s for i, s in vector_hits}
    matched: dict[str, list[SignatureHit]] = {}
    for h in sig_hits:
        matched.setdefault(h.entry_id, []).append(h)

    hits: list[Hit] = []
    for entry_id in set(matched) | set(similarity):
        entry = entries.get(entry_id)
        if entry is None or not allowed(entry):
            continue
        sim = similarity.get(entry_id)
        sigs = matched.get(entry_id, [])
        if not sigs and (sim is None or sim < min_similarity):
            continue
        why = [f"signature /{h.pattern}/ matched: {h.line[:160]}" for h in sigs]
        if sim is not None:
            why.append(f"similar text (cosine {sim:.2f})")
        base = max(sim or 0.0, 0.0)
        score = 0.5 + 0.5 * base if sigs else 0.5 * base
        hits.append(Hit(entry.id, entry.label, entry.scope, entry.component, entry.severity,
                        entry.action, entry.function, score, sim, entry.problemkey, entry.result,
                        tuple(h.pattern for h in sigs), tuple(why)))
    hits.sort(key=lambda h: (-bool(h.matched_signatures), -len(h.matched_signatures), -h.score, h.id))
    return hits[:top]
