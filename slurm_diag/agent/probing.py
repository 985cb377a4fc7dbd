"""The agent asks for measurements (the paper's round-2 tool call, made by the loop itself): a job
that ran slow with nothing on record against its nodes gets a probe sweep on those nodes, plus
enough other usable nodes for a fleet comparison. The agent does not wait inside its own allocation:
it submits the sweep (one job at a time, as `probe submit` does) and a follow-up agent job that
starts when the sweep's last job ends; that pass collects and judges the sweep, and looks at the
job again with the verdicts in hand. Capped per run; never a drained node; one sweep per job.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from slurm_diag.errors import SdiagError

PROBE_EVENT = "agent.probe"
COLLECT_EVENT = "agent.probe.collected"
SUBJECT = "agent"


@dataclass
class Settings:
    enabled: bool = True
    per_run: int = 1              # sweeps one pass may submit
    fleet: int = 4                # nodes per sweep, the job's included, when that many can run jobs
    max_nodes: int = 8
    probe: str = "gemm"
    rounds: int = 2
    threads: int = 0
    time_min: int = 5
    deadline_min: int = 60
    params: dict | None = None

    @classmethod
    def from_config(cls, cfg) -> "Settings":
        s = cfg.get("agent.probes")
        return cls(enabled=s["enabled"], per_run=s["per_run"], fleet=s["fleet"], max_nodes=s["max_nodes"],
                   probe=s["probe"], rounds=s["rounds"], threads=s["threads"], time_min=s["time_min"],
                   deadline_min=s["deadline_min"], params=dict(s["params"]))


def asked_by_job(record: list[dict]) -> dict[str, str]:
    """job id -> the sweep the agent already ran for it (one per job), from the agent's audit rows."""
    out: dict[str, str] = {}
    for row in record:
        detail = row["detail"] or {}
        if row["event"] == PROBE_EVENT:
            out.update({job_id: detail.get("sweep") for job_id in detail.get("for_jobs", [])})
    return out


def probed_since(store, nodes, since) -> bool:
    """Every node has a probe result stored after ``since`` (a datetime): nothing left to ask."""
    from slurm_diag.diagnose.node_facts import when

    for node in nodes:
        if not any((at := when(r.get("time"))) is not None and at >= since
                   for r in store.probe_results(node=node, limit=50)):
            return False
    return True


def fleet_for(client, job_nodes, settings: Settings) -> tuple[list[str], list[str]]:
    """(nodes to probe, the job's nodes left out and why): the job's usable nodes first, then other
    usable nodes (idle before mixed) up to ``settings.fleet``, never more than ``max_nodes``."""
    known = {n.name: n for n in client.list_nodes()}
    usable = {name for name, n in known.items() if n.runs_jobs}
    mine = [n for n in job_nodes if n in usable]
    skipped = [f"{n} ({'drained' if known[n].drained else 'not responding'})" if n in known else f"{n} (unknown)"
               for n in job_nodes if n not in usable]
    idle_first = sorted((n for n in usable if n not in mine),
                        key=lambda name: (0 if known[name].state.upper().startswith("IDLE") else 1, name))
    want = max(settings.fleet, len(mine))
    return (mine + idle_first)[:min(want, settings.max_nodes)], skipped


def new_sweep(cfg, settings: Settings, nodes):
    """The sweep these settings describe over ``nodes`` (probes.sweep.Sweep), results under the home."""
    from slurm_diag.probes import submit as sub
    from slurm_diag.probes import sweep as sw

    sweep_id = sw.new_sweep_id(settings.probe)
    return sw.Sweep(sweep_id=sweep_id, probe=settings.probe, nodes=tuple(nodes), rounds=settings.rounds,
                    params=dict(settings.params or {}), threads=settings.threads, mem="0",
                    time_min=settings.time_min, deadline_min=settings.deadline_min, python=sub.job_python(),
                    results_dir=str(sub.sweeps_dir(cfg) / sweep_id))


def submit(ctx, job_ids: list[str], nodes: list[str], settings: Settings, say=lambda m: None) -> dict:
    """Submit the sweep and the follow-up agent pass; record both in the audit log."""
    from slurm_diag.probes import submit as sub
    from slurm_diag.probes import sweep as sw

    sweep = new_sweep(ctx.cfg, settings, nodes)
    sweep_id = sweep.sweep_id
    records = sub.submit(ctx.client, sweep, say)
    follow_up = ctx.client.submit(follow_up_script(job_ids),
                                  follow_up_args(ctx.cfg, records[-1].job_id, sw.deadline_minutes(sweep, len(records))),
                                  workdir=str(Path(sweep.results_dir)))
    doc = {"sweep": sweep_id, "probe": settings.probe, "nodes": list(nodes), "for_jobs": list(job_ids),
           "jobs": [r.job_id for r in records], "follow_up": follow_up}
    ctx.store.audit(ctx.actor, PROBE_EVENT, SUBJECT, doc)
    return doc


def follow_up_script(job_ids: list[str]) -> str:
    argv = [sys.executable, "-m", "slurm_diag", "agent", "run", "--jobs", ",".join(job_ids), "--json"]
    return ("#!/bin/bash\n# the diagnosis agent's follow-up pass: collect its probe sweep, look at the jobs again\n"
            f"exec {' '.join(shlex.quote(a) for a in argv)}\n")


FOLLOW_UP_MIN = 10


def follow_up_args(cfg, after: str, sweep_deadline_min: int) -> list[str]:
    """It shares the scheduled agent's name (singleton: never two passes at once), so it must not
    wait forever: the sweep's jobs carry a deadline, and the follow-up its own, its time limit after
    the sweep's last. A follow-up that never ran leaves its sweep to the next scheduled pass, which
    collects it."""
    logs = cfg.private_dir("agent")
    return ["--job-name=sdiag-agent", f"--dependency=afterany:{after},singleton", "--kill-on-invalid-dep=yes",
            "--nodes=1", "--ntasks=1", f"--time={FOLLOW_UP_MIN}",
            f"--deadline=now+{sweep_deadline_min + FOLLOW_UP_MIN}minutes",
            f"--output={logs / 'agent-follow-up-%j.out'}"]


def collect_finished(ctx, rows: list[dict], say=lambda m: None) -> list[dict]:
    """Judge and store every sweep the agent submitted (``rows``: the agent's audit rows) whose jobs
    have all ended; the others wait for a later pass. Returns what was collected: sweep, nodes,
    flagged nodes."""
    from slurm_diag.probes import submit as sub

    done = {(r["detail"] or {}).get("sweep") for r in rows if r["event"] == COLLECT_EVENT}
    out = []
    for row in rows:
        detail = row["detail"] or {}
        if row["event"] != PROBE_EVENT or detail.get("sweep") in done:
            continue
        try:
            sweep, records, collected = sub.read_manifest(ctx.cfg, detail["sweep"])
            if not collected and not all(_ended(ctx.client, r.job_id) for r in records):
                continue
            flagged = [] if collected else sorted(
                {v.node for v in sub.finish(ctx.client, ctx.store, ctx.cfg, sweep, records, say, 30).flagged})
        except SdiagError as exc:
            say(f"sweep {detail.get('sweep')}: not collected: {exc.message}")
            continue
        doc = {"sweep": sweep.sweep_id, "nodes": list(sweep.nodes), "flagged": flagged,
               "for_jobs": detail.get("for_jobs", [])}
        ctx.store.audit(ctx.actor, COLLECT_EVENT, SUBJECT, doc)
        done.add(sweep.sweep_id)
        out.append(doc)
    return out


def _ended(client, job_id: str) -> bool:
    try:
        return client.get_job(job_id).finished
    except SdiagError:
        return False
