"""The diagnosis engine: evidence in, one attribution out, no LLM.

``diagnose_log`` runs on a log alone (``explain --log``: another scheduler's log, a ticket, a log
kept after the job was purged), optionally with the state and exit code the user knows. The job
form collects accounting, node history, health and probe records around the same core.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field

from slurm_diag.diagnose import (attribute, collect, evidence, extract, job_facts, kb_hits, pci_map, request_fit,
                                 slurm_facts)
from slurm_diag.diagnose.logfile import LogText
from slurm_diag.errors import SdiagError


@dataclass
class Diagnosis:
    attribution: dict
    alternatives: list[dict]
    findings: list[dict]
    extracted: dict
    not_checked: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"attribution": self.attribution, "alternatives": self.alternatives, "findings": self.findings,
                "extracted": self.extracted, "not_checked": self.not_checked}


def _with_kb(found, lines, kb_entries, job_id, not_checked):
    """Attribute; when the answer is open and a knowledge base is at hand, add its signature hits
    (weak evidence and advice) and attribute again."""
    result = attribute.attribute(found, job_id=job_id, not_checked=not_checked)
    if result.attribution["label"] != "unknown" or kb_entries is None or not lines:
        return result
    try:
        entries = kb_entries()
    except SdiagError as exc:            # a malformed entry file: say so, keep the engine's answer
        not_checked.append(f"the knowledge base, which could not be read: {exc.message}"
                           + (f" ({exc.hint})" if exc.hint else ""))
        return attribute.attribute(found, job_id=job_id, not_checked=not_checked)
    # a line the evidence already reads as another line's consequence (a cancel srun made after a task
    # failed, an abort after a watchdog timeout, a time limit after a hang ...) is not asked again, nor
    # any line with the same text: an entry would read it as a cause
    after = {raw["text"].strip() for ev in found if "consequence_of_line" in (raw := ev.finding.get("raw") or {})
             and isinstance(raw.get("text"), str)}
    hits = kb_hits.from_log([ln for ln in lines if ln[:500].strip() not in after], entries, job_id=job_id)
    if not hits:
        return result
    found += hits
    result = attribute.attribute(found, job_id=job_id, not_checked=not_checked)
    result.attribution["next_steps"] = kb_hits.advice(hits) + result.attribution["next_steps"]
    return result


def _point_at_unrecognised(result, found, logs, job_id) -> None:
    """When the answer is ``unknown``: the last error lines of each log that no rule recognises
    become findings (arguing for nothing), and the first next step says to read them."""
    if result.attribution["label"] != "unknown":
        return
    added = []
    for where, log in logs:
        added += evidence.unrecognised(log.lines, found, where=where, job_id=job_id)
    if added:
        found += added
        last = added[-1].finding["raw"]
        result.attribution["next_steps"].insert(
            0, f"read the error lines no rule recognises, the last at {last['where']} line {last['line']}: "
               f"{last['text'][:160]}")


def diagnose_log(log: LogText, *, state: str | None = None, exit_code: int | None = None,
                 signal: int | None = None, job_id: str | None = None,
                 pci_to_gpu: dict[str, int] | None = None, kb_entries=None) -> Diagnosis:
    """``kb_entries``: a callable returning knowledge-base entries, used only when the answer is open."""
    found: list[evidence.Evidence] = []
    not_checked = ["Slurm accounting (a log alone)", "node health and probe records", "node events"]
    if log.usable:
        found += evidence.from_log(log.lines, job_id=job_id, pci_to_gpu=pci_to_gpu)
        pci_map.apply(found, {}, "the table given does not list it" if pci_to_gpu else
                      "a log alone carries no health report that maps bus ids to indices")
        if log.truncated:
            not_checked.append(f"the log's first {log.size - len(log.text().encode()):,} bytes "
                               f"(only the last part was read)" if log.size else "the start of the log")
    else:
        found.append(evidence.Evidence(evidence.finding("log:unreadable", "log", "UNKNOWN", log.problem,
                                                        job_id=job_id, raw={"path": log.path})))
        not_checked.append("the job's output")
    if state or exit_code is not None or signal is not None:
        found += slurm_facts.evidence(state, exit_code, signal, job_id=job_id, where="given")
    result = _with_kb(found, log.lines if log.usable else (), kb_entries, job_id, not_checked)
    _point_at_unrecognised(result, found, [("log", log)] if log.usable else [], job_id)
    ext = extract.extract(log.lines, pci_to_gpu) if log.usable else extract.Extracted()
    return Diagnosis(result.attribution, result.alternatives, [e.finding for e in found], ext.to_dict(),
                     not_checked)


def diagnose_job(job, *, more: list[evidence.Evidence] = (), not_checked: list[str] = (),
                 kb_entries=None) -> Diagnosis:
    """A job from the Slurm adapter, plus evidence other collectors found (node events, health
    and probe records). Suspects are kept to the job's own nodes."""
    found, missing, logs = job_facts.from_job(job)
    request_fit.gpus(job, found, logs)
    request_fit.output_file(job, found, job_facts.log_paths(job))
    request_fit.memory(job, found)
    collect.log_gpus(job, found, list(more))
    collect.unconfirmed_xids(found, list(more))
    found += collect.stray_memory(job, found, list(more)) + collect.weigh(job, found, list(more))
    request_fit.time_limit(job, found)          # after the nodes' evidence: a node's fault is what it waited on
    buses = pci_map.from_evidence(found)
    pci_map.apply(found, buses, "no health report of the job's nodes recorded their GPUs' bus ids")
    missing = [*missing, *not_checked]
    result = _with_kb(found, [line for _, log in logs for line in log.lines], kb_entries, job.job_id, missing)
    if not (job.state == "COMPLETED" and job.exit_code == 0):       # a job that ended well has nothing to point at
        _point_at_unrecognised(result, found, logs, job.job_id)
    a = result.attribution
    if a["scope"] == "infra" and job.nodes:
        a["suspect_nodes"] = [n for n in a["suspect_nodes"] if n in job.nodes]
        a["suspect_gpus"] = [g for g in a["suspect_gpus"] if g["node"] in job.nodes]
        if not a["suspect_nodes"] and len(job.nodes) == 1 and a["label"] not in ("scheduler", "software_env"):
            a["suspect_nodes"] = [job.nodes[0]]
    if a["supporting"][:1] == ["sacct:state"] and job.state == "CANCELLED" and job_facts.cancelled_by_owner(job):
        a["next_steps"] = [f"nothing to fix in the job: its owner (or a script running as its owner) cancelled "
                           f"it{' before it started' if not job.nodes else ''}; resubmit it if that was not meant"]
    if a["label"] == "scheduler" and job.state == "COMPLETED":
        a["next_steps"] = ["nothing to do for the job: it completed on a healthy node; the unfit node "
                           "is drained for an administrator"]
    # nothing argues for a cause: what was seen (a node's flag, a GPU that was not the job's) is context
    quiet = a["label"] == "unknown" and not any(e.label and e.tier < evidence.CONTEXT_TIER for e in found)
    if quiet and job.state == "COMPLETED" and job.exit_code == 0:
        a["explanation"] = "the job completed normally (exit code 0): nothing went wrong that slurm-diag could see"
        a["next_steps"] = ["nothing to do; if it ran slow, compare it with earlier runs of the same job name"]
    if quiet and job.state == "RUNNING":
        a["explanation"] = "the job is running and nothing has gone wrong that slurm-diag can see so far"
        a["next_steps"] = [f"explain it again once it ends (sdiag-agent explain {job.job_id})"]
    if a["label"] == "unknown" and any(e.id == request_fit.MEMORY_LOW_ID for e in found):
        nodes = ", ".join(job.nodes) or "the job's node"
        a["next_steps"].insert(0, f"find who sent the SIGKILL, since it was probably not the memory limit: the "
                                  f"job's own code or a wrapper (a kill -9, a watchdog), an administrator, or the "
                                  f"kernel (its log on {nodes} around {job.end or 'the job end'}: `dmesg -T`, "
                                  f"for an administrator)")
    if a["label"] == "unknown" and job.state != "RUNNING" and any(e.id == job_facts.INTERACTIVE for e in found):
        a["next_steps"].insert(0, "its output went to your terminal: run it again with the output saved "
                                  "(srun ... 2>&1 | tee run.log), then `sdiag-agent explain --log run.log"
                                  + (f" --exit-code {job.exit_code}`" if job.exit_code else "`"))
    requeued = job_facts.requeue_words(job)
    if requeued and quiet and job.state in ("COMPLETED", "RUNNING"):
        a["explanation"] += f" in this run. {requeued[0].upper()}{requeued[1:]}"
    if a["label"] == "unknown" and job.state in collect.SLOW_STATES \
            and any(alt["label"] in ("slow_node", "gpu_throttle") for alt in result.alternatives):
        # a slow node explains a job that ran slow, not one that failed: probe it for the former only
        a["next_steps"].insert(0, f"probe the job's nodes against the model and the fleet: "
                                  f"sdiag-agent probe submit gemm --nodes {','.join(job.nodes)} --wait")
    # the steps' commands name this job, not a placeholder
    head = a["supporting"][0].rpartition(":")[2] if a["supporting"] else None
    fix = [] if head in attribute.WHOLE_FIX else exact_fix(job, a["label"])
    a["next_steps"] = [re.sub(r"\bJOBID\b", job.job_id, step) for step in fix + a["next_steps"]]
    ext = extract.extract([line for _, log in logs for line in log.lines], pci_map.flat(buses))
    return Diagnosis(a, result.alternatives, [e.finding for e in found], ext.to_dict(), missing)


SAMPLED_MOST = 0.5      # sampled use under this share of a limit the job was killed at: its peak was not sampled


def exact_fix(job, label: str) -> list[str]:
    """For the job's own limits, the line to change: memory or time, with what it had and used
    (not where the deciding finding's own step is the whole fix: attribute.WHOLE_FIX)."""
    if label == "host_oom" and job.het_components:
        return _het_mem_fix(job)
    if label == "host_oom" and job.mem_alloc_kb:
        had = job.mem_alloc_kb / 1024
        used = ""
        if job.mem_used_kb and job.mem_used_kb >= job.mem_alloc_kb * SAMPLED_MOST:
            used = f", it used at least {job.mem_used_kb / 1024:.0f} MiB"
        elif job.mem_used_kb:             # accounting polls: a peak between two polls is not in MaxRSS
            used = (f"; accounting's samples saw at most {job.mem_used_kb / 1024:.0f} MiB: the peak came between "
                    f"them, or was memory they do not count (page cache, /dev/shm)")
        return [f"#SBATCH --mem={_round_up_mib(had * 2)} (it had {had:.0f} MiB{used}); "
                "or --mem-per-cpu with the same total"]
    if label == "time_limit" and job.time_limit_s:
        return [f"#SBATCH --time={_hms(job.time_limit_s * 2)} (it had {_hms(job.time_limit_s)}), "
                "or checkpoint and resubmit"]
    return []


def _het_mem_fix(job) -> list[str]:
    """A heterogeneous job's memory is per component: the line goes among the #SBATCH lines of the
    component whose step failed first (the leader's before the first `#SBATCH hetjob`)."""
    from slurm_diag.diagnose.job_facts import first_failed_step
    from slurm_diag.slurm.hetjob import component_of

    step = first_failed_step(job)
    part = component_of(job, step) if step is not None else None
    if part is None or not part.mem_alloc_kb:        # no step says which: each component's memory
        had = "; ".join(f"{c.job_id} had {c.mem_alloc_kb // 1024} MiB on {','.join(c.nodes) or '?'}"
                        for c in job.het_components if c.mem_alloc_kb)
        return [f"a larger --mem in the #SBATCH lines of the component that ran out ({had}); or --mem-per-cpu "
                "with the same total"] if had else []
    k = part.job_id.rsplit("+", 1)[1]
    where = ("the first component's #SBATCH lines (before `#SBATCH hetjob`)" if k == "0"
             else f"component {k}'s #SBATCH lines (after its `#SBATCH hetjob`)")
    had = part.mem_alloc_kb / 1024
    return [f"#SBATCH --mem={_round_up_mib(had * 2)} in {where}: {part.job_id} had {had:.0f} MiB on "
            f"{','.join(part.nodes) or '?'}; or --mem-per-cpu with the same total"]


def _round_up_mib(mib: float) -> str:
    return f"{-(-mib // 1024):.0f}G" if mib >= 1024 else f"{-(-mib // 64) * 64:.0f}M"


def _hms(seconds: int) -> str:
    d, rem = divmod(int(seconds), 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return (f"{d}-" if d else "") + f"{h:02d}:{m:02d}:{s:02d}"
