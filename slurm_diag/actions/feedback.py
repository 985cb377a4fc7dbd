"""Feedback into the knowledge base: an approved (executed) infra attribution becomes a `kb add`
entry, so the next job failing the same way is recognised from its log."""

from __future__ import annotations

from slurm_diag.actions.refusal import NOT_INFRA, STATE, Refused


def kb_entry_input(proposal: dict, log_text: str | None) -> tuple[dict, str]:
    """(attribution, excerpt) for ``kb.add.add`` from a done proposal with an infra attribution."""
    if proposal["state"] != "done":
        raise Refused(STATE, f"proposal {proposal['id']} is {proposal['state']}: only an approved and executed "
                             "proposal's attribution goes into the knowledge base")
    attribution = proposal.get("attribution")
    if not attribution or attribution["scope"] != "infra":
        raise Refused(NOT_INFRA, f"proposal {proposal['id']} has no infra attribution (a person's own proposal "
                                 "has none): nothing to add", hint="use `sdiag-agent kb add` with an attribution file")
    excerpt = log_text or "\n".join(f["summary"] for f in proposal.get("findings", []))
    return {k: v for k, v in attribution.items()}, excerpt
