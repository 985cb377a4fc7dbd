"""The checks the LLM may ask for in round 2, from a whitelist the code runs.

A check is a name from ``WHITELIST`` and a target. Node checks run only on the job's own nodes;
anything else is refused and the refusal is shown to the model. The functions come from the
caller (the agent loop passes ``record_functions``: Slurm and the store, read only); ``kb_search``
over the shipped knowledge base works everywhere, even on a log alone. ``probe`` only asks: the
loop submits the sweep afterwards, within its cap per run (agent/probing.py). Nothing here
changes anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

WHITELIST = ("node_state", "health_history", "probe_history", "node_events", "kb_search", "probe")
NODE_TOOLS = ("node_state", "health_history", "probe_history", "node_events", "probe")
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


def record_functions(client, store, probe_wanted: list[str] | None = None) -> dict[str, Callable[[str], str]]:
    """The node checks over Slurm and the store, each answered in a few short lines. A ``probe``
    request is appended to ``probe_wanted`` for the loop to act on (None: probes are not offered)."""
    from datetime import datetime, timedelta

    def node_state(node: str) -> str:
        n = client.get_node(node)
        return f"{n.name}: {n.state}{'+DRAIN' if n.drained else ''}, reason: {n.reason or 'none'}"

    def health_history(node: str) -> str:
        lines = []
        for r in store.health_reports(node=node, limit=5):
            bad = [f"{c['name']} {c['status']}: {c.get('message', '')[:60]}" for c in r.get("checks", [])
                   if c.get("status") != "OK"]
            lines.append(f"{r.get('time')} {r.get('context')}: {'; '.join(bad) or 'all OK'}")
        return " | ".join(lines) or "no health record"

    def probe_history(node: str) -> str:
        return " | ".join(f"{r.get('time')} {r.get('probe')}: {(r.get('verdict') or {}).get('status')} "
                          f"{(r.get('verdict') or {}).get('message', '')[:80]}"
                          for r in store.probe_results(node=node, limit=5)) or "no probe result"

    def node_events(node: str) -> str:
        now = datetime.now().astimezone()
        return " | ".join(f"{e.start} {e.state}: {e.reason[:60]} (by {e.user})"
                          for e in client.node_events(now - timedelta(days=2), now, [node])[-5:]) or "no event in 2 days"

    functions = {"node_state": node_state, "health_history": health_history, "probe_history": probe_history,
                 "node_events": node_events}
    if probe_wanted is not None:
        def probe(node: str) -> str:
            probe_wanted.append(node)
            return f"a probe of {node} is requested; the agent submits it after this job (capped per run)"
        functions["probe"] = probe
    return functions


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
