"""Evidence about the job's nodes around its run: Slurm's node events (a node that went down or
was drained under the job, seen even after it came back), the health reports the prolog, epilog
and HealthCheckProgram wrote, and probe verdicts.

A health check's CRITICAL finding on a job's node is strong evidence for an infra cause (tier 1):
it comes from the node, not from the job's own words. A node with no health record in the window
is itself a finding (UNKNOWN), so "nothing found" never passes for "nothing wrong".
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from slurm_diag.diagnose.evidence import Evidence, finding

BEFORE = timedelta(seconds=60)       # a report this long before the job's start still describes its node
AFTER = timedelta(minutes=2)         # ... and after its end (the epilog, the next HealthCheckProgram run)
# health check -> (label, component) its CRITICAL finding argues for
CHECK_LABELS = {
    "clocks": ("gpu_throttle", "gpu"), "temperature": ("gpu_throttle", "gpu"),
    "xid": ("gpu_hardware", "gpu"), "ecc": ("gpu_hardware", "gpu"), "gpu_count": ("gpu_hardware", "gpu"),
    "pcie": ("gpu_hardware", "pcie"), "nvlink": ("gpu_hardware", "nvlink"), "gpu_sanity": ("gpu_hardware", "gpu"),
    "memory_errors": ("gpu_hardware", "gpu"), "infiniband": ("network", "fabric"),
    "disk_space": ("filesystem", "storage"),
}
_SDIAG_REASON = re.compile(r"^sdiag:\s*(?P<check>[a-z_]+):")
_GPU = re.compile(r"\bgpu(\d{1,2})\b")


def when(text: str | None) -> datetime | None:
    """Slurm's local times ('2026-12-01T06:19:25') and the reports' ISO times, as aware datetimes."""
    if not text or text in ("Unknown", "None"):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.astimezone()


def window(job) -> tuple[datetime, datetime] | None:
    start = when(job.start)
    if start is None:
        return None
    end = when(job.end) or datetime.now(timezone.utc)
    return start, end


def from_events(job, events) -> list[Evidence]:
    span = window(job)
    out: list[Evidence] = []
    if span is None:
        return out
    start, end = span
    for i, ev in enumerate(events):
        if ev.node not in job.nodes:
            continue
        ev_start, ev_end = when(ev.start), when(ev.end)
        if ev_start is None or ev_start > end + timedelta(minutes=2) or (ev_end and ev_end < start):
            continue
        raw = ev.to_dict()
        state = ev.state.upper()
        if state.startswith(("DOWN", "FAIL")) or "not responding" in ev.reason.lower():
            out.append(Evidence(finding(f"event:{ev.node}:{i}", "sacct", "CRITICAL",
                                        f"{ev.node} was {ev.state} from {ev.start} ({ev.reason})",
                                        job_id=job.job_id, node=ev.node, raw=raw),
                                "node_failure", "infra", "node", 1))
            continue
        m = _SDIAG_REASON.match(ev.reason)
        label = CHECK_LABELS.get(m["check"]) if m else None
        gpu = _GPU.search(ev.reason)
        out.append(Evidence(finding(f"event:{ev.node}:{i}", "sacct", "WARN",
                                    f"{ev.node} was drained from {ev.start} by {ev.user}: {ev.reason}",
                                    job_id=job.job_id, node=ev.node, gpu=int(gpu.group(1)) if gpu else None,
                                    raw=raw),
                            *((label[0], "infra", label[1], 2) if label else (None, None, None, 9))))
    return out


XID_CLEAN = "health:xid-clean"
HELD = ":job-gpus"                   # the id's end of "the GPUs Slurm gave the job on this node"


def _held(job, report: dict) -> Evidence:
    """The GPUs Slurm gave the job on the report's node, as the job's own prolog or epilog recorded
    them (SLURM_JOB_GPUS): a GPU's fault on another index of the node is not the job's GPU's.
    Slurm's GPU index is taken for the index NVML and the health checks use: so it is with
    AutoDetect=nvml (both in PCI bus order), and with a gres.conf File= list whose device files
    follow that order."""
    node, gpus = report["node"], report["job_gpus"]
    return Evidence(finding(f"health:{node}{HELD}", "health", "OK",
                            f"Slurm gave the job {gpu_words(gpus)} on {node} (its {report['context']}'s record)",
                            job_id=job.job_id, node=node, raw={"node": node, "gpus": gpus}))


def gpu_words(gpus) -> str:
    """[0, 1] -> 'GPUs 0, 1'."""
    return f"GPU{'s' if len(gpus) != 1 else ''} {', '.join(map(str, sorted(gpus)))}"


def held_gpus(evidence: list[Evidence]) -> dict[str, set[int]]:
    """node -> the GPU indices the job held there, where its prolog or epilog recorded them."""
    return {e.finding["node"]: set(e.finding["raw"]["gpus"]) for e in evidence if e.id.endswith(HELD)}


def from_health(job, reports: list[dict]) -> tuple[list[Evidence], list[str]]:
    """Non-OK checks in the reports of the job's nodes during its run (its own prolog and epilog,
    other hooks and HealthCheckProgram runs from a minute before its start to two after its end);
    nodes with none are named."""
    span = window(job)
    if span is None:
        return [], []
    start, end = span[0] - BEFORE, span[1] + AFTER
    out: list[Evidence] = []
    seen_nodes: set[str] = set()
    xid_clean: set[str] = set()          # nodes whose epilog for this job read no new hardware Xid
    xid_seen: set[str] = set()           # ... or did, or could not tell
    held: dict[str, Evidence] = {}       # the job's GPUs per node, from its own latest report of this run
    for report in reports:               # the store's newest first
        at = when(report.get("time"))
        own = report.get("job_id") == job.job_id or report.get("job_id") == job.job_id_raw
        if report.get("node") not in job.nodes or at is None or not (own or start <= at <= end):
            continue
        seen_nodes.add(report["node"])
        if own and start <= at <= end and report.get("context") in ("prolog", "epilog") \
                and isinstance(report.get("job_gpus"), list) and report["node"] not in held:
            held[report["node"]] = _held(job, report)
        for check in report.get("checks", []):
            if own and report.get("context") == "epilog" and check.get("name") == "xid":
                (xid_clean if check.get("status") == "OK" else xid_seen).add(report["node"])
            if check.get("status") not in ("CRITICAL", "WARN"):
                continue
            label = CHECK_LABELS.get(check["name"]) if check["status"] == "CRITICAL" else None
            key = f"health:{report['node']}:{check['name']}:{check.get('gpu')}"
            if any(e.id == key for e in out):
                continue
            out.append(Evidence(finding(key, "health", check["status"],
                                        f"{report.get('context', 'health')} on {report['node']} at {report['time']}: "
                                        f"{check['name']}: {check['message']}",
                                        job_id=job.job_id, node=report["node"], gpu=check.get("gpu"),
                                        raw={"check": check, "context": report.get("context"),
                                             "report_job_id": report.get("job_id")}),
                                *((label[0], "infra", label[1], 1) if label else (None, None, None, 9))))
    if job.nodes and set(job.nodes) <= xid_clean - xid_seen:
        out.append(Evidence(finding(XID_CLEAN, "health", "OK",
                                    f"the job's epilog read the kernel log on {', '.join(job.nodes)}: no GPU error "
                                    f"(hardware Xid) during the job", job_id=job.job_id,
                                    raw={"nodes": list(job.nodes)})))
    out += held.values()
    missing = [n for n in job.nodes if n not in seen_nodes]
    for node in missing:
        out.append(Evidence(finding(f"health:{node}:none", "health", "UNKNOWN",
                                    f"no health record for {node} between {start:%Y-%m-%d %H:%M} and {end:%H:%M}",
                                    job_id=job.job_id, node=node)))
    return out, [f"node health on {n} (no record in the window)" for n in missing]


def _superseded(r: dict, at: datetime, results: list[dict], job_start: datetime) -> bool:
    """A flag on a node that a later clean run of the same probe (same GPU) cleared before the job
    started: the node was measured healthy again (repaired, or the cause went away)."""
    key = (r.get("node"), r.get("probe"), r.get("gpu"))
    for other in results:
        later = when(other.get("time"))
        if (other.get("node"), other.get("probe"), other.get("gpu")) == key and other.get("valid", True) \
                and (other.get("verdict") or {}).get("status") == "OK" and later is not None and at < later <= job_start:
            return True
    return False


def from_probes(job, results: list[dict]) -> list[Evidence]:
    """Probe verdicts on the job's nodes from a day before the job to a day after it; a flag that a
    clean run cleared before the job started does not count."""
    span = window(job)
    if span is None:
        return []
    start, end = span[0] - timedelta(days=1), span[1] + timedelta(days=1)
    out: list[Evidence] = []
    for r in results:
        verdict = r.get("verdict") or {}
        at = when(r.get("time"))
        if r.get("node") not in job.nodes or at is None or not start <= at <= end:
            continue
        if verdict.get("status") not in ("WARN", "CRITICAL") or _superseded(r, at, results, span[0]):
            continue
        label = "gpu_throttle" if r.get("gpu") is not None else "slow_node"
        out.append(Evidence(finding(f"probe:{r.get('id')}", "probe", verdict["status"],
                                    f"probe {r.get('probe')} on {r['node']} at {r['time']}: {verdict.get('message', '')}",
                                    job_id=job.job_id, node=r["node"], gpu=r.get("gpu"),
                                    raw={"probe": r.get("probe"), "value": r.get("value"), "unit": r.get("unit"),
                                         "expected": r.get("expected"), "verdict": verdict}),
                            label, "infra", "gpu" if label == "gpu_throttle" else "node", 2))
    return out
