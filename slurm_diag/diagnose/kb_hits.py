"""Knowledge-base signatures that match the job's log, as evidence: asked only when the engine's
own signs left the question open (loading the entries costs about a quarter of a second; chromadb
is never loaded here).

A shipped entry argues for its label only as weakly as a symptom (tier 4): the knowledge base
suggests, the evidence decides. An entry this site added from a confirmed attribution (`kb add`,
`actions kb-add`) is the site's own verdict on that exact failure, so a specific enough signature
of one decides like a named error (tier 2) and the next job failing the same way is explained; a
short or generic one ("Killed"), or one whose line the engine or a shipped entry already reads as a
symptom many causes print (an NCCL timeout), stays a symptom. Either way its advice joins the next steps, and no
knowledge-base finding names a node, so none of them can drain one."""

from __future__ import annotations

import re

from slurm_diag.diagnose.evidence import Evidence, finding

KB_TIER = 4
SITE_TIER = 2
MAX_HITS = 5
MIN_SITE_LETTERS = 20     # literal letters and digits a site signature needs to decide
_REGEX_PARTS = re.compile(r"0x\[0-9a-fA-F\]\+|\[[^\]]*\][+*?]?|\\[dswDSWb][+*?]?|\\.|[\^$.|?*+(){}]")


def site_confirmed(entry) -> bool:
    """Added at this site from a confirmed attribution (`kb add` writes <home>/kb/added.jsonl), not
    shipped with slurm-diag nor read from a configured content directory."""
    from slurm_diag.kb.entries import ADDED_FILE

    return (isinstance(entry.source, dict) and entry.source.get("kind") == "attribution"
            and entry.origin.rpartition(":")[0].endswith("/" + ADDED_FILE))


def literal_letters(pattern: str) -> int:
    """How many letters and digits a signature matches literally (classes and operators removed)."""
    return sum(ch.isalnum() for ch in _REGEX_PARTS.sub(" ", pattern))


def decisive(pattern: str) -> bool:
    """A signature that can decide: at least MIN_SITE_LETTERS literal letters, all of them required
    (no alternation and nothing optional: `text|.` or `(?:text)?` match any line)."""
    bare = re.sub(r"\\.", "", pattern)
    return literal_letters(pattern) >= MIN_SITE_LETTERS and not any(ch in bare for ch in "|?*{")


def known_symptom(line: str, entries) -> str | None:
    """Why a line a site entry matched cannot decide: the engine or a shipped entry already knows it
    as a symptom that many causes print (a collective that timed out, a process killed). The site
    confirmed its cause for one job; the next job printing it may have failed another way."""
    from slurm_diag.diagnose import signs
    from slurm_diag.kb.signatures import compiled

    lowered = line.lower()
    for sign in signs.candidates(lowered):
        if sign.tier >= KB_TIER and sign.search(line, lowered):
            return f"the engine reads it as a symptom ({sign.summary})"
    for entry in entries:
        if not site_confirmed(entry) and any(compiled(p).search(line) for p in entry.signatures):
            return f"the shipped knowledge base knows it ({entry.id}) and only suggests a cause for it"
    return None


def _tier(entry, pattern: str, line: str, entries) -> int:
    if site_confirmed(entry) and decisive(pattern) and known_symptom(line, entries) is None:
        return SITE_TIER
    return KB_TIER


def _summary(entry, tier: int) -> str:
    if tier == SITE_TIER:        # no job id: the job it was confirmed on may be another user's
        return f"a failure this site confirmed before ({entry.id}): {entry.result[:240]}"
    return f"knowledge base {entry.id} ({entry.label}): {entry.result[:240]}"


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
        tier = _tier(entry, hit.pattern, hit.line, entries)
        out.append(Evidence(finding(f"kb:{hit.entry_id}", "kb", "WARN", _summary(entry, tier),
                                    job_id=job_id, raw={"entry": hit.entry_id, "signature": hit.pattern,
                                                        "text": hit.line, "where": where,
                                                        "site_confirmed": tier == SITE_TIER}),
                            entry.label, entry.scope, entry.component, tier))
    return out


def advice(found: list[Evidence]) -> list[str]:
    return [f"the knowledge base ({e.finding['raw']['entry']}): {e.finding['summary'].split(': ', 1)[-1]}"
            for e in found if e.finding["source"] == "kb"][:2]
