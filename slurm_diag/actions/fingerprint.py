"""What a proposal rests on, fixed when it is made: the findings and the attribution are copied
into it and hashed; the hashes go into the append-only audit log with the proposal, so a copy
changed afterwards is caught at approval and at execution. So is a state or an expiry written into
the proposals table by hand (a rejected proposal set back to proposed, an expiry pushed out): the
audit log's own transitions and the expiry it recorded decide."""

from __future__ import annotations

import hashlib
import json

from slurm_diag.actions.refusal import EVIDENCE_CHANGED, Refused


def digest(document) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def hashes(findings: list[dict], attribution: dict | None, reason: str) -> dict[str, str]:
    out = {f"finding:{f['id']}": digest(f) for f in findings}
    if attribution is not None:
        out["attribution"] = digest(attribution)
    out["reason"] = digest(reason)
    return out


def key(action: str, target: str, evidence_hashes: dict[str, str], origin: str) -> str:
    """The same action on the same evidence has the same key. An agent's proposal is keyed by its
    evidence (not its wording); a person's by its reason, which is its evidence."""
    basis = {k: v for k, v in evidence_hashes.items() if origin == "person" or k != "reason"}
    return digest({"action": action, "target": target, "evidence": basis})


FIXED = ("action", "target", "reason", "origin", "findings", "attribution", "evidence_hashes", "command",
         "drain_reason", "model", "prompt_version", "expires")
STATES = ("proposed", "approved", "rejected", "expired", "executing", "done", "failed")


def audited_state(audit: list[dict]) -> str | None:
    """The state the append-only log last moved the proposal to (rows oldest first)."""
    state = None
    for row in audit:
        event = row["event"]
        if event == "proposal.created":
            state = "proposed"
        elif event.startswith("proposal.") and event.removeprefix("proposal.") in STATES:
            state = event.removeprefix("proposal.")
    return state


def verify(proposal: dict, audit: list[dict]) -> None:
    """Refuse when what the proposal would do, or rests on, differs from what the append-only audit
    log recorded when it was proposed (the proposals table itself can be written)."""
    created = next((row for row in audit if row["event"] == "proposal.created"), None)
    recorded = (created or {}).get("detail") or {}
    now = hashes(proposal.get("findings", []), proposal.get("attribution"), proposal["reason"])
    changed = sorted(k for k in FIXED if proposal.get(k) != recorded.get(k))
    if recorded.get("evidence_hashes") != now:
        changed.append("hashes")
    if audited_state(audit) != proposal.get("state"):
        changed.append(f"state {proposal.get('state')} where the log says {audited_state(audit)}")
    if changed:
        raise Refused(EVIDENCE_CHANGED,
                      f"proposal {proposal['id']} differs from what the audit log recorded when it was proposed "
                      f"({', '.join(changed)})",
                      hint="someone edited the proposal's row; reject it and propose again from the store's findings")
