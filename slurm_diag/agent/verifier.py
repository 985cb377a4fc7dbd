"""Whether an LLM's answer may stand beside the engine's facts.

An answer is rejected, with every reason recorded, when it: cites no evidence; cites finding ids
that do not exist; picks a label no cited finding argues for (the engine's own label and its
alternatives are what the findings argue for; where the engine could not decide, an error line
no rule recognises argues for whatever cause the answer reads in it: that is what an LLM may
add); overrules a hard fact (Slurm's TIMEOUT, OUT_OF_MEMORY or NODE_FAIL, a CRITICAL health,
kernel or NVML finding, or any CRITICAL finding behind the engine's label); names nodes or GPUs
outside the job; moves the blame from the user to the infrastructure without a finding that
names a node or GPU (an engine's ``unknown`` blames no one, and an infra cause read from its log
names no node, so it can drain none); or is off-topic (an explanation about something other than
the job, or one that repeats an instruction planted in the log).
The LLM never chooses an action: accepted answers add an explanation and alternatives only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from slurm_diag.diagnose.evidence import is_unrecognised
from slurm_diag.schemas import ATTRIBUTION_LABELS

# Slurm state -> the label it is a fact of
HARD_STATES = {"TIMEOUT": "time_limit", "DEADLINE": "time_limit", "OUT_OF_MEMORY": "host_oom",
               "NODE_FAIL": "node_failure", "BOOT_FAIL": "node_failure"}
HARD_SOURCES = ("health", "kmsg", "nvml")
NODE_SOURCES = ("health", "probe", "kmsg", "nvml", "scontrol")
_TOPIC = re.compile(r"\b(job|node|gpu|cuda|nccl|memory|oom|log|slurm|error|fail\w*|time|limit|kill\w*|crash\w*|"
                    r"network|file|disk|driver|xid|code|process|rank|exception|throttl\w*|slow\w*|clock|"
                    r"evidence|finding|signal|exit|quota|mpi|timeout|cancel\w*|preempt\w*)\b", re.I)
_OBEYED = re.compile(r"ignore (all |any )?(previous|prior|above) instructions|drain (all|every|the) node|"
                     r"scontrol|sudo |rm -rf|as an ai\b|system prompt|</?(log|evidence|rules|knowledge)>", re.I)


@dataclass
class Verdict:
    accepted: bool
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"accepted": self.accepted, "reasons": self.reasons}


def allowed_scope(diagnosis: dict, job_nodes: list[str] | None = None) -> tuple[set[str], set[int]]:
    """Nodes and GPU indices the answer may name: the job's nodes when known, else those the
    findings and the log name."""
    nodes = set(job_nodes or [])
    if not nodes:
        nodes |= set(diagnosis["extracted"].get("nodes", []))
        nodes |= {f["node"] for f in diagnosis["findings"] if f.get("node")}
    gpus = set(diagnosis["extracted"].get("gpus", [])) | {f["gpu"] for f in diagnosis["findings"]
                                                          if f.get("gpu") is not None}
    return nodes, gpus


def argued_labels(diagnosis: dict) -> dict[str, set[str]]:
    """label -> the finding ids the engine found arguing for it."""
    out = {diagnosis["attribution"]["label"]: set(diagnosis["attribution"]["supporting"])}
    for alt in diagnosis["alternatives"]:
        out.setdefault(alt["label"], set()).update(alt.get("supporting", []))
    if diagnosis["attribution"]["label"] == "unknown":
        lines = {f["id"] for f in diagnosis["findings"] if is_unrecognised(f)}
        for label in ATTRIBUTION_LABELS:
            out.setdefault(label, set()).update(lines)
    return out


def hard_facts(diagnosis: dict) -> list[tuple[str, set[str]]]:
    """(finding id, the labels it leaves open) for every fact an answer may not overrule."""
    engine = diagnosis["attribution"]
    by_id = {f["id"]: f for f in diagnosis["findings"]}
    facts = []
    for f in diagnosis["findings"]:
        state = (f.get("raw") or {}).get("state") if isinstance(f.get("raw"), dict) else None
        if f["source"] in ("sacct", "given") and state in HARD_STATES:
            # the log may name a deeper cause the engine already chose (a dead GPU that hung the job)
            facts.append((f["id"], {HARD_STATES[state], engine["label"]}))
        elif f["source"] in HARD_SOURCES and f["severity"] == "CRITICAL":
            facts.append((f["id"], {engine["label"]} if engine["scope"] == "infra" else set()))
    for fid in engine["supporting"]:
        if by_id.get(fid, {}).get("severity") == "CRITICAL" and all(fid != x for x, _ in facts):
            facts.append((fid, {engine["label"]}))
    return facts


def verify(answer: dict, diagnosis: dict, *, job_nodes: list[str] | None = None) -> Verdict:
    reasons: list[str] = []
    ids = {f["id"] for f in diagnosis["findings"]}
    by_id = {f["id"]: f for f in diagnosis["findings"]}
    cited = list(answer.get("supporting") or [])
    label, scope = answer.get("label"), answer.get("scope")
    engine = diagnosis["attribution"]
    if not cited:
        reasons.append("cites no evidence (no finding id in supporting)")
    unknown_ids = [c for c in cited if c not in ids]
    if unknown_ids:
        reasons.append(f"cites finding ids that do not exist: {', '.join(map(str, unknown_ids[:5]))}")
    argued = argued_labels(diagnosis)
    if label != engine["label"] and not (set(cited) & argued.get(label, set())):
        reasons.append(f"no cited finding argues for the label {label!r} (the engine found evidence for "
                       f"{', '.join(sorted(argued))})")
    for fid, open_labels in hard_facts(diagnosis):
        if label not in open_labels and not (open_labels == set() and scope == "infra"):
            what = by_id[fid]["summary"][:120]
            reasons.append(f"contradicts a hard fact: {fid} ({what}); label {label!r} is not one it allows "
                           f"({', '.join(sorted(open_labels)) or 'an infra cause'})")
    nodes, gpus = allowed_scope(diagnosis, job_nodes)
    outside = [n for n in answer.get("suspect_nodes") or [] if n not in nodes]
    if outside:
        reasons.append(f"names nodes outside the job: {', '.join(map(str, outside[:5]))}")
    bad_gpus = [g for g in answer.get("suspect_gpus") or [] if _gpu_index(g) not in gpus
                or (isinstance(g, dict) and g.get("node") not in nodes)]
    if bad_gpus:
        reasons.append(f"names GPUs outside the job: {bad_gpus[:5]}")
    if engine["scope"] == "user" and engine["label"] != "unknown" and scope == "infra":
        if not any(by_id[c].get("node") or by_id[c].get("gpu") is not None or by_id[c]["source"] in NODE_SOURCES
                   for c in cited if c in by_id):
            reasons.append("moves the blame from the job to the infrastructure without a finding that names "
                           "a node or GPU")
    text = " ".join(str(answer.get(k) or "") for k in ("explanation", "critique"))
    if _OBEYED.search(text):
        reasons.append(f"off-topic: repeats an instruction or markup from the job's data "
                       f"({_OBEYED.search(text).group(0)!r})")
    elif not _TOPIC.search(text):
        reasons.append("off-topic: the explanation is not about the job, its nodes or its evidence")
    return Verdict(not reasons, reasons)


def _gpu_index(g):
    return g.get("gpu") if isinstance(g, dict) else g
