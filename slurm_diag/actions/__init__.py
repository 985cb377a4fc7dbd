"""Admin-approved node actions: the agent (or a person) proposes a drain, resume or requeue; an
approver (by uid) decides; the approver's own command executes it through the Slurm adapter and
verifies it; every step goes to the append-only audit log. One circuit breaker counts every drain
slurm-diag holds (health/cap.py). See proposals.py for the API."""

from slurm_diag.actions.action_context import Context
from slurm_diag.actions.proposals import approve, expire_due, housekeeping, propose, reject
from slurm_diag.actions.refusal import Refused

__all__ = ["Context", "Refused", "approve", "expire_due", "housekeeping", "propose", "reject"]
