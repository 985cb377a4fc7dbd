"""Knowledge-base signatures that match the job's log, as evidence: asked only when the engine's
own signs left the question open (loading the entries costs about a quarter of a second; chromadb
is never loaded here). A hit argues for its entry's label only as weakly as a symptom (tier 4):
the knowledge base suggests, the evidence decides. Its advice joins the next steps."""

from __future__ import annotations

from slurm_diag.diagnose.evidence import Evidence, finding

KB_TIER = 4
MAX_HITS = 5


def from_log(lines, entries, *, where: str = "log", job_id=None) -> list[Evidence]:
    from slurm_diag.kb.signatures import scan

    by_id = {e.id: e for e in entries}
    out: list[Evidence] = []
    seen: set[str] = set()
    for hit in scan([ln for ln in lines if ln.strip()], entries, limit_per_entry=1):
        if hit.entry_id in seen or len(out) >= MAX_HITS:
            continue
        seen.add(hit.entry_id)
        entry = by_id[hit.entry_id]
        out.append(Evidence(finding(f"kb:{hit.entry_id}", "kb", "WARN",
                                    f"knowledge base {hit.entry_id} ({entry.label}): {entry.result[:240]}",
                                    job_id=job_id, raw={"entry": hit.entry_id, "signature": hit.pattern,
                                                        "line": hit.line, "where": where}),
                            entry.label, entry.scope, entry.component, KB_TIER))
    return out


def advice(found: list[Evidence]) -> list[str]:
    return [f"the knowledge base ({e.finding['raw']['entry']}): {e.finding['summary'].split(': ', 1)[-1]}"
            for e in found if e.finding["source"] == "kb"][:2]
