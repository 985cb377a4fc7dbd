"""The error lines the engine could not explain, across the failed jobs the agent diagnosed: an
administrator's list of what to teach it (`kb add`), the most widespread first.

The agent stores, for every job left `unknown`, the error lines no rule recognises. Here they are
grouped by the signature `kb add` would derive from them (timestamps dropped, numbers and hex
generalised), so one failure seen in forty jobs is one row. A row the site has taught since
(a site entry whose signature matches its example) is left out unless asked for. The lines are
other users' log text: only privileged callers may list them (the CLI checks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from slurm_diag.diagnose.evidence import is_unrecognised
from slurm_diag.diagnose.kb_hits import site_confirmed
from slurm_diag.errors import SdiagError

ID_LIKE = "%:unrecognised-%"


@dataclass
class Gap:
    signature: str
    example: str
    where: str
    lines: int = 0
    jobs: list[str] = field(default_factory=list)
    last_seen: datetime | None = None
    taught_by: str | None = None

    def to_dict(self) -> dict:
        return {"signature": self.signature, "example": self.example, "where": self.where,
                "lines": self.lines, "jobs": self.jobs,
                "last_seen": self.last_seen.isoformat(timespec="seconds") if self.last_seen else None,
                "taught_by": self.taught_by}


def collect(rows: list[tuple[datetime, dict]], entries=()) -> list[Gap]:
    """Group (time, finding) rows, newest first as the store gives them, into gaps: the most jobs
    first, then the most lines. ``entries``: the knowledge base's, to mark what is taught."""
    from slurm_diag.kb.add import signature_from_excerpt
    from slurm_diag.kb.signatures import compiled

    groups: dict[str, Gap] = {}
    for when, finding in rows:
        raw = finding.get("raw") if isinstance(finding, dict) else None
        if not (isinstance(raw, dict) and is_unrecognised(finding) and isinstance(raw.get("text"), str)):
            continue
        try:
            signature = signature_from_excerpt(raw["text"])
        except SdiagError:                 # nothing a signature can be made of: not a teachable line
            continue
        gap = groups.setdefault(signature, Gap(signature, raw["text"], str(raw.get("where", "log"))))
        gap.lines += 1
        job = finding.get("job_id")
        if job and job not in gap.jobs:
            gap.jobs.append(job)
        if gap.last_seen is None or (when and when > gap.last_seen):
            gap.last_seen = when
    site = [e for e in entries if site_confirmed(e)]
    for gap in groups.values():
        gap.taught_by = next((e.id for e in site for p in e.signatures if compiled(p).search(gap.example)), None)
    return sorted(groups.values(), key=lambda g: (-len(g.jobs), -g.lines, g.signature))
