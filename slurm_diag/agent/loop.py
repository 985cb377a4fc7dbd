"""The agent's observe-orient-decide-act loop, one pass per `sdiag-agent agent run`.

Observe: jobs that ended since the last run (failed, timed out, out of memory, node failures,
cancelled by the system, requeued, and completed jobs the engine's earlier-runs comparison calls
slow) and nodes with new health or probe findings. Orient: the engine per job (and the LLM when
one is given), then across jobs (``correlate``). Decide: an attribution per job; proposals for
infra causes with node evidence, through ``slurm_diag.actions`` (which checks its own rules).
Act: attributions, findings and proposals to the store; the reasoning transcript and where the
run stopped to the append-only audit log. It never changes a node itself.

A rerun over the same window adds nothing: one attribution per job and evidence hash.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from slurm_diag.agent import correlate, probing
from slurm_diag.errors import EnvironmentProblem, SdiagError

ACTOR_EVENT = "agent.attribution"
RUN_EVENT = "agent.run"
RUN_SUBJECT = "agent"
FAILED_STATES = ("FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "PREEMPTED", "REQUEUED",
                 "CANCELLED", "DEADLINE")
REQUEUE_STATES = ("NODE_FAIL",)
OWN_JOBS = "sdiag-"          # job names of slurm-diag's own probe sweeps (sdiag-gemm, ...) and agent passes


@dataclass
class RunReport:
    start: str
    end: str
    llm: str
    jobs_seen: int = 0
    controls: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    attributions: list[dict] = field(default_factory=list)
    node_findings: list[dict] = field(default_factory=list)
    nodes_observed: list[dict] = field(default_factory=list)
    proposals: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    probes_asked: list[dict] = field(default_factory=list)
    probes_collected: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        diagnosed = len(self.attributions) + len(self.unchanged) + len(self.controls)
        return {"window": {"start": self.start, "end": self.end}, "llm": self.llm, "jobs_seen": self.jobs_seen,
                "controls": self.controls, "unchanged": self.unchanged, "attributions": self.attributions,
                "node_findings": self.node_findings, "nodes_observed": self.nodes_observed,
                "proposals": self.proposals, "refused": self.refused, "probes_asked": self.probes_asked,
                "probes_collected": self.probes_collected, "seconds": round(self.seconds, 3),
                "seconds_per_job": round(self.seconds / diagnosed, 3) if diagnosed else None}


@contextmanager
def single_run(home):
    """One agent run at a time on this home (besides Slurm's --dependency=singleton): a second
    copy stops at once, saying so."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "agent.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise EnvironmentProblem(f"another agent run holds {path} ({holder}); this one did nothing",
                                     hint="wait for it to finish; the scheduled job uses --dependency=singleton") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
        fh.flush()
        yield


def _utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(text):
    from slurm_diag.diagnose.node_facts import when
    return when(text)


def window(store, now: datetime, since: timedelta | None, first: timedelta) -> tuple[datetime, datetime]:
    """[start, now]: from ``since`` ago when given, else from where the last run stopped, else
    ``first`` ago (a new installation)."""
    if since is not None:
        return now - since, now
    runs = [r for r in store.audit_log(subject=RUN_SUBJECT)          # --jobs runs keep no window
            if r["event"] == RUN_EVENT and (r["detail"] or {}).get("end")]
    last = _when((runs[-1]["detail"] or {}).get("end")) if runs else None
    return (last or now - first), now


def observe_jobs(client, start: datetime, end: datetime) -> list:
    """Jobs that ended in the window in a state worth a look (COMPLETED ones too: slow or controls)."""
    jobs = client.list_jobs(start, end, [*FAILED_STATES, "COMPLETED"])
    out = []
    for job in jobs:
        ended = _when(job.end)
        if ended is not None and not (start <= ended <= end):
            continue
        if (job.name or "").startswith(OWN_JOBS):     # probe sweeps and agent passes judge themselves
            continue
        if job.state == "CANCELLED" and not _by_system(job):
            continue
        out.append(job)
    return out


def _by_system(job) -> bool:
    """Cancelled by someone other than its owner (root, SlurmUser, an operator: `CANCELLED by 0`).
    A cancel whose canceller or owner cannot be told apart is the owner's: it is not observed."""
    from slurm_diag.diagnose.job_facts import cancelled_by_owner
    return cancelled_by_owner(job) is False


def observe_nodes(store, start: datetime, probe_results: list[dict]) -> list[dict]:
    """Nodes with health or probe findings (WARN or CRITICAL) recorded since ``start``
    (``probe_results``: the store's newest, read once a pass)."""
    seen: dict[str, list[str]] = {}
    for report in store.health_reports(limit=2000):
        at = _when(report.get("time"))
        if at is None or at < start:
            continue
        for check in report.get("checks", []):
            if check.get("status") in ("WARN", "CRITICAL"):
                seen.setdefault(report["node"], []).append(f"health {check['name']} {check['status']}")
    for result in probe_results:
        at = _when(result.get("time"))
        status = (result.get("verdict") or {}).get("status")
        if at is not None and at >= start and status in ("WARN", "CRITICAL"):
            seen.setdefault(result["node"], []).append(f"probe {result['probe']} {status}")
    return [{"node": n, "findings": sorted(set(f))} for n, f in sorted(seen.items())]


def qualify(job_id: str, diagnosis: dict) -> dict:
    """Finding ids unique in the store: '<job>:<id>' in the findings and in the attribution."""
    def q(fid: str) -> str:
        return f"{job_id}:{fid}"
    findings = [dict(f, id=q(f["id"]), job_id=job_id) for f in diagnosis["findings"]]
    a = dict(diagnosis["attribution"], job_id=job_id)
    a["supporting"] = [q(i) for i in a["supporting"]]
    a["contradicting"] = [q(i) for i in a["contradicting"]]
    return {**diagnosis, "findings": findings, "attribution": a}


def evidence_hash(findings: list[dict], attribution: dict) -> str:
    doc = {"findings": sorted([f["id"], f["severity"], f["summary"]] for f in findings),
           "attribution": [attribution["label"], attribution["scope"], sorted(attribution["supporting"])]}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _latin1(text: str) -> str:
    """The findings table's summary column is latin1 on a MariaDB created with the server's default
    charset (the devcluster's): '>=' for '\u2265' and '?' for what latin1 cannot hold, in the stored copy only."""
    text = text.replace("≥", ">=").replace("≤", "<=").replace("→", "->")
    return text.encode("latin-1", "replace").decode("latin-1")


def _known(store, subject: str, digest: str) -> bool:
    return any(r["event"] == ACTOR_EVENT and (r["detail"] or {}).get("evidence_hash") == digest
               for r in store.audit_log(subject=subject))


class Loop:
    """One pass. ``diagnose(job, history) -> explain-like dict`` (history: the pass's jobs' node events
    and records, read once); ``reason(diagnosis, job) -> (attribution,
    llm record)`` or None for the engine alone."""

    def __init__(self, ctx, diagnose, *, reason=None, llm: str = "none", min_jobs: int = 3, max_jobs: int = 500,
                 probes=None):
        """``probes``: probing.Settings, or None to never ask for probes (unit tests of decisions)."""
        self.ctx, self.diagnose, self.reason, self.llm = ctx, diagnose, reason, llm
        self.min_jobs, self.max_jobs = min_jobs, max_jobs
        self.probes = probes if probes is not None and probes.enabled else None
        self._sweeps_left = probes.per_run if self.probes else 0
        self._asked: dict[str, str] = {}      # job id -> its sweep, read from the audit log once per pass

    @property
    def store(self):
        return self.ctx.store

    def run(self, *, since: timedelta | None = None, job_ids=(), first: timedelta = timedelta(hours=1),
            now: datetime | None = None) -> RunReport:
        began = time.monotonic()
        now = now or datetime.now().astimezone()      # sacct reads -S/-E as local times
        start, end = window(self.store, now, since, first)
        report = RunReport(_utc(start), _utc(end), self.llm)
        if self.probes:                  # sweeps asked for earlier: judged and stored before anyone reads them
            record = self.store.audit_log(subject=probing.SUBJECT)      # read once a pass
            report.probes_collected = probing.collect_finished(self.ctx, record)
            self._asked = probing.asked_by_job(record)
        jobs = [self.ctx.client.get_job(j) for j in job_ids] if job_ids else observe_jobs(self.ctx.client, start, end)
        from slurm_diag.slurm.job_lookup import with_requests      # a forgotten job's paths, asked for all at once

        jobs = with_requests(self.ctx.client, jobs[:self.max_jobs], skip=lambda job: job.state == "COMPLETED")
        report.jobs_seen = len(jobs)
        probe_results = self.store.probe_results(limit=2000)                  # read once a pass
        report.nodes_observed = observe_nodes(self.store, start, probe_results)
        views = []
        from slurm_diag.diagnose.collect import NodeHistory

        history = NodeHistory(self.ctx.client, jobs)
        for job in jobs:
            view = self._orient(job, report, history, named=bool(job_ids))
            if view is not None:
                views.append(view)
        handled = self._across(views, report)
        self._probed_nodes(start, probe_results, handled, report)
        report.seconds = time.monotonic() - began
        self.store.audit(self.ctx.actor, RUN_EVENT, RUN_SUBJECT,
                         {"start": report.start, "end": report.end if not job_ids else None, "llm": self.llm,
                          "jobs": report.jobs_seen, "attributions": len(report.attributions),
                          "proposals": [p["id"] for p in report.proposals], "seconds": round(report.seconds, 3)})
        return report

    # ------------------------------------------------------------ orient and decide, per job
    def _orient(self, job, report: RunReport, history, named: bool):
        d = self.diagnose(job, history)
        slow = any(f["id"] == "sacct:earlier-runs" and f["severity"] == "WARN" for f in d["findings"])
        decisions = []
        record = {"status": "off"}
        engine_said = d["attribution"]
        if self.reason is not None and (job.state != "COMPLETED" or slow):
            attribution, record = self.reason(d, job)
            d = {**d, "attribution": attribution}
        view = correlate.JobView(job.job_id, job.state, tuple(job.nodes), d["attribution"], d["findings"])
        if (own := correlate.xid_storm_is_the_jobs(view)) is not None:
            decisions.append(f"engine said {d['attribution']['label']} (infra); application Xids make it the job's")
            d = {**d, "attribution": own}
        d = qualify(job.job_id, d)
        # a job the rules could not decide still counts against its nodes, whatever a model read in it
        # (the LLM only adds: it cannot take a job out of the cross-job count; only labels are read there)
        counted = engine_said if engine_said["label"] == "unknown" and own is None else d["attribution"]
        view = correlate.JobView(job.job_id, job.state, tuple(job.nodes), counted, d["findings"])
        if job.state == "COMPLETED" and not slow and not named:
            report.controls.append(job.job_id)       # a control: no attribution of its own
            return view
        digest = evidence_hash(d["findings"], d["attribution"])
        if _known(self.store, job.job_id, digest):
            report.unchanged.append(job.job_id)
            return view
        a = d["attribution"]
        self._store_findings(d["findings"])
        a["id"] = self.store.add_attribution(a)
        report.attributions.append(a)
        decisions.append(f"attribution {a['label']} ({a['scope']}), confidence {a['confidence']}")
        if a["scope"] == "infra" and not (job.state == "COMPLETED" and not slow):
            decisions += self._propose_for_job(job, a, d["findings"], record, report)
        else:
            decisions.append("no proposal: " + ("the job's own doing" if a["scope"] == "user" else "it completed"))
        if slow and not any(f["source"] == "probe" for f in d["findings"]):
            decisions.append(self._ask_probes([job.job_id], list(job.nodes), _when(job.start), report))
        elif record.get("probe_wanted"):              # the model asked (round 2); the same cap and rules apply
            decisions.append("the model asked for probes: " +
                             self._ask_probes([job.job_id], record["probe_wanted"], _when(job.start), report))
        self.store.audit(self.ctx.actor, ACTOR_EVENT, job.job_id, {
            "evidence_hash": digest, "attribution_id": a["id"], "label": a["label"], "scope": a["scope"],
            "transcript": {"observe": {"state": job.state, "nodes": list(job.nodes), "slow": slow},
                           "orient": {"findings": [[f["id"], f["severity"], f["summary"][:200]] for f in d["findings"]],
                                      "not_checked": d.get("not_checked", []), "llm": record},
                           "decide": decisions}})
        return view

    def _propose_for_job(self, job, a: dict, findings: list[dict], record: dict, report: RunReport) -> list[str]:
        from slurm_diag.actions.rules import node_evidence

        out = []
        for node in a.get("suspect_nodes", []):
            if not node_evidence(node, a, findings):
                out.append(f"no drain of {node}: no health or probe finding on it supports the attribution")
                continue
            out.append(self._propose("drain", node, a, findings, record, report,
                                     f"job {job.job_id}: {a['label']}: {a['explanation'][:160]}"))
        if job.state in REQUEUE_STATES:
            out.append(self._propose("requeue", job.job_id, a, findings, record, report,
                                     f"{job.state} on {', '.join(job.nodes)}: {a['label']}"))
        return out

    def _propose(self, action, target, a, findings, record, report, reason) -> str:
        from slurm_diag.actions import Refused, propose
        from slurm_diag.actions.proposals import OPEN

        pending = [p for p in self.store.proposals() if p["action"] == action and p["target"] == target
                   and p["state"] in OPEN]
        if pending:
            return f"{action} {target} not proposed again: {pending[0]['id']} is {pending[0]['state']}"
        try:
            doc = propose(self.ctx, action, target, reason=reason, attribution=a, findings=findings,
                          model=record.get("model") or "engine (no LLM)",
                          prompt_version=record.get("prompt_version") or "none")
        except Refused as exc:
            report.refused.append({"action": action, "target": target, "rule": exc.rule, "why": exc.message})
            return f"{action} {target} refused by rule {exc.rule}: {exc.message}"
        except SdiagError as exc:
            report.refused.append({"action": action, "target": target, "rule": type(exc).__name__, "why": exc.message})
            return f"{action} {target} not proposed: {exc.message}"
        report.proposals.append(doc)
        return f"proposed {action} {target} as {doc['id']}"

    def _ask_probes(self, job_ids: list[str], nodes: list[str], since, report: RunReport) -> str:
        """Ask for a probe sweep on these nodes (plus a fleet to compare with), within the run's cap."""
        if self.probes is None:
            return "no probes asked (agent.probes.enabled is false)"
        asked = {self._asked[j] for j in job_ids if j in self._asked}
        if asked:
            return f"probes already asked for: sweep {', '.join(sorted(asked))}"
        if since is not None and probing.probed_since(self.store, nodes, since):
            return f"no probes asked: {', '.join(nodes)} already probed since {_utc(since)}"
        if self._sweeps_left <= 0:
            return f"no probes asked: the cap of {self.probes.per_run} sweep(s) per run is reached; the next run asks"
        try:
            chosen, skipped = probing.fleet_for(self.ctx.client, nodes, self.probes)
            if not any(n in chosen for n in nodes):
                return f"no probes asked: none of {', '.join(nodes)} can run a probe now ({', '.join(skipped)})"
            doc = probing.submit(self.ctx, job_ids, chosen, self.probes)
        except SdiagError as exc:
            return f"no probes asked: {exc.message}"
        self._sweeps_left -= 1
        self._asked.update({j: doc["sweep"] for j in job_ids})
        report.probes_asked.append(doc)
        return (f"asked for {doc['probe']} probes on {', '.join(chosen)} (sweep {doc['sweep']}, jobs "
                f"{doc['jobs'][0]}..{doc['jobs'][-1]}); follow-up pass {doc['follow_up']} looks again when they end")

    def _store_findings(self, findings: list[dict]) -> None:
        have = {f["id"] for job_id in {f.get("job_id") for f in findings} for f in self.store.findings(job_id=job_id)} \
            if findings else set()
        for f in findings:
            if f["id"] not in have:
                self.store.add_finding(dict(f, summary=_latin1(f["summary"])))

    # ------------------------------------------------------------ across jobs
    def _across(self, views: list[correlate.JobView], report: RunReport) -> set[str]:
        """Node patterns across the jobs; returns the nodes they concerned."""
        handled: set[str] = set()
        for pattern in correlate.node_patterns(views, min_jobs=self.min_jobs, window=(report.start, report.end)):
            handled.add(pattern.node)
            a = pattern.attribution
            findings = [pattern.finding, *pattern.node_findings]
            subject = f"node:{pattern.node}"
            digest = evidence_hash(findings, a)
            if _known(self.store, subject, digest):
                report.unchanged.append(subject)
                continue
            report.node_findings.append(pattern.finding)
            self._store_findings([pattern.finding])
            a["id"] = self.store.add_attribution(a)
            report.attributions.append(a)
            if pattern.node_findings:
                decision = self._propose("drain", pattern.node, a, findings, {}, report,
                                         f"{len(pattern.jobs)} jobs failed on {pattern.node}; "
                                         f"{pattern.node_findings[0]['summary'][:120]}")
            else:
                decision = f"no drain of {pattern.node}: no health or probe finding on it yet; " + \
                    self._ask_probes(pattern.jobs, [pattern.node], _when(report.start), report)
            self.store.audit(self.ctx.actor, ACTOR_EVENT, subject, {
                "evidence_hash": digest, "attribution_id": a["id"], "label": a["label"], "scope": a["scope"],
                "transcript": {"observe": {"jobs": pattern.jobs},
                               "orient": {"findings": [[f["id"], f["severity"], f["summary"][:200]] for f in findings]},
                               "decide": [decision]}})
        return handled

    def _probed_nodes(self, start: datetime, probe_results: list[dict], handled: set[str],
                      report: RunReport) -> None:
        """Nodes a probe judged CRITICAL in the window, whoever ran it: a drain proposal of their own
        (an approver decides), unless the node is drained already or a drain of it is open."""
        from slurm_diag.actions.proposals import OPEN

        flagged = correlate.probe_flags(probe_results, start, _when)
        if not flagged:
            return
        drained = {n.name for n in self.ctx.client.list_nodes() if n.drained}
        open_drains = {p["target"] for p in self.store.proposals() if p["action"] == "drain" and p["state"] in OPEN}
        for node, findings in sorted(flagged.items()):
            if node in handled or node in drained or node in open_drains:
                continue
            a = correlate.probe_attribution(node, findings)
            subject = f"node:{node}"
            digest = evidence_hash(findings, a)
            if _known(self.store, subject, digest):
                report.unchanged.append(subject)
                continue
            report.node_findings.extend(findings)
            self._store_findings(findings)
            a["id"] = self.store.add_attribution(a)
            report.attributions.append(a)
            decision = self._propose("drain", node, a, findings, {}, report,
                                     f"probe on {node}: {findings[0]['summary'][:150]}")
            self.store.audit(self.ctx.actor, ACTOR_EVENT, subject, {
                "evidence_hash": digest, "attribution_id": a["id"], "label": a["label"], "scope": a["scope"],
                "transcript": {"observe": {"probes": [f["id"] for f in findings]},
                               "orient": {"findings": [[f["id"], f["severity"], f["summary"][:200]] for f in findings]},
                               "decide": [decision]}})


def engine_diagnoser(client, store, kb_entries=None):
    """diagnose(job, history=None) -> the engine's document over the job, its nodes' events, health and
    probe records (``history``: a collect.NodeHistory shared by the pass's jobs)."""
    from slurm_diag.diagnose import collect, engine

    def diagnose(job, history=None) -> dict:
        missing = [f"{u.daemon} did not answer ({u.error}): {u.loses}" for u in job.unreachable]
        more, not_checked = collect.around_job(job, client, lambda: store, history)
        return engine.diagnose_job(job, more=more, not_checked=missing + not_checked,
                                   kb_entries=kb_entries).to_dict()
    return diagnose


def _model_figures(diagnosis: dict, job, store) -> list[str]:
    """The performance model's lines for the prompt: the job's pace, and its nodes' latest probes
    against the model (agent/perf_figures.py); a store that cannot be read leaves the pace alone."""
    from slurm_diag.agent import perf_figures

    results: list[dict] = []
    if store is not None:
        try:
            results = [r for node in job.nodes for r in store.probe_results(node=node, limit=200)]
        except SdiagError:
            results = []
    return perf_figures.figures(diagnosis, job, results)


def llm_reasoner(backend, cfg, client=None, store=None):
    """reason(diagnosis, job) -> (attribution, llm record) through the agent's reasoning layer
    (self-play, verifier, cache, budgets); the engine's attribution stands when it is rejected.
    With ``client`` and ``store`` the model's round-2 checks read Slurm and the store, and its probe
    requests come back in the record's ``probe_wanted`` for the loop to act on within its cap."""
    from slurm_diag.agent import reason as reason_mod
    from slurm_diag.agent import tools as tools_mod
    from slurm_diag.diagnose import job_facts, logfile

    cache = reason_mod.AnswerCache(cfg.private_dir("llm", "answers"))
    budget = reason_mod.RunBudget.from_settings(cfg.get("llm"))

    def reason(diagnosis: dict, job):
        paths = job_facts.log_paths(job)        # the job's own names, %j expanded; the default once forgotten
        log = logfile.read_tail(paths[0][1], for_user=job.user) if paths else None
        text = log.text() if log is not None and log.usable else ""
        wanted: list[str] = []
        tools = None
        if client is not None and store is not None:
            tools = tools_mod.Tools(nodes=set(job.nodes), functions=tools_mod.record_functions(client, store, wanted))
        out = reason_mod.explain(diagnosis, text, backend, tools=tools, job_nodes=list(job.nodes), cache=cache,
                                 budget=budget, model_figures=_model_figures(diagnosis, job, store))
        record = out["llm"]
        if wanted:
            record = {**record, "probe_wanted": sorted(set(wanted))}
        return out["attribution"], record
    return reason
