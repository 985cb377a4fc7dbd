"""Across jobs, not only within one: pure decisions over the engine's per-job diagnoses.

Two patterns a single job cannot show:
- several jobs failing on the same node (or GPU) in one window, each ambiguous alone, point at
  the node: a node-level finding, and a node attribution that cites it with the node's own health
  and probe findings (only those can back a drain; the actions rules check it again);
- the reverse: one job whose crash left application Xids (13, 31, 43, 45: raised by the job's own
  GPU code) on every node it ran on is that job's fault, not a fault of each node (NVIDIA
  NVSentinel flagged 77 healthy nodes after one such crash). Such a job never counts against its
  nodes.
And one that needs no job at all: a node a probe judged CRITICAL (below the performance model and
the fleet) is a node attribution of its own, whoever ran the sweep.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from slurm_diag.diagnose.node_facts import CHECK_LABELS
from slurm_diag.diagnose.signs import APPLICATION_XIDS, HARDWARE_XIDS

NODE_SOURCES = ("health", "probe")


@dataclass
class JobView:
    """What correlation needs of one diagnosed job (ids already qualified by the job id)."""
    job_id: str
    state: str
    nodes: tuple[str, ...]
    attribution: dict
    findings: list[dict]


@dataclass
class NodePattern:
    node: str
    gpu: int | None
    jobs: list[str]
    finding: dict
    attribution: dict
    node_findings: list[dict] = field(default_factory=list)    # the node's health/probe findings cited


def _xids(f: dict) -> set[int]:
    raw = f.get("raw") if isinstance(f.get("raw"), dict) else {}
    codes = set()
    if isinstance(raw.get("xid"), int):
        codes.add(raw["xid"])
    check = raw.get("check") if isinstance(raw.get("check"), dict) else {}
    observed = check.get("observed") if isinstance(check.get("observed"), dict) else {}
    if isinstance(observed.get("xid"), int):
        codes.add(observed["xid"])
    return codes


def job_caused_xids(view: JobView) -> bool:
    """The job left application Xids and nothing points at hardware (no hardware Xid, no CRITICAL
    health or probe finding on its nodes). Xids in the job's own output are the job's on every node
    it ran on, whichever node a line happens to name."""
    app, hardware = False, False
    for f in view.findings:
        codes = _xids(f)
        if codes & HARDWARE_XIDS or (f["source"] in NODE_SOURCES and f["severity"] == "CRITICAL"):
            hardware = True
        app = app or bool(codes & APPLICATION_XIDS)
    return bool(view.nodes) and app and not hardware


def counts_against_nodes(view: JobView) -> bool:
    """A failure that may be the node's: not the user's own doing (an open ``unknown`` counts), not
    a job-caused Xid storm."""
    a = view.attribution
    own = a["scope"] == "user" and a["label"] != "unknown"
    storm = job_caused_xids(view) and a["label"] != "node_failure"     # a node that died still counts
    return not own and view.state != "COMPLETED" and not storm


def node_patterns(views: list[JobView], *, min_jobs: int, window: tuple[str, str]) -> list[NodePattern]:
    """Nodes where at least ``min_jobs`` jobs failed in the window (counting only failures that may be
    the node's). The node's health and probe findings (WARN or CRITICAL) from those jobs'
    diagnoses are cited; the GPU is named when every cited GPU finding names the same one."""
    by_node: dict[str, list[JobView]] = defaultdict(list)
    for view in views:
        if counts_against_nodes(view):
            for node in view.nodes:
                by_node[node].append(view)
    out = []
    for node, failed in sorted(by_node.items()):
        if len(failed) < min_jobs:
            continue
        jobs = sorted(v.job_id for v in failed)
        evidence = {f["id"]: f for v in failed for f in v.findings
                    if f["source"] in NODE_SOURCES and f.get("node") == node and f["severity"] in ("WARN", "CRITICAL")}
        gpus = {f.get("gpu") for v in failed for f in v.findings if f.get("node") == node and f.get("gpu") is not None}
        gpu = next(iter(gpus)) if len(gpus) == 1 else None
        digest = hashlib.sha256(",".join(jobs).encode()).hexdigest()[:12]
        where = f"{node} gpu{gpu}" if gpu is not None else node
        finding = {"id": f"agent:{node}:repeated-failures:{digest}", "source": "sacct", "severity": "WARN",
                   "node": node, "gpu": gpu, "job_id": None,
                   "summary": f"{len(jobs)} jobs failed on {where} ({', '.join(jobs)}), none of them by its "
                              f"own doing",
                   "raw": {"jobs": jobs, "seen_in": list(window)}}
        cited = list(evidence.values())
        out.append(NodePattern(node, gpu, jobs, finding, _node_attribution(node, gpu, finding, cited), cited))
    return out


def _node_attribution(node: str, gpu: int | None, finding: dict, cited: list[dict]) -> dict:
    label, component = "unknown", "node"
    for f in cited:
        check = ((f.get("raw") or {}).get("check") or {}) if isinstance(f.get("raw"), dict) else {}
        if check.get("name") in CHECK_LABELS:
            label, component = CHECK_LABELS[check["name"]]
            break
        if f["source"] == "probe":
            label, component = "slow_node", "node"
    backed = ", ".join(f["summary"][:120] for f in cited)
    return {"job_id": None, "label": label, "scope": "infra", "component": component,
            "suspect_nodes": [node], "suspect_gpus": [{"node": node, "gpu": gpu}] if gpu is not None else [],
            "confidence": 0.8 if cited else 0.5, "supporting": [finding["id"], *(f["id"] for f in cited)],
            "contradicting": [],
            "explanation": finding["summary"] + (f"; the node's own checks agree: {backed}" if cited else
                                                 "; no health or probe finding on the node yet"),
            "next_steps": [f"drain {node} and inspect it" if cited else
                           f"probe {node}: sdiag-agent probe submit gemm --nodes {node} --wait"]}


def probe_flags(results: list[dict], since, when) -> dict[str, list[dict]]:
    """Nodes a probe judged CRITICAL since ``since``, with no job needed to see it: node -> a probe
    finding per probe, GPU and dtype whose newest result is CRITICAL (a later pass clears it). WARN
    is left to the jobs (a node pattern or a slow job cites it). ``when`` reads a stamp (pure)."""
    from slurm_diag.probes.stored import newest

    out: dict[str, list[dict]] = defaultdict(list)
    for (node, probe, gpu, _dtype), (at, r) in sorted(newest(results, when).items(),
                                                        key=lambda kv: [str(k) for k in kv[0]]):
        verdict = r.get("verdict") or {}
        if at < since or verdict.get("status") != "CRITICAL":
            continue
        where = f"{node} GPU {gpu}" if gpu is not None else node
        out[node].append({"id": f"probe:{r.get('id')}", "source": "probe", "severity": "CRITICAL", "node": node,
                          "gpu": gpu, "job_id": None,
                          "summary": f"probe {probe} on {where} at {r.get('time')}: {verdict.get('message', '')}",
                          "raw": {"probe": probe, "value": r.get("value"), "unit": r.get("unit"),
                                  "expected": r.get("expected"), "verdict": verdict}})
    return dict(out)


def probe_attribution(node: str, findings: list[dict]) -> dict:
    """A node attribution resting on its own CRITICAL probe findings: a GPU held below its model
    (gpu_throttle) when every finding names the same GPU, else a slow node."""
    gpus = {f.get("gpu") for f in findings}
    gpu = next(iter(gpus)) if len(gpus) == 1 else None
    label, component = ("gpu_throttle", "gpu") if gpu is not None else ("slow_node", "node")
    return {"job_id": None, "label": label, "scope": "infra", "component": component,
            "suspect_nodes": [node], "suspect_gpus": [{"node": node, "gpu": gpu}] if gpu is not None else [],
            "confidence": 0.8, "supporting": [f["id"] for f in findings], "contradicting": [],
            "explanation": "; ".join(f["summary"][:160] for f in findings[:3]),
            "next_steps": [f"drain {node} and inspect it; probe it again before resuming"]}


def xid_storm_is_the_jobs(view: JobView) -> dict | None:
    """The job's own attribution when its crash left application Xids and the engine read the
    aftermath (peers' fabric errors, an open question) as the cluster's; None when nothing changes."""
    a = view.attribution
    if a["scope"] != "infra" or a["label"] not in ("network", "unknown") or not job_caused_xids(view):
        return None
    xids = [f for f in view.findings if _xids(f) & APPLICATION_XIDS]
    codes = sorted({c for f in xids for c in _xids(f) & APPLICATION_XIDS})
    return {**a, "label": "user_code", "scope": "user", "component": "cuda", "suspect_nodes": [], "suspect_gpus": [],
            "supporting": [f["id"] for f in xids], "contradicting": list(a["supporting"]),
            "explanation": f"the job's own GPU code raised Xid {', '.join(map(str, codes))} (application Xids) "
                           f"on the nodes it ran on ({', '.join(view.nodes)}); what followed ({a['label']}: "
                           f"{a['explanation'][:160]}) is the aftermath of that crash, not a fault of each node",
            "next_steps": ["fix the job's GPU code (an illegal memory access or a kernel fault: run it under "
                           "compute-sanitizer); the nodes need nothing"]}
