"""Gather what is known about a job's nodes through the existing gateways (the Slurm adapter and
the store), each source on its own: one that cannot be read becomes an UNKNOWN finding saying
why, and the others still count."""

from __future__ import annotations

from datetime import timedelta

from slurm_diag.diagnose import node_facts, pci_map, request_fit
from slurm_diag.diagnose.evidence import CONTEXT_TIER, Evidence, finding
from slurm_diag.errors import SdiagError
from slurm_diag.slurm.records import CONTROLLER


EARLIER_DAYS = 30
MIN_EARLIER = 2
SLOWER = 1.5          # this run's node-seconds over the earlier runs' median: slow
# the names Slurm gives a job that was not named (a script on stdin, --wrap, an interactive shell):
# runs sharing them are not the same work
NAMELESS = frozenset({"sbatch", "wrap", "bash", "sh", "interactive"})


def earlier_runs(job, client) -> tuple[list[Evidence], list[str]]:
    """Is this run slower than the same job's earlier runs (same name, same user, completed in the
    last 30 days)? Elapsed is normalised by node count (node-seconds), so a run on twice the
    nodes is expected in half the time. A slow run is context, not a cause: the node's health and
    probe records decide whose it is. A running job is slow once it has run SLOWER times as long as
    their median; before then nothing is said. Each step is set against the same step of the earlier runs too
    (``step_ratios``), so the finding says which part of the work got slower."""
    import statistics

    if not job.elapsed_s or not job.name or job.name in NAMELESS \
            or job.state not in ("COMPLETED", "TIMEOUT", "RUNNING"):
        return [], []
    end = node_facts.when(job.start)
    if end is None:
        return [], []
    try:
        runs = client.list_jobs(end - timedelta(days=EARLIER_DAYS), end, ["COMPLETED"], name=job.name, user=job.user)
    except SdiagError as exc:
        return [_unreadable("sacct:earlier-runs", "sacct", f"the job's earlier runs: {exc.message}", job)], \
            ["earlier runs of the same job (sacct)"]
    previous = [r for r in runs if r.job_id != job.job_id and r.elapsed_s is not None
                and (node_facts.when(r.end) or end) <= end]
    # sacct counts whole seconds: a completed run shown as 0 s took under one, so it counts as one
    earlier = [max(1, r.elapsed_s or 0) * max(1, len(r.nodes)) for r in previous]
    if len(earlier) < MIN_EARLIER:
        return [], [f"earlier runs of {job.name!r} (found {len(earlier)}, need {MIN_EARLIER} to compare)"]
    typical = statistics.median(earlier)
    now = job.elapsed_s * max(1, len(job.nodes))
    ratio = now / typical if typical else 1.0
    steps = step_ratios(job, previous)
    raw = {"node_seconds": now, "earlier_median_node_seconds": typical, "earlier_runs": len(earlier),
           "ratio": round(ratio, 2), "steps": steps}
    by_step = ("; by step: " + ", ".join(f"{s['step']} ({s['name']}) {s['ratio']:.1f}x" for s in steps)) \
        if steps else ""
    if ratio < SLOWER and job.state == "RUNNING":
        return [], []
    if job.state == "RUNNING":
        return [Evidence(finding("sacct:earlier-runs", "sacct", "WARN",
                                 f"has run {ratio:.1f}x as long as its {len(earlier)} earlier runs took, and is "
                                 f"still running ({now:g} node-seconds so far against their median of {typical:g}) "
                                 f"on {', '.join(job.nodes)}{by_step}", job_id=job.job_id, raw=raw),
                         "slow_node", "infra", "node", 4)], []
    if ratio < SLOWER:
        return [Evidence(finding("sacct:earlier-runs", "sacct", "OK",
                                 f"ran about as fast as its {len(earlier)} earlier runs ({ratio:.1f}x their median)"
                                 + by_step,
                                 job_id=job.job_id, raw=raw))], []
    return [Evidence(finding("sacct:earlier-runs", "sacct", "WARN",
                             f"ran {ratio:.1f}x slower than its {len(earlier)} earlier runs "
                             f"({now:g} node-seconds against a median of {typical:g}) on {', '.join(job.nodes)}"
                             + by_step,
                             job_id=job.job_id, raw=raw), "slow_node", "infra", "node", 4)], []


def step_ratios(job, runs) -> list[dict]:
    """Each step of the job against the same step (id and name) of its earlier runs, in node-seconds:
    which part of the work got slower (reading the data, the training, the write-out). Only for a
    job with steps of its own besides the batch script, and only steps that at least MIN_EARLIER of
    the earlier runs had."""
    import statistics

    def key(step):
        return step.step_id, step.name

    def cost(step, run) -> int:
        return max(1, step.elapsed_s or 0) * max(1, len(step.nodes) or len(run.nodes))

    own = [st for st in job.steps if st.kind not in ("batch", "extern") and st.elapsed_s is not None]
    out = []
    for step in own:
        before = [cost(st, r) for r in runs for st in r.steps if key(st) == key(step) and st.elapsed_s is not None]
        if len(before) < MIN_EARLIER:
            continue
        typical = statistics.median(before)
        now = cost(step, job)
        out.append({"step": step.step_id, "name": step.name, "node_seconds": now,
                    "earlier_median_node_seconds": typical, "ratio": round(now / typical, 2)})
    return out


def subjects(job) -> set[str]:
    """The ids the job's prologs and epilogs wrote their actions under: SLURM_JOB_ID, which is an
    array task's or a heterogeneous job's component's own id (130 for 124_5), and the id as users
    write it."""
    return {job.job_id, job.job_id_raw, *(c.job_id_raw for c in job.het_components)} - {"", None}


class NodeHistory:
    """Node events and the store's records of nodes, read once for many jobs: an array's tasks or an
    agent's pass share nodes and a span of time, and one ``sacctmgr show event`` over all of them
    replaces one per job (about a fifth of a second each). Each job still keeps only the events and
    records of its own nodes and window (node_facts filters them). A query that failed fails again,
    with the same error, for every job that asks."""

    def __init__(self, client, jobs=()):
        self._client = client
        spans = [(node_facts.window(j), j.nodes) for j in jobs]
        spans = [(span, nodes) for span, nodes in spans if span is not None and nodes]
        self._span = None
        if spans:
            self._span = (min(s[0] for s, _ in spans) - _MARGIN, max(s[1] for s, _ in spans) + _MARGIN,
                          sorted({n for _, nodes in spans for n in nodes}))
        self._events = None
        self._records: dict[tuple[str, str], list] = {}
        self._subjects = {i for j in jobs for i in subjects(j)}
        self._actions: dict[str, list[dict]] | None = None

    def node_events(self, start, end, nodes):
        span = self._span
        if span is None or start < span[0] or end > span[1] or not set(nodes) <= set(span[2]):
            return self._client.node_events(start, end, nodes)
        if self._events is None:
            try:
                self._events = ("ok", self._client.node_events(*span))
            except SdiagError as exc:
                self._events = ("failed", exc)
        if self._events[0] == "failed":
            raise self._events[1]
        return self._events[1]

    def actions(self, store, job) -> list[dict]:
        """The store's audit rows about ``job`` (its prologs' actions), oldest first: one query for
        all the jobs the history was made for."""
        mine = subjects(job)
        if not mine <= self._subjects:
            return store.audit_log(subjects=sorted(mine))
        if self._actions is None:
            found: dict[str, list[dict]] = {}
            for row in store.audit_log(subjects=sorted(self._subjects)):
                found.setdefault(row["subject"], []).append(row)
            self._actions = found                 # not before: a query that failed is asked again
        rows = [row for i in mine for row in self._actions.get(i, [])]
        return sorted(rows, key=lambda row: row["seq"])

    def records(self, store, kind: str, node: str) -> list:
        """``kind``: health_reports or probe_results, the latest 200 of the node."""
        key = (kind, node)
        if key not in self._records:
            self._records[key] = getattr(store, kind)(node=node, limit=200)
        return self._records[key]


_MARGIN = timedelta(minutes=2)


def around_job(job, client, store_factory, history: NodeHistory | None = None) -> tuple[list[Evidence], list[str]]:
    """(evidence, what could not be checked) from node events, health reports and probe results;
    ``history``: what several jobs share, read once (NodeHistory)."""
    found: list[Evidence] = []
    missing: list[str] = []
    span = node_facts.window(job)
    if span is None or not job.nodes:
        return found, ["node history (the job never started on a node)"]
    from concurrent.futures import ThreadPoolExecutor

    history = history or NodeHistory(client)
    kept_off: list[Evidence] = []
    with ThreadPoolExecutor(max_workers=1) as pool:     # sacctmgr runs while the store opens
        events = pool.submit(history.node_events, span[0] - _MARGIN, span[1] + _MARGIN, job.nodes)
        try:
            store = store_factory()
            reports = [r for node in job.nodes for r in history.records(store, "health_reports", node)]
            probes = [r for node in job.nodes for r in history.records(store, "probe_results", node)]
        except SdiagError as exc:
            found.append(_unreadable("health:unavailable", "health", f"health and probe records: {exc.message}", job))
            missing.append("node health and probe records (the store)")
            reports = probes = None
        if reports is not None:
            try:
                kept_off = prolog_drains(job, history.actions(store, job))
            except SdiagError as exc:          # the records were read: only the prologs' actions are lost
                found.append(_unreadable("health:actions-unavailable", "health",
                                         f"the prologs' actions on the job's nodes: {exc.message}", job))
                missing.append("the prologs' actions for this job (the store's node_actions)")
        try:
            found += node_facts.from_events(job, events.result())
        except SdiagError as exc:
            found.append(_unreadable("event:unavailable", "sacct", f"node events: {exc.message}", job))
            missing.append("node events (sacctmgr)")
    if reports is not None:
        health, no_record = node_facts.from_health(job, reports)
        found += health + node_facts.from_probes(job, probes) + pci_map.evidence(job, reports)
        missing += no_record
    slower, unknown = earlier_runs(job, client)
    return found + kept_off + slower, missing + unknown


def prolog_drains(job, audit: list[dict]) -> list[Evidence]:
    """The job's own prologs that found a node unfit and kept the job off it (the job was requeued
    and ran elsewhere): the scheduler's doing for a job that then completed, context otherwise."""
    from slurm_diag.store.tables import NODE_ACTIONS_EVENT     # the store is open by now

    out = []
    for row in audit:
        detail = row.get("detail") or {}
        if row.get("event") != NODE_ACTIONS_EVENT or detail.get("action") != "drain" \
                or detail.get("context") != "prolog":
            continue
        node = detail.get("node")
        out.append(Evidence(finding(f"health:{node}:kept-off", "health", "WARN",
                                    f"the job's prolog on {node} found it unfit ({detail.get('reason')}) and kept the "
                                    f"job off it: the node was drained and the job requeued"
                                    + (f", then ran on {', '.join(job.nodes)}" if job.nodes else ""),
                                    job_id=job.job_id, node=node, raw=detail),
                            "scheduler", "infra", "prolog", 3 if job.state == "COMPLETED" else 5))
    return out


# failures that a node's GPU or fabric trouble does not produce: a Python error in the job's own
# code, a missing module, host memory, a full or quota'd filesystem, the scheduler's doing
_INDEPENDENT = {("user_code", "python"), ("user_code", "process"), ("user_code", "slurm")}
_INDEPENDENT_LABELS = {"software_env", "host_oom", "filesystem", "scheduler"}
SLOW_STATES = ("COMPLETED", "TIMEOUT", "RUNNING")
_GPU_LABELS = ("gpu_throttle", "gpu_hardware", "gpu_oom")


def weigh(job, own: list[Evidence], around: list[Evidence]) -> list[Evidence]:
    """Node-side evidence explains a job only when it fits how the job ended. A throttled GPU or a
    slow node explains a job that ran slow (finished, timed out, still running), never one that
    failed, nor one that sat idle until its time limit, nor one that ran as fast as its earlier
    runs, nor a running job that shows no sign of running slow yet; a GPU's fault does not explain
    a job that Slurm gave no GPU, nor one it gave other GPUs of that node (the job's prolog records
    which); GPU or fabric faults do not explain a Python error or a missing module. Evidence that
    does not fit drops to the alternatives (tier 5); a node that went down under the job always
    counts."""
    decisive = [e for e in own if e.label and e.tier <= 3]
    independent = any((e.label, e.component) in _INDEPENDENT or e.label in _INDEPENDENT_LABELS for e in decisive)
    idle = request_fit.idle_cpu_s(job) is not None        # a job that sat waiting was not slowed
    no_gpus = request_fit.gave_no_gpu(job)                    # a GPU's fault is not such a job's
    held = node_facts.held_gpus(around)
    as_fast = next((e for e in around if e.id == "sacct:earlier-runs" and e.finding["severity"] == "OK"), None)
    # a running job is slow when its output says so (a throughput drop, slower runs, a straggler) or
    # it has run SLOWER times as long as its earlier runs took: a node's flag alone says where to look
    shows_slow = job.state != "RUNNING" or any(
        e.label in ("gpu_throttle", "slow_node") and e.finding["source"] == "log" for e in own) or any(
        e.id == "sacct:earlier-runs" and e.finding["severity"] == "WARN" for e in around)
    for ev in around:
        gpu, node = ev.finding.get("gpu"), ev.finding.get("node")
        why = " (does not explain how this job ended)"
        if ev.label in _GPU_LABELS and gpu is not None and node in held and gpu not in held[node]:
            fits = False
            why = f" (GPU {gpu} was not the job's: Slurm gave it {node_facts.gpu_words(held[node])} on {node})"
        elif no_gpus and ev.label in _GPU_LABELS and gpu is not None:
            fits = False
        elif ev.label in ("gpu_throttle", "slow_node") and as_fast:
            fits = False
            why = f" (the job ran about as fast as its earlier runs: {as_fast.finding['summary']})"
        elif ev.label in ("gpu_throttle", "slow_node") and not shows_slow:
            fits = False
            why = (" (the job is still running and shows no sign of running slow so far: no drop in its output's "
                   "throughput, and not yet longer than its earlier runs took)")
        elif ev.label in ("gpu_throttle", "slow_node"):
            fits = job.state in SLOW_STATES and not idle
        elif ev.label in ("gpu_hardware", "network"):
            fits = not independent
        else:
            fits = True
        if not fits:
            ev.tier = CONTEXT_TIER
            ev.finding["summary"] += why
        elif ev.label in ("gpu_throttle", "slow_node") and job.state == "TIMEOUT":
            for own_ev in own:                 # it ran out of time because it ran slow on that node
                if own_ev.label == "time_limit" and own_ev.finding["source"] == "sacct":
                    own_ev.tier = max(own_ev.tier, ev.tier + 1)
    return around


def unconfirmed_xids(log_evidence: list[Evidence], node_evidence: list[Evidence]) -> None:
    """A GPU hardware fault printed in the job's output (an Xid, "fallen off the bus", an
    uncorrectable ECC error) that the driver never reported: the job's epilog read the kernel log
    on every node it ran on and found no hardware Xid, and each of those faults leaves one. A log is
    untrusted text, so such a line is a symptom at most (tier 4), never a GPU fault that outranks
    the job's own errors."""
    clean = next((e for e in node_evidence if e.id == node_facts.XID_CLEAN), None)
    if clean is None:
        return
    for ev in log_evidence:
        if ev.finding.get("source") == "log" and ev.label == "gpu_hardware" and ev.tier < 4:
            ev.tier = 4
            ev.finding["severity"] = "WARN"
            ev.finding["summary"] += (" (the driver never reported it: the job's epilog read the kernel log on "
                                      f"{', '.join(clean.finding['raw']['nodes'])} and found no hardware Xid)")


def log_gpus(job, log_evidence: list[Evidence], node_evidence: list[Evidence]) -> None:
    """A GPU number in the job's output (``cuda:1``, ``GPU 1 has a total capacity``) counts the GPUs
    the job's processes see: Slurm shows a job only its own GPUs (CUDA_VISIBLE_DEVICES, the device
    cgroup), numbered from 0 in the node's order. Where the job's prolog or epilog recorded which
    GPUs those were on the finding's node (the job's only node, if the line names none), the finding
    names the node's GPU, the one its health checks and probes name. A number past the job's GPUs is
    left as printed (a program that set CUDA_VISIBLE_DEVICES itself, nvidia-smi's own listing); so is
    a GPU named by its PCI bus id, which the health reports map.

    A job that asked for GPUs per task (--gpus-per-task) numbers each task's own from 0, so a number
    names one of several GPUs of the node only where the job is known to have asked for none per task:
    slurmctld shows the request until it forgets the job (MinJobAge), accounting after that where it
    kept the job's environment (AccountingStoreFlags=job_env; ``submission``). Otherwise the number is
    left as printed. A step's --gpu-bind, or a launcher that sets CUDA_VISIBLE_DEVICES per rank,
    numbers per task too and leaves no record."""
    held = node_facts.held_gpus(node_evidence)
    request_known = CONTROLLER in job.sources or job.gpus_per_task_known
    for ev in log_evidence:
        f, raw = ev.finding, ev.finding.get("raw")
        node = f.get("node") or (job.nodes[0] if len(job.nodes) == 1 else None)
        if f["source"] != "log" or f.get("gpu") is None or node not in held or not isinstance(raw, dict) \
                or raw.get("pci_bus_id") or "job_gpu" in raw:
            continue
        gpus = sorted(held[node])
        if f["gpu"] >= len(gpus):
            continue
        if len(gpus) > 1 and (job.gpus_per_task or not request_known):
            why = (f"Slurm gave each task {job.gpus_per_task} of them" if job.gpus_per_task else
                   "slurmctld has forgotten whether the job asked for GPUs per task, and accounting did not "
                   "keep the job's environment (AccountingStoreFlags=job_env)")
            f["summary"] += (f" (GPU {f['gpu']} as the job numbered it, among {node_facts.gpu_words(gpus)} of "
                             f"{node} that were the job's: {why}, so which one it is cannot be told)")
            continue
        raw["job_gpu"] = printed = f["gpu"]
        f["node"], f["gpu"] = node, gpus[printed]
        if gpus[printed] != printed:
            f["summary"] += (f" (the job's GPU {printed} is GPU {gpus[printed]} of {node}: Slurm gave the job "
                             f"{node_facts.gpu_words(gpus)} there, which it numbers from 0)")


def stray_memory(job, log_evidence: list[Evidence], node_evidence: list[Evidence]) -> list[Evidence]:
    """CUDA OOM is the job's own unless a process outside the job held that GPU's memory when the
    job's prolog checked it: then the cluster's (tier 1, so it outranks the job's OOM line). A
    process on another of the job's GPUs did not take the memory of the one that ran out, where
    the log says which one that was and the job's prolog which GPUs it had (``log_gpus``)."""
    ooms = [e for e in log_evidence if e.label == "gpu_oom"]
    if not ooms:
        return []
    ran_out = {(e.finding["node"], e.finding["gpu"]) for e in ooms if "job_gpu" in (e.finding.get("raw") or {})}
    out = []
    for ev in node_evidence:
        raw = ev.finding.get("raw") or {}
        check = raw.get("check") or {}
        other_gpu = ran_out and ev.finding.get("gpu") is not None \
            and (ev.finding.get("node"), ev.finding["gpu"]) not in ran_out
        if check.get("name") == "stray_processes" and raw.get("context") == "prolog" \
                and raw.get("report_job_id") == job.job_id and not other_gpu:
            out.append(Evidence(finding(f"{ev.id}:held-memory", "health", "CRITICAL",
                                        f"before the job started, another process held GPU memory: {check.get('message')}",
                                        job_id=job.job_id, node=ev.finding.get("node"), gpu=ev.finding.get("gpu"),
                                        raw=raw), "gpu_oom", "infra", "gpu-memory", 1))
    return out


def _unreadable(fid: str, source: str, text: str, job) -> Evidence:
    return Evidence(finding(fid, source, "UNKNOWN", f"could not read {text}", job_id=job.job_id))
