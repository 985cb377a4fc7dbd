"""The rules every proposal passes at proposal, at approval and again at execution: pure decisions
over what Slurm and the store say at that moment (``Node`` records, scontrol job fields, HealthReports,
ProbeResults). Each ``check_*`` returns nothing or raises ``Refused`` naming the rule; I/O lives in
``proposals.py`` and ``executor.py``.

Log text alone never justifies a drain: only a health-check or probe finding on the node itself,
cited by an infra attribution. An LLM's words are data: nothing here reads them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from slurm_diag.actions import refusal as r
from slurm_diag.actions.refusal import Refused
from slurm_diag.health.cap import CLAIMING, HOOK_REASONS, human
from slurm_diag.health.policy import MAX_REASON, PREFIX, is_clean, is_sdiag_reason

ACTIONS = ("drain", "resume", "requeue")
NODE_SOURCES = ("health", "probe")
REQUEUEABLE_STATES = {"RUNNING", "SUSPENDED", "FAILED", "NODE_FAIL", "BOOT_FAIL", "PREEMPTED"}
CLAIM_ROOM = len(" [claim 99999]")


def check_action(action: str) -> None:
    if action not in ACTIONS:
        raise Refused(r.WHITELIST, f"{action!r} is not an action slurm-diag executes; expected one of "
                                   f"{', '.join(ACTIONS)}", hint="anything else is done by hand by an admin")


def drain_reason(proposal_id: str, reason: str) -> str:
    """``sdiag: <proposal id>: <reason>``, ASCII, one line, room left for the cap's claim suffix."""
    text = " ".join(reason.split()).encode("ascii", "replace").decode()
    return f"{PREFIX} {proposal_id}: {text}"[:MAX_REASON - CLAIM_ROOM].rstrip()


def command(action: str, target: str, reason: str | None = None) -> list[str]:
    """The exact Slurm command an approved proposal runs (argv; the adapter runs it, never a shell)."""
    check_action(action)
    if action == "drain":
        return ["scontrol", "update", f"NodeName={target}", "State=DRAIN", f"Reason={reason}"]
    if action == "resume":
        return ["scontrol", "update", f"NodeName={target}", "State=RESUME"]
    return ["scontrol", "requeue", target]


def is_ours(node, proposal_id: str) -> bool:
    """Drained by this very proposal (any claim suffix)."""
    return node.drained and human(node.reason).startswith(f"{PREFIX} {proposal_id}: ")


def claiming(node) -> bool:
    """Still inside the cap's doorway (``[claiming]``): not a finished drain."""
    return (node.reason or "").strip().endswith(CLAIMING)


def node_evidence(target: str, attribution: dict | None, findings: list[dict]) -> list[dict]:
    """Findings that may justify draining ``target``: a health or probe finding on it, WARN or
    CRITICAL, cited by the attribution as supporting."""
    supporting = set((attribution or {}).get("supporting", []))
    return [f for f in findings if f["source"] in NODE_SOURCES and f.get("node") == target
            and f["id"] in supporting and f["severity"] in ("WARN", "CRITICAL")]


def check_attribution(action: str, target: str, origin: str, attribution: dict | None,
                      findings: list[dict]) -> None:
    """The evidence rules (a person's own proposal: its reason is its evidence)."""
    if origin == "person":
        return
    if attribution is None:
        raise Refused(r.NOT_INFRA, f"a {action} of {target} needs an attribution; none was given",
                      hint="the agent proposes only from an attribution with its findings")
    if attribution["scope"] != "infra":
        raise Refused(r.USER_SCOPE, f"the attribution is {attribution['label']} with scope "
                                    f"{attribution['scope']}: the job's own doing is never a reason to {action}",
                      hint="tell the user instead (`sdiag-agent explain JOBID`)")
    if action == "drain" and not node_evidence(target, attribution, findings):
        sources = sorted({f"{f['source']}@{f.get('node')}" for f in findings}) or ["none"]
        raise Refused(r.NO_NODE_EVIDENCE,
                      f"no health-check or probe finding on {target} supports the attribution "
                      f"(evidence given: {', '.join(sources)}); log text alone never drains a node",
                      hint=f"run `sdiag-agent health check` or a probe on {target} first")
    if action == "requeue" and attribution.get("job_id") not in (None, target):
        raise Refused(r.NOT_INFRA, f"the attribution is about job {attribution.get('job_id')}, not {target}")


def check_drain_target(node, proposal_id: str | None = None) -> None:
    """The node exists (the caller looked it up) and is not drained already (unless by this proposal)."""
    if not node.drained or (proposal_id and is_ours(node, proposal_id)):
        return
    if is_sdiag_reason(node.reason) or (node.reason or "").strip() in HOOK_REASONS:
        raise Refused(r.ALREADY_DRAINED, f"{node.name} is already drained by slurm-diag ({node.reason!r})",
                      hint="see it with `sdiag-agent nodes`; nothing to do")
    raise Refused(r.DRAINED_BY_OTHER, f"{node.name} is already drained by someone else "
                                      f"({node.reason!r}, by {node.reason_user or 'unknown'}): left alone",
                  hint="slurm-diag never touches another person's drain")


def check_resume(node, latest_report: dict | None, policy: dict, probes=()) -> None:
    """Only a node slurm-diag drained, whose latest health report is clean and newer than the drain,
    and whose latest result of each probe (per GPU) did not fail."""
    if not node.drained:
        raise Refused(r.NOT_SDIAG_DRAIN, f"{node.name} is not drained ({node.state}): nothing to resume")
    if not is_sdiag_reason(node.reason):
        raise Refused(r.DRAINED_BY_OTHER, f"{node.name} was drained by someone else ({node.reason!r}, by "
                                          f"{node.reason_user or 'unknown'}): slurm-diag never resumes it",
                      hint="the person who drained it resumes it with scontrol")
    if latest_report is None:
        raise Refused(r.NOT_CLEAN, f"no health check of {node.name} on record, so it cannot be called clean",
                      hint=f"run the HealthCheckProgram on {node.name} (or `sdiag-agent health check`) first")
    if not is_clean(latest_report, policy):
        bad = [f"{c['name']} {c['status']}" for c in latest_report["checks"]
               if c["status"] in ("CRITICAL", "UNKNOWN") and c["name"] in policy["drain_checks"]]
        raise Refused(r.NOT_CLEAN, f"{node.name}'s latest health check ({latest_report.get('time')}) is not "
                                   f"clean: {', '.join(bad)}", hint="fix the node and let the checks run again")
    drained_at, checked_at = slurm_time(node.reason_time), when(latest_report.get("time"))
    if drained_at and checked_at and checked_at < drained_at:
        raise Refused(r.NOT_CLEAN, f"{node.name}'s latest health check ({latest_report.get('time')}) is older "
                                   f"than its drain ({node.reason_time}): it says nothing about the node since",
                      hint=f"let the HealthCheckProgram run on {node.name}, then propose the resume again")
    if failed := failing_probes(probes):
        raise Refused(r.NOT_CLEAN, f"{node.name}'s latest probe results did not pass: {'; '.join(failed)}",
                      hint=f"fix the node and probe it again (`sdiag-agent probe submit gemm --nodes {node.name} "
                           "--wait`)")


def failing_probes(probes) -> list[str]:
    """The newest result per probe, GPU and dtype whose verdict is WARN or CRITICAL, in words."""
    from slurm_diag.probes.stored import newest

    return [f"{p.get('probe')}{f' GPU {g}' if (g := p.get('gpu')) is not None else ''} at {p['time']}: "
            f"{(p.get('verdict') or {}).get('status')} ({(p.get('verdict') or {}).get('message', '')})"
            for _, p in newest(probes, when).values() if (p.get("verdict") or {}).get("status") in ("WARN", "CRITICAL")]


def check_requeue(job_id: str, record: dict | None) -> None:
    """A batch job slurmctld still holds, marked requeue-able, in a state requeue applies to."""
    if record is None:
        raise Refused(r.NOT_REQUEUEABLE, f"slurmctld no longer holds job {job_id} (or never did): it cannot "
                                         "be requeued", hint="resubmit it instead")
    state = (record.get("JobState") or "").upper()
    if record.get("BatchFlag") != "1":
        raise Refused(r.NOT_REQUEUEABLE, f"job {job_id} is not a batch job: Slurm requeues batch jobs only")
    if record.get("Requeue") != "1":
        raise Refused(r.NOT_REQUEUEABLE, f"job {job_id} was submitted with --no-requeue (Requeue=0)")
    if state not in REQUEUEABLE_STATES:
        raise Refused(r.NOT_REQUEUEABLE, f"job {job_id} is {state}; a requeue applies to "
                                         f"{', '.join(sorted(REQUEUEABLE_STATES))}")


def when(text: str | None) -> datetime | None:
    """An ISO 8601 stamp as naive UTC (the store's convention); None when unreadable."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def slurm_time(text: str | None) -> datetime | None:
    """Slurm's stamps (local time, no zone: '2026-12-01T06:19:25') as naive UTC, like ``when``."""
    from slurm_diag.diagnose.node_facts import when as slurm_when

    value = slurm_when(text)
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value else None


def healthy_again(evidence: list[dict], reports: list[dict], probes: list[dict], since: datetime,
                  policy: dict) -> str | None:
    """Why the node no longer looks faulty, or None: for health evidence, its newest health report
    after ``since`` is clean; for probe evidence, the newest result of each probe after ``since`` passed."""
    since = since.replace(microsecond=0)   # records carry whole seconds: one in the same second counts as newer
    verdicts = []
    if any(f["source"] == "health" for f in evidence):
        newer = [rep for rep in reports if when(rep.get("time")) and when(rep["time"]) >= since]
        if not newer:
            return None
        newest = max(newer, key=lambda rep: when(rep["time"]))
        if not is_clean(newest, policy):
            return None
        verdicts.append(f"its health check at {newest['time']} ({newest.get('context')}) is clean")
    for name in sorted({(f.get("raw") or {}).get("probe") for f in evidence if f["source"] == "probe"} - {None}):
        newer = [p for p in probes if p.get("probe") == name and when(p.get("time")) and when(p["time"]) >= since]
        if not newer:
            return None
        newest = max(newer, key=lambda p: when(p["time"]))
        if (newest.get("verdict") or {}).get("status") != "OK":
            return None
        verdicts.append(f"probe {name} passed at {newest['time']}")
    return "; ".join(verdicts) or None
