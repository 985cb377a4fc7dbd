"""From evidence to one Attribution (schemas/attribution.schema.json) plus ranked alternatives.

The rule is root cause over symptoms: the label argued for by the lowest-tier evidence wins (see
``signs``); within a tier, Slurm's own facts beat log lines and an earlier line beats a later one.
Evidence made only of symptoms (tier 4) is not enough: the answer is ``unknown``, naming what
would decide it, with scope ``user`` so that nothing is ever proposed on it. Nothing here reads anything: it is a pure function of the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slurm_diag.diagnose import request_fit
from slurm_diag.diagnose.evidence import CONTEXT_TIER, SYMPTOM_TIER, Evidence

BASE_CONFIDENCE = {0: 0.9, 1: 0.85, 2: 0.75, 3: 0.6, 4: 0.35}
USER_LABELS = frozenset({"gpu_oom", "host_oom", "time_limit", "user_code", "software_env", "unknown"})

NEXT_STEPS = {
    "gpu_hardware": ["the node and GPU named above need an administrator: drain, run the full health "
                     "check, and reset or replace the GPU", "resubmit the job; it will be placed on other nodes"],
    "gpu_throttle": ["an administrator should check cooling and power on the node named above",
                     "resubmit: the job itself is fine"],
    "gpu_oom": ["reduce the job's GPU memory: a smaller batch or sequence length, activation checkpointing, "
                "mixed precision, or more GPUs to shard the model over"],
    "host_oom": ["ask for more memory (#SBATCH --mem=... or --mem-per-cpu=...), or reduce what the job "
                 "holds in host memory (data loader workers, cached datasets)"],
    "network": ["an administrator should check the fabric links of the nodes named above",
                "resubmit; if it recurs on the same nodes, exclude them (--exclude) and report it"],
    "filesystem": ["free space or ask for quota on the filesystem named above; check the path the job writes to",
                   "for a shared filesystem error, report it to the administrators"],
    "node_failure": ["the node failed under the job: resubmit (or use --requeue); administrators "
                     "should look at the node's logs"],
    "time_limit": ["ask for more time (#SBATCH --time=...), checkpoint and resume, or make the job faster"],
    "user_code": ["fix the error in the job's code at the place named above; rerun a small case first"],
    "software_env": ["fix the software environment: load the right modules, install the missing package, "
                     "or rebuild for this GPU and driver"],
    "scheduler": ["see why Slurm cancelled, preempted, requeued or held the job (`sacct -j JOBID -o State,Reason`; "
                  "for a QOS or association limit, `sacctmgr show assoc user=$USER` lists yours); resubmit "
                  "within them, or ask the administrators"],
    "slow_node": ["compare the job's speed across its nodes; administrators should probe the slow node"],
    "unknown": ["the evidence does not decide: check what is listed as not checked, and the full job output"],
}


# a label's steps when the job's own doing caused it (the network: a name on the internet that a
# compute node cannot reach), where the label's usual steps are the administrators'
USER_STEPS = {
    "network": ["compute nodes often cannot reach the internet: fetch what the job needs (models, packages, "
                "containers) on a login or transfer node first, or ask the administrators whether there is a proxy"],
}


# a step for one kind of finding, put before its label's steps when that finding decides
FINDING_STEPS = {
    "user-arguments": "check the command line against the program's usage (PROGRAM --help, the usage line it "
                      "printed): an option misspelt, one the installed version does not have, or an argument "
                      "missing",
    "collective-mismatch": "find where the ranks take different paths (a branch on the rank, an early exit, a "
                           "data-dependent number of steps); rerun with TORCH_DISTRIBUTED_DEBUG=DETAIL and "
                           "PyTorch names the mismatched collectives",
    "no-gpu-asked": request_fit.GPU_FIX,
    "output-file": request_fit.OUTPUT_FIX,
    "idle-at-limit": request_fit.IDLE_FIX,
    "idle-step-wait": request_fit.STEP_WAIT_FIX,
    "request-invalid": "change the request to one Slurm accepts (the refused line above says what: tasks, memory, "
                       "GPUs, partition, account or time): `sinfo -s` lists the partitions and their limits, "
                       "`sacctmgr show assoc user=$USER format=account,partition,qos` the accounts you may use",
    "fs-workdir": "create the job's working directory, or fix the path given to --chdir (-D; by default the "
                  "directory sbatch ran in): it must exist on the compute nodes",
    "user-script-format": "give the script Unix line endings (dos2unix FILE, or sed -i 's/\\r$//' FILE) and a "
                          "#! first line",
    "user-not-executable": "make the file executable (chmod +x FILE) or run it through its interpreter "
                           "(bash FILE, python3 FILE)",
    "user-missing-path": "check the path the job names: a relative path starts from the job's working directory "
                         "(--chdir; by default the directory sbatch ran in), and the file must be on a filesystem "
                         "the compute nodes mount",
}
# a finding whose step is the whole fix when it heads the attribution: the label's general advice
# would send the user elsewhere (a job that asked for no GPU has no error in its code to fix)
WHOLE_FIX = frozenset({"no-gpu-asked", "output-file", "idle-at-limit", "idle-step-wait", "request-invalid",
                       "fs-workdir", "user-script-format", "user-not-executable", "user-missing-path"})


@dataclass
class Result:
    attribution: dict
    alternatives: list[dict] = field(default_factory=list)


def _key(ev: Evidence):
    """Lower is more root-cause-like: tier, then Slurm's facts before log lines, then earlier lines."""
    return (ev.tier, 0 if ev.finding["source"] != "log" else 1, ev.lines[0] if ev.lines else 0)


def attribute(evidence: list[Evidence], *, job_id: str | None = None,
              not_checked: list[str] | None = None) -> Result:
    argued = sorted((e for e in evidence if e.label), key=_key)
    by_label: dict[str, list[Evidence]] = {}
    for ev in argued:
        by_label.setdefault(ev.label, []).append(ev)
    ranked = sorted(by_label, key=lambda label: _key(by_label[label][0]))
    if not ranked or by_label[ranked[0]][0].tier >= SYMPTOM_TIER:
        return Result(_unknown(evidence, ranked, by_label, job_id, not_checked),
                      _alternatives(ranked, by_label))
    label = ranked[0]
    chosen = by_label[label]
    head = chosen[0]
    confidence = BASE_CONFIDENCE.get(head.tier, 0.5)
    if any(e.finding["source"] != "log" for e in chosen) and any(e.finding["source"] == "log" for e in chosen):
        confidence += 0.05                      # Slurm and the log agree
    rivals = [other for other in ranked[1:] if by_label[other][0].tier == head.tier]
    confidence -= 0.1 * len(rivals)
    contradicting = [e.id for other in ranked[1:] for e in by_label[other] if e.tier < SYMPTOM_TIER]
    scope = _scope(chosen)
    nodes, gpus = _suspects(chosen) if scope == "infra" else ([], [])
    attribution = {
        "job_id": job_id, "label": label, "scope": scope, "component": head.component or label,
        "suspect_nodes": nodes, "suspect_gpus": gpus,
        "confidence": round(max(0.05, min(0.99, confidence)), 2),
        "supporting": [e.id for e in chosen],
        "contradicting": contradicting,
        "explanation": _explain(head, chosen, rivals),
        "next_steps": _finding_steps(chosen) + ([] if head.id.rpartition(":")[2] in WHOLE_FIX else
                                                list(USER_STEPS[label] if scope == "user" and label in USER_STEPS
                                                     else NEXT_STEPS[label])),
    }
    return Result(attribution, _alternatives(ranked[1:], by_label, chosen=label))


def _finding_steps(chosen: list[Evidence]) -> list[str]:
    return [FINDING_STEPS[kind] for kind in dict.fromkeys(e.id.rpartition(":")[2] for e in chosen)
            if kind in FINDING_STEPS]


def _scope(chosen: list[Evidence]) -> str:
    """The scope of the strongest evidence; on a tie, user (never call the job's fault the node's)."""
    best = chosen[0].tier
    scopes = {e.scope for e in chosen if e.tier == best}
    return "user" if "user" in scopes else "infra"


def _suspects(chosen: list[Evidence]) -> tuple[list[str], list[dict]]:
    """The nodes and GPUs the infra evidence names. Evidence of the job's own doing does not make its
    node a suspect (slurmstepd's cancel line names the node the job ran on, not a faulty one)."""
    nodes: list[str] = []
    gpus: list[dict] = []
    for ev in chosen:
        if ev.scope != "infra":
            continue
        node, gpu = ev.finding.get("node"), ev.finding.get("gpu")
        if node and node not in nodes:
            nodes.append(node)
        if node and gpu is not None and {"node": node, "gpu": gpu} not in gpus:
            gpus.append({"node": node, "gpu": gpu})
    return nodes, gpus


def _explain(head: Evidence, chosen: list[Evidence], rivals: list[str]) -> str:
    raw = head.finding.get("raw") or {}
    where = f" ({raw['where']} line {raw['line']})" if isinstance(raw, dict) and "line" in raw else ""
    text = head.finding["summary"] + where
    if len(chosen) > 1:
        text += f"; {len(chosen) - 1} more finding(s) agree"
    if rivals:
        text += f"; also seen at the same strength: {', '.join(rivals)}"
    return text


def _alternatives(ranked: list[str], by_label: dict[str, list[Evidence]], chosen: str | None = None) -> list[dict]:
    """The other labels the evidence argues for, strongest first; then the causes known to print
    the same lines as the strongest evidence (a bus error is also what exhausted host memory looks
    like), weaker, so the runner-up of a single-sign log is still named."""
    out = [_alternative(label, by_label[label]) for label in ranked]
    named = {chosen, *ranked}
    for label in ([chosen] if chosen else []) + ranked:
        for ev in by_label[label]:
            for other in ev.also:
                if other not in named:
                    named.add(other)
                    out.append({"label": other, "scope": "user" if other in USER_LABELS else "infra",
                                "confidence": round(BASE_CONFIDENCE.get(ev.tier, 0.3) * 0.5, 2),
                                "supporting": [ev.id],
                                "summary": f"also fits the same evidence: {ev.finding['summary'][:260]}"})
    return out


def _alternative(label: str, evs: list[Evidence]) -> dict:
    head = evs[0]
    return {"label": label, "scope": _scope(evs), "confidence": round(BASE_CONFIDENCE.get(head.tier, 0.3) * 0.8, 2),
            "supporting": [e.id for e in evs], "summary": head.finding["summary"][:300]}


def _unknown(evidence, ranked, by_label, job_id, not_checked) -> dict:
    seen = [by_label[label][0].finding["summary"] for label in ranked if by_label[label][0].tier < CONTEXT_TIER]
    text = "the evidence does not decide"
    if seen:
        text += f": only symptoms were found ({'; '.join(s[:160] for s in seen[:3])})"
    return {"job_id": job_id, "label": "unknown", "scope": "user", "component": "unknown",
            "suspect_nodes": [], "suspect_gpus": [], "confidence": 0.2,
            "supporting": [], "contradicting": [e.id for label in ranked for e in by_label[label]],
            "explanation": text, "next_steps": list(NEXT_STEPS["unknown"])}
