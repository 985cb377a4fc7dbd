"""The read-only checks the LLM may ask for in round 2, from a whitelist the code runs.

A check is a name from ``WHITELIST`` and a target. Node checks run only on the job's own nodes;
anything else is refused and the refusal is shown to the model. The functions come from the
caller (the agent loop passes ones that read the store and Slurm); ``kb_search`` over the shipped
knowledge base works everywhere, even on a log alone. Nothing here changes anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

WHITELIST = ("node_state", "health_history", "probe_history", "node_events", "kb_search")
NODE_TOOLS = ("node_state", "health_history", "probe_history", "node_events")
MAX_CHECKS = 3
_WORD = re.compile(r"[a-z0-9_]{3,}")


@dataclass
class Tools:
    nodes: set[str] = field(default_factory=set)            # the job's nodes: node checks go only there
    functions: dict[str, Callable[[str], str]] = field(default_factory=dict)

    def run(self, tool: str, target: str) -> dict:
        target = str(target)[:80]
        if tool not in WHITELIST:
            return {"tool": str(tool)[:40], "target": target, "status": "refused",
                    "result": f"not a permitted check (permitted: {', '.join(WHITELIST)})"}
        if tool in NODE_TOOLS and target not in self.nodes:
            return {"tool": tool, "target": target, "status": "refused",
                    "result": "not one of the job's nodes" + (f" ({', '.join(sorted(self.nodes))})" if self.nodes else
                                                               " (no nodes known for this job)")}
        fn = self.functions.get(tool) or (kb_search_text if tool == "kb_search" else None)
        if fn is None:
            return {"tool": tool, "target": target, "status": "unavailable",
                    "result": "no record source for this check here (a log alone)"}
        try:
            return {"tool": tool, "target": target, "status": "ok", "result": str(fn(target))[:1000]}
        except Exception as exc:     # a check that fails is reported to the model, never raised
            return {"tool": tool, "target": target, "status": "failed", "result": f"{type(exc).__name__}: {exc}"[:300]}


_ENTRIES = None


def _entries():
    global _ENTRIES
    if _ENTRIES is None:
        from slurm_diag.kb import load_all
        _ENTRIES = load_all()
    return _ENTRIES


def kb_search(query: str, top: int = 3) -> list[dict]:
    """Shipped knowledge-base entries sharing the most words with the query (no vector index:
    cheap enough for every round; the agent loop may pass the chromadb search instead)."""
    words = set(_WORD.findall(query.lower()))
    if not words:
        return []
    scored = []
    for e in _entries():
        text = " ".join((*e.problemkey, e.rawtext, e.result)).lower()
        score = sum(1 for w in words if w in text)
        if score:
            scored.append((score, e.id, e))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [{"id": e.id, "label": e.label, "text": f"{e.rawtext} -> {e.result}"} for _, _, e in scored[:top]]


def kb_search_text(query: str) -> str:
    return "; ".join(f"{h['id']} ({h['label']}): {h['text'][:200]}" for h in kb_search(query)) or "no entry"


def signature_hits(log_text: str, top: int = 3) -> list[dict]:
    from slurm_diag.kb import match_signatures

    by_id = {e.id: e for e in _entries()}
    out, seen = [], set()
    for hit in match_signatures(log_text, entries=_entries()):
        if hit.entry_id in seen:
            continue
        seen.add(hit.entry_id)
        e = by_id[hit.entry_id]
        out.append({"id": e.id, "label": e.label, "text": f"{e.rawtext} -> {e.result}"})
        if len(out) >= top:
            break
    return out
