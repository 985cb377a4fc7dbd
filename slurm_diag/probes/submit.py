"""Run a probe sweep on the cluster through the Slurm adapter: submit the chain (sweep.py), follow it
with a line per state change, collect each job's results, judge them together and store them.

A job that fails or is killed counts for nothing: its results (a partial file from SIGTERM, say)
are stored marked invalid, and the outcome names the node, the state, the exit code and the log.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from slurm_diag.errors import UsageError
from slurm_diag.probes import sweep as sw
from slurm_diag.status import Status

MANIFEST = "sweep.json"
Say = Callable[[str], None]


@dataclass
class JobRecord:
    planned: sw.PlannedJob
    job_id: str
    log: str
    state: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    elapsed_s: int | None = None
    failure: str | None = None
    docs: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"job_id": self.job_id, "nodes": list(self.planned.nodes), "round": self.planned.round,
                "log": self.log, "state": self.state, "exit_code": self.exit_code, "signal": self.signal,
                "elapsed_s": self.elapsed_s, "failure": self.failure,
                "results": [d["id"] for d in self.docs if "id" in d]}


@dataclass
class Outcome:
    sweep: sw.Sweep
    jobs: list[JobRecord]
    docs: list[dict] = field(default_factory=list)
    verdicts: list = field(default_factory=list)          # perf.verdict.Verdict, worst first

    @property
    def failures(self) -> list[JobRecord]:
        return [j for j in self.jobs if j.failure]

    @property
    def flagged(self) -> list:
        return [v for v in self.verdicts if v.status in (Status.WARN, Status.CRITICAL)]

    def to_dict(self) -> dict:
        return {"sweep": self.sweep.sweep_id, "probe": self.sweep.probe, "nodes": list(self.sweep.nodes),
                "rounds": self.sweep.rounds, "results_dir": self.sweep.results_dir,
                "flagged": sorted({v.node for v in self.flagged}),
                "verdicts": [{"subject": v.subject, "node": v.node, "gpu": v.gpu, "probe": v.probe,
                              "dtype": v.dtype, "status": v.status.name, "message": v.message,
                              "basis": v.basis, "rounds": v.rounds, "rounds_flagged": v.rounds_flagged,
                              "ratio_expected": v.ratio_expected, "ratio_fleet": v.ratio_fleet,
                              "cause": v.cause} for v in self.verdicts],
                "jobs": [j.to_dict() for j in self.jobs], "results": self.docs}


def sweeps_dir(cfg) -> Path:
    return Path(cfg.home) / "probes"


def job_python() -> str:
    """The interpreter the jobs run: SDIAG_PYTHON, else this one (same install, shared filesystem)."""
    return os.environ.get("SDIAG_PYTHON") or sys.executable


def usable_nodes(client, wanted: tuple[str, ...], say: Say, allow_skip: bool) -> tuple[str, ...]:
    """`wanted` minus nodes Slurm will not run a job on (drained, down); unknown names are an error."""
    known = {n.name: n for n in client.list_nodes()}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise UsageError(f"no node {', '.join(unknown)} in this cluster",
                         hint="nodes: " + (", ".join(sorted(known)) or "none"))
    bad = {n: known[n] for n in wanted if not known[n].runs_jobs}
    for name, node in bad.items():
        why = f" ({node.reason})" if node.reason else ""
        say(f"{name} is {node.state}{'+DRAIN' if node.drained else ''}{why}: Slurm will not start a probe there"
            + ("; left out" if allow_skip else ""))
    if bad and not allow_skip:
        raise UsageError(f"{', '.join(bad)} cannot run jobs now", hint="resume it or leave it out of --nodes")
    left = tuple(n for n in wanted if n not in bad)
    if not left:
        raise UsageError("no node of --nodes can run jobs now", hint="`sdiag-agent nodes` shows their state")
    return left


def write_manifest(sweep: sw.Sweep, jobs: list[JobRecord], collected: bool = False) -> Path:
    path = Path(sweep.results_dir) / MANIFEST
    doc = {"sweep": sweep.to_dict(), "jobs": [j.to_dict() for j in jobs], "collected": collected}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    tmp.replace(path)
    return path


def read_manifest(cfg, sweep_id: str) -> tuple[sw.Sweep, list[JobRecord], bool]:
    path = sweeps_dir(cfg) / sweep_id / MANIFEST
    try:
        doc = json.loads(path.read_text())
        sweep = sw.Sweep.from_dict(doc["sweep"])
        planned = {(tuple(j["nodes"]), j["round"]): j for j in doc["jobs"]}
    except OSError:
        known = sorted(p.parent.name for p in sweeps_dir(cfg).glob(f"*/{MANIFEST}"))[-5:]
        raise UsageError(f"no sweep {sweep_id!r} under {sweeps_dir(cfg)}",
                         hint="recent sweeps: " + (", ".join(known) or "none")) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not a sweep manifest: {exc}") from None
    jobs = []
    for pj in sw.plan(sweep):
        entry = planned.get((pj.nodes, pj.round))
        if entry:
            jobs.append(JobRecord(pj, entry["job_id"], entry["log"]))
    return sweep, jobs, bool(doc.get("collected"))


def submit(client, sweep: sw.Sweep, say: Say) -> list[JobRecord]:
    """Submit the chain; on a failed sbatch cancel what this sweep already submitted."""
    sw.check(sweep)
    results = Path(sweep.results_dir)
    logs = results / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    records: list[JobRecord] = []
    after = None
    try:
        for pj in sw.plan(sweep):
            job_id = client.submit(sw.job_script(sweep, pj), sw.sbatch_args(sweep, pj, str(logs), after),
                                   workdir=str(results))
            records.append(JobRecord(pj, job_id, sw.log_path(str(logs), pj, job_id)))
            after = job_id
    except BaseException:
        for rec in records:
            try:
                client.cancel(rec.job_id)
            except Exception:  # noqa: BLE001 - best effort; the original error is what matters
                pass
        raise
    write_manifest(sweep, records)
    say(f"sweep {sweep.sweep_id}: {len(records)} job(s) {records[0].job_id}..{records[-1].job_id} "
        f"submitted, one at a time; results in {results}")
    return records


def follow(client, records: list[JobRecord], say: Say, job_timeout: float, poll: float = 0.3) -> None:
    """Wait for each job in chain order, a line per state change. A job not finished within
    `job_timeout` of its turn is cancelled and recorded as failed."""
    for rec in records:
        last: list[str | None] = [rec.state]

        def on_poll(job, rec=rec, last=last) -> None:
            state = job.state if job else None
            if state and state != last[0]:
                extra = f" after {job.elapsed_s} s" if job.finished and job.elapsed_s is not None else ""
                say(f"job {rec.job_id} ({rec.planned.label}): {state}{extra}")
                last[0] = state

        try:
            job = client.wait(rec.job_id, timeout=job_timeout, poll=poll, on_poll=on_poll)
        except TimeoutError:
            state = last[0] or "not in accounting"
            try:
                client.cancel(rec.job_id)
            except Exception:  # noqa: BLE001 - it may have ended meanwhile
                pass
            rec.state, rec.failure = state, f"still {state} after {job_timeout:g} s: cancelled"
            say(f"job {rec.job_id} ({rec.planned.label}): {rec.failure}")
            continue
        rec.state, rec.exit_code, rec.signal, rec.elapsed_s = job.state, job.exit_code, job.signal, job.elapsed_s


def collect_job(sweep: sw.Sweep, rec: JobRecord) -> None:
    """Read the job's result files; mark everything invalid when the job did not complete."""
    docs, found = [], 0
    for path in sorted(Path(sweep.results_dir).glob(f"{sweep.probe}-*-{rec.job_id}.*.json")):
        found += 1
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        docs += [d for d in (loaded if isinstance(loaded, list) else [loaded]) if isinstance(d, dict)]
    for doc in docs:
        doc.setdefault("params", {})["sweep"] = sweep.sweep_id
        doc["job_id"] = rec.job_id
    valid = sum(1 for d in docs if d.get("valid"))
    if rec.failure is None:
        rec.failure = sw.failure_reason(rec.state, rec.exit_code, rec.signal, found, valid)
    if rec.failure:
        tail = ""
        try:
            tail = sw.log_tail(Path(rec.log).read_text(errors="replace"))
        except OSError:
            pass
        rec.failure += f"; log {rec.log}" + (f": {tail}" if tail else "")
        sw.invalidate(docs, f"job {rec.job_id} {rec.state or 'not run'}")
    rec.docs = docs


def judge_and_store(outcome: Outcome, cfg, store) -> None:
    """Judge every result of the sweep together (model + fleet + repeats) and store each one."""
    from slurm_diag.perf import annotate

    docs = [d for rec in outcome.jobs for d in rec.docs]
    site, thresholds, mem_bw = annotate.from_config(cfg)
    outcome.verdicts = annotate.annotate(docs, site, thresholds, mem_bw) if docs else []
    for doc in docs:
        doc["id"] = store.add_probe_result(doc)
    outcome.docs = docs


def run_sweep(client, store, cfg, sweep: sw.Sweep, say: Say, job_timeout: float | None = None) -> Outcome:
    """Submit, follow, collect, judge, store: `probe submit --wait`."""
    records = submit(client, sweep, say)
    return finish(client, store, cfg, sweep, records, say, job_timeout)


def finish(client, store, cfg, sweep: sw.Sweep, records: list[JobRecord], say: Say,
           job_timeout: float | None = None) -> Outcome:
    follow(client, records, say, job_timeout or sweep.time_min * 60 + 120)
    for rec in records:
        collect_job(sweep, rec)
    outcome = Outcome(sweep, records)
    judge_and_store(outcome, cfg, store)
    write_manifest(sweep, records, collected=True)
    return outcome
