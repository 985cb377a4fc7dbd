"""The circuit breaker's latch as the store keeps it: a pair of events in the append-only audit log
(subject ``breaker``); the latest decides. actions/breaker.py decides when to trip it and who may
reset it; store/ingest.py trips it for a hook whose spooled record says the limit stopped it.
Both write through here, so there is one record of a trip.
"""

from __future__ import annotations

SUBJECT = "breaker"
TRIPPED, RESET = "breaker.tripped", "breaker.reset"


def state(store) -> dict:
    """{"tripped": bool, and for the latest event: "at", "by", "why"}."""
    events = [e for e in store.audit_log(subject=SUBJECT) if e["event"] in (TRIPPED, RESET)]
    if not events:
        return {"tripped": False, "at": None, "by": None, "why": None}
    last = events[-1]
    return {"tripped": last["event"] == TRIPPED, "at": last["time"].isoformat(), "by": last["actor"],
            "why": (last["detail"] or {}).get("why")}


def trip(store, actor: str, why: str, proposal_id: str | None = None) -> None:
    store.audit(actor, TRIPPED, SUBJECT, {"why": why, "proposal": proposal_id})


def reset(store, actor: str, note: str | None = None) -> dict:
    """Close the latch; returns its state before."""
    before = state(store)
    store.audit(actor, RESET, SUBJECT, {"why": note or "reset by an approver", "was": before})
    return before
