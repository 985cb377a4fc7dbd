"""A typed refusal: which rule said no, and why, in words a person can act on.

Rule refusals exit 1 (the command ran and found that the action may not proceed); a caller who
may not approve at all gets ``PermissionRefused`` (exit 4) from ``slurm_diag.errors`` instead.
"""

from __future__ import annotations

from slurm_diag.errors import EXIT_FAILURE, SdiagError

# the rules, by name (tests and the agent match on these, never on the wording)
WHITELIST = "whitelist"
NO_NODE_EVIDENCE = "no_node_evidence"
USER_SCOPE = "user_scope"
NOT_INFRA = "not_infra"
DRAINED_BY_OTHER = "drained_by_other"
ALREADY_DRAINED = "already_drained"
NOT_SDIAG_DRAIN = "not_sdiag_drain"
NOT_CLEAN = "not_clean"
NOT_REQUEUEABLE = "not_requeueable"
BREAKER = "breaker"
EXPIRED = "expired"
HEALTHY_AGAIN = "healthy_again"
EVIDENCE_CHANGED = "evidence_changed"
DUPLICATE = "duplicate"
STATE = "state"
SLURM = "slurm"            # execution: Slurm did not answer, nothing changed
VERIFY = "verify"          # execution: Slurm does not show what was done


class Refused(SdiagError):
    exit_code = EXIT_FAILURE

    def __init__(self, rule: str, message: str, *, hint: str | None = None):
        super().__init__(f"refused ({rule}): {message}", hint=hint)
        self.rule = rule
