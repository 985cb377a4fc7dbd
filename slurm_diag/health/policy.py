"""Who may be drained and when a node comes back: pure decisions over a HealthReport, the node's
Slurm record (``slurm_diag.slurm.records.Node``: name, drained, reason) and the ``health.policy``
config. Drains by slurm-diag carry reasons starting with ``sdiag:``; a drain with any other reason
belongs to someone else and is never touched. How many nodes may be held drained is cap.py's."""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "sdiag:"
MAX_REASON = 220


@dataclass(frozen=True)
class Decision:
    action: str                 # "drain", "resume" or "none"
    reason: str | None
    note: str
    clean_runs: int


def is_sdiag_reason(reason: str | None) -> bool:
    return bool(reason) and reason.strip().startswith(PREFIX)


def drain_findings(report: dict, policy: dict) -> list[dict]:
    """Checks that ask for a drain: CRITICAL from a drain check, UNKNOWN too when policy says so,
    except an UNKNOWN marked ``not_a_node_fault`` (slurm-diag's own trouble, e.g. a missing package)."""
    allowed = set(policy["drain_checks"])
    statuses = {"CRITICAL"} | ({"UNKNOWN"} if policy["unknown"] == "drain" else set())
    return [c for c in report["checks"] if c["name"] in allowed and c["status"] in statuses
            and not (c["status"] == "UNKNOWN" and (c.get("data") or {}).get("not_a_node_fault"))]


def is_clean(report: dict, policy: dict) -> bool:
    """No CRITICAL or UNKNOWN among the drain checks: counts toward resuming."""
    allowed = set(policy["drain_checks"])
    return not any(c["name"] in allowed and c["status"] in ("CRITICAL", "UNKNOWN") for c in report["checks"])


def _short(message: str) -> str:
    """The observation without the trailing next step, ASCII only (Slurm stores reasons as C strings)."""
    head = message.rsplit(": ", 1)[0] if ": " in message else message
    return head.replace("≥", ">=").replace("≤", "<=").replace("°C", "C").encode("ascii", "replace").decode()


def drain_reason(findings: list[dict]) -> str:
    """'sdiag: clocks: gpu3 SM clock 200 MHz, expected >= 1762 MHz under load (HW_SLOWDOWN active) (+1 more)'."""
    first = findings[0]
    text = f"{PREFIX} {first['name']}: {_short(first['message'])}"
    if len(findings) > 1:
        text += f" (+{len(findings) - 1} more: {', '.join(sorted({f['name'] for f in findings[1:]}))})"
    return text[:MAX_REASON]


def drained_by_sdiag(node) -> bool:
    return node.drained and is_sdiag_reason(node.reason)


def healthcheck_decision(report: dict, node, clean_runs: int, policy: dict) -> Decision:
    """Drain, resume or nothing; a drain still has to pass the cap (cap.claim)."""
    findings = drain_findings(report, policy)
    clean = is_clean(report, policy)
    runs = clean_runs + 1 if clean else 0
    if findings:
        if node.drained and not drained_by_sdiag(node):
            return Decision("none", None, f"drained by someone else ({node.reason!r}): left alone", 0)
        if drained_by_sdiag(node):
            return Decision("none", None, "already drained by slurm-diag", 0)
        return Decision("drain", drain_reason(findings), "critical finding", 0)
    if drained_by_sdiag(node):
        need = policy["resume_after_clean_runs"]
        if runs >= need:
            return Decision("resume", None, f"{runs} consecutive clean runs (need {need})", 0)
        return Decision("none", None, f"drained by slurm-diag; {runs} of {need} clean runs", runs)
    if node.drained:
        return Decision("none", None, f"drained by someone else ({node.reason!r}): left alone", runs)
    return Decision("none", None, "healthy" if clean else "not clean, nothing to drain", runs)
