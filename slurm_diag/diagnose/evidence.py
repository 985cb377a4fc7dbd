"""Evidence: Findings (schemas/finding.schema.json) plus what each one argues for.

A Finding is a fact with a stable id, its source, the node/GPU it concerns and the raw data; the
argument (label, scope, component, tier) is kept beside it, so the same finding can support one
attribution and contradict another. Log findings come from ``signs`` plus what a regex per line
cannot do: Xid codes judged by their number, Python tracebacks (the last exception and the frame
that raised it), nvidia-smi -q blocks (a GPU at its temperature limit, a busy GPU's clocks held
down), the job's own throughput and the durations of its runs, and two cascades read in order (a
cancel right after a task failed is the failure's consequence; a failed prolog that says why is
named for the reason). Where nothing decides, ``unrecognised`` picks the log's last error lines
that no sign matched, as findings that argue for nothing: where to look next.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from slurm_diag.diagnose import extract, nvidia_smi_q, run_times, signs, throughput

SYMPTOM_TIER = 4
CONTEXT_TIER = 5              # evidence that does not explain how this job ended: shown, never argued
MAX_LOG_FINDINGS = 40          # per log: the first occurrence of each sign, then the rest counted
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_LIBRARY = re.compile(r"[/\\](?:site-packages|dist-packages|lib/python\d[\d.]*|lib64/python\d[\d.]*)[/\\]|^<frozen ")
_RANK = re.compile(r"^\[rank\d+\]:")
_PREFIX = re.compile(r"^(?:\[(?:rank|default)\d*\]:|\d+: )\s?")     # torchrun's "[rank3]:", srun --label's "3: "
# srun's report of a task that failed by itself (not one terminated or killed by the cancel), or srun
# tearing the step down because a task failed
_TASK_FAILED = re.compile(r"srun: error: \S+: tasks? [\d,\-]+: (?!Terminated)|srun: Terminating job step")
_TASK_KILLED = re.compile(r"srun: error: \S+: tasks? [\d,\-]+: Killed\s*$")
CONSEQUENCE_WINDOW = 5      # lines before a cancel in which a task failure makes it the failure's consequence
# the job's own word that its work is over (not an epoch's or an evaluation's), and how close before
# the time-limit kill it must stand
_FINISHED = re.compile(r"\b(?:training|fine-?tuning|pre-?training|the job|the run)\s+(?:is\s+|has\s+|was\s+)?"
                       r"(?:done|finished|completed)\b|\b(?:finished|completed)\s+(?:the\s+)?(?:training|fine-?tuning|"
                       r"pre-?training)\b|\bafter training is done\b", re.IGNORECASE)
FINISH_WINDOW = 30
_WATCHDOG = re.compile(r"Watchdog caught collective operation timeout|we are taking the entire process down|"
                       r"detected by watchdog")
_ABORT = re.compile(r"Aborted|terminate called after throwing|core dumped|SIGABRT|signal 6\b")
_SEGV = re.compile(r"Segmentation fault|SIGSEGV|signal 11\b|segfault")
_EXCEPTION = re.compile(r"^(?P<type>(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|"
                        r"Interrupt|Failure|Warning)|AssertionError|StopIteration)(?::\s*(?P<msg>.*))?$")

# a line that reads as an error: when no rule decides, the last few that no sign matched are shown
# (to the user, and to an LLM, which may name a cause from them: agent/verifier.py)
_ERRORISH = re.compile(r"\b(?:errors?|fatal|fail(?:ed|ure|s)?|exception|abort(?:ed|ing)?|killed|denied|refused|"
                       r"timed? ?out|cannot|can't|could ?n[o']t|unable to|segmentation|panic|invalid|not found|"
                       r"no such|unexpected(?:ly)?|crash(?:ed)?|corrupt(?:ed|ion)?|violation|terminated|mismatch|"
                       r"not (?:supported|available|allowed|permitted))\b", re.IGNORECASE)
_NO_ERROR = re.compile(r"\b(?:no|0|zero) (?:errors?|failures?)\b|\b(?:errors?|failures?)\s*[=:]\s*0\b",
                       re.IGNORECASE)
# Python's words between two tracebacks of one chain: they name no error of their own
_CHAINED = re.compile(r"^\s*(?:During handling of the above exception, another exception occurred|"
                      r"The above exception was the direct cause of the following exception):?\s*$")
# srun's words for tasks a cancel, a time limit or another task's failure ended: never a cause
_STEP_ENDING = re.compile(r"srun: error: \S+: tasks? [\d,\-]+: Terminated\s*$|srun: Force Terminated (?:job )?step|"
                          r"srun: Job step aborted: Waiting up to|srun: forcing job termination|"
                          r"_step_signal: Terminating StepId=", re.IGNORECASE)
_CANCEL_LINE = re.compile(r"\*\*\* (?:JOB|STEP) \S+ ON \S+ CANCELLED AT ")    # a task Killed after it: the cancel's
MAX_UNRECOGNISED = 3


@dataclass
class Evidence:
    finding: dict                       # a Finding document
    label: str | None = None            # what it argues for (None: context only)
    scope: str | None = None
    component: str | None = None
    tier: int = 9
    lines: list[int] = field(default_factory=list)
    also: tuple[str, ...] = ()          # other labels known to produce the same finding

    @property
    def id(self) -> str:
        return self.finding["id"]


def finding(id: str, source: str, severity: str, summary: str, *, job_id=None, node=None, gpu=None,
            raw=None, time=None) -> dict:
    doc = {"id": id, "source": source, "severity": severity, "summary": summary[:500]}
    for key, value in (("job_id", job_id), ("node", node), ("gpu", gpu), ("raw", raw), ("time", time)):
        if value is not None:
            doc[key] = value
    return doc


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def from_log(lines, *, where: str = "log", job_id=None, pci_to_gpu=None) -> list[Evidence]:
    """Evidence in a cleaned log: one per sign (first line, count of the rest), per Xid code,
    and for the last Python traceback."""
    lines = list(lines)
    found: dict[str, Evidence] = {}
    for n, line in enumerate(lines, 1):
        lowered = line.lower()
        matched = [s for s in signs.candidates(lowered) if s.pattern.search(line)]
        explained = {x for s in matched for x in s.explains}
        for s in matched:
            if s.id in explained:
                continue
            ev = found.get(s.id)
            if ev is None:
                if len(found) >= MAX_LOG_FINDINGS:
                    continue
                nodes, gpus = extract.nodes_in(line), extract.gpus_in(line, pci_to_gpu)
                if s.label == "network":          # either end of a failed link: not the one that said so
                    nodes = [node for node in nodes if node not in extract.reporters_in(line)]
                found[s.id] = _sign_evidence(s, line, n, where, job_id, nodes, gpus)
            else:
                ev.finding["raw"]["count"] += 1
                ev.lines.append(n)
        for code, bus in extract.xids_in(line):
            _xid(found, code, bus, line, n, where, job_id, pci_to_gpu)
    _cancel_after_task_failure(found, lines, where, job_id)
    _step_still_waiting(found, lines)
    _abort_after_watchdog(found, lines)
    _node_lost_to_the_cloud(found)
    _many_bridges(found)
    _hang_after_finish(found, lines, where, job_id)
    _prolog_failure_with_reason(found)
    _hot_gpus(found, lines, where, job_id, pci_to_gpu)
    _slower_runs(found, lines, where, job_id)
    _straggler(found, lines, where, job_id)
    _mismatched_collectives(found, lines, where, job_id)
    drop = throughput.sustained_drop(lines)
    if drop is not None:
        label = "gpu_throttle" if drop.throttle_cues else "slow_node"
        found["throughput-drop"] = Evidence(
            finding(f"{where}:throughput-drop", "log", "WARN",
                    f"the job's own throughput fell {drop.share:.0%} while it ran ({drop.early:g} -> {drop.late:g} "
                    f"{drop.unit} over {drop.samples} samples)"
                    + (", with temperatures, clocks or power in the same lines" if drop.throttle_cues else ""),
                    job_id=job_id, raw={"where": where, "line": drop.first_line, "last_line": drop.last_line,
                                        "unit": drop.unit, "early": drop.early, "late": drop.late,
                                        "samples": drop.samples}),
            label, "infra", "gpu" if label == "gpu_throttle" else "node", 3,
            [drop.first_line], ("slow_node" if label == "gpu_throttle" else "gpu_throttle",))
    tb = last_traceback(lines)
    if tb is not None:
        _traceback(found, tb, where, job_id)
        # the traceback's finding says more (the frames) than a sign that matched its last line alone
        for key, ev in list(found.items()):
            if not key.startswith("traceback-") and ev.lines == [tb.line] and ev.label == "user_code":
                del found[key]
    return list(found.values())


def is_unrecognised(finding_doc: dict) -> bool:
    """A finding made by ``unrecognised``: an error line no rule knows."""
    return finding_doc["id"].rpartition(":")[2].startswith("unrecognised-")


def unrecognised(lines, found: list[Evidence], *, where: str = "log", job_id=None,
                 limit: int = MAX_UNRECOGNISED) -> list[Evidence]:
    """The last ``limit`` distinct lines of a log that read as errors and that no sign matched
    (nor a traceback's frames), in log order: findings that argue for nothing. Meant for when the
    engine cannot decide: they say where to look."""
    lines = list(lines)
    known = {n for ev in found if isinstance(ev.finding.get("raw"), dict)
             and ev.finding["raw"].get("where") == where for n in ev.lines}
    cancel = next((n for n, line in enumerate(lines, 1) if _CANCEL_LINE.search(line)), len(lines) + 1)
    picked: list[tuple[int, str]] = []
    shapes: set[str] = set()
    for n in range(len(lines), 0, -1):
        text = lines[n - 1].strip()
        if (n in known or not _ERRORISH.search(text) or _NO_ERROR.search(text) or _FRAME.match(text)
                or _CHAINED.match(text) or _STEP_ENDING.search(text) or (n > cancel and _TASK_KILLED.search(text))):
            continue
        shape = re.sub(r"\d+", "#", text)
        if shape in shapes:
            continue
        shapes.add(shape)
        picked.append((n, text))
        if len(picked) >= limit:
            break
    return [Evidence(finding(f"{where}:unrecognised-{_short_hash(text)}", "log", "UNKNOWN",
                             f"an error line no rule recognises: {text[:300]}", job_id=job_id,
                             raw={"where": where, "line": n, "text": text[:500]}), lines=[n])
            for n, text in reversed(picked)]


def _consequence(ev: Evidence, of_line: int, tier: int = SYMPTOM_TIER) -> None:
    """Demote ``ev`` to ``tier``: what log line ``of_line`` (1-based) says caused it. A symptom is
    no longer a warning of its own."""
    ev.tier = tier
    if tier >= SYMPTOM_TIER:
        ev.finding["severity"] = "WARN"
    ev.finding["raw"]["consequence_of_line"] = of_line


def _sign_evidence(s: signs.Sign, line: str, n: int, where: str, job_id, nodes=(), gpus=()) -> Evidence:
    """A sign's evidence from line ``n`` (1-based) of a log; a node or GPU only where the line names one."""
    return Evidence(
        finding(f"{where}:{s.id}", "log", _severity(s.tier), f"{s.summary}: {line.strip()[:300]}",
                job_id=job_id, node=nodes[0] if len(nodes) == 1 else None, gpu=gpus[0] if len(gpus) == 1 else None,
                raw={"where": where, "line": n, "text": line[:500], "count": 1, "sign": s.id}),
        s.label, s.scope, s.component, s.tier, [n], s.also)


_STEP_CANCEL = re.compile(r"\*\*\* STEP \d+\.(\S+) ON ")


def _cancel_after_task_failure(found: dict, lines: list[str], where: str, job_id) -> None:
    """A step cancelled right after srun reported a task's failure was cancelled by srun because of
    that failure (--kill-on-bad-exit, a task killed by a signal): the failure is the cause, the
    cancellation a symptom. A task srun saw Killed before any cancel was killed by SIGKILL on its
    own, most often by the OOM killer: a symptom that ranks host memory first, as the signal's
    other words do (srun's "Killed" after a cancel is only how the cancel ended the task)."""
    for ev in (found.get("cancelled"), found.get("cancelled-unsaid")):
        if ev is None:
            continue
        at = ev.lines[0] - 1
        failed = [k for k in range(max(0, at - CONSEQUENCE_WINDOW), at) if _TASK_FAILED.search(lines[k])]
        if failed:
            k = failed[0]
            _consequence(ev, k + 1)
            ev.finding["summary"] = (f"the step was cancelled as a consequence of the task failure srun reported "
                                     f"on line {k + 1}, not by a person: {lines[at].strip()[:300]}")
            step = _STEP_CANCEL.search(lines[at])
            ev.finding["raw"].update(task_failure=lines[k].strip()[:300],       # the step it names; None: the job
                                     cancelled_step=step.group(1) if step else None)
            if _TASK_KILLED.search(lines[k]) and "host-oom-sigkill" not in found:
                found["host-oom-sigkill"] = _sign_evidence(signs.by_id("host-oom-sigkill"), lines[k], k + 1,
                                                           where, job_id)


_STEP_CREATED = re.compile(r"srun: Step created for ")     # "for job 2095" (22.05), "for StepId=2095.1" (later)


def _step_still_waiting(found: dict, lines: list[str]) -> None:
    """Whether srun was still waiting to start a step when the log ends: no "Step created" after
    its last wait (a step that waited, then ran, is how steps share a job)."""
    ev = found.get("step-wait")
    if ev is not None:
        created = [n for n in range(ev.lines[-1], len(lines) + 1) if _STEP_CREATED.search(lines[n - 1])]
        ev.finding["raw"]["still_waiting"] = not created


def _abort_after_watchdog(found: dict, lines: list[str]) -> None:
    """PyTorch's NCCL watchdog takes the process down with SIGABRT once a collective timed out
    ("Aborted (core dumped)", "terminate called after throwing ... DistBackendError"): aborts that
    follow a watchdog timeout are that timeout's, a symptom like it. A segfault stays a crash."""
    crash, watchdog = found.get("user-segfault"), found.get("net-symptom")
    if crash is None or watchdog is None:
        return
    first = next((k for k in range(len(lines)) if _WATCHDOG.search(lines[k])), None)
    if first is None or first + 1 >= crash.lines[0]:
        return
    if all(_ABORT.search(lines[k - 1]) and not _SEGV.search(lines[k - 1]) for k in crash.lines):
        _consequence(crash, first + 1)


def _node_lost_to_the_cloud(found: dict) -> None:
    """A cloud node that failed, or never came up, after the cloud said it had no capacity, no
    quota or took the instance back: the cloud's answer is the cause, the node's failure its
    consequence (it stays an alternative)."""
    cloud, node = found.get("sched-cloud-capacity"), found.get("node-fail")
    if cloud is not None and node is not None and cloud.lines[0] < node.lines[0]:
        _consequence(node, cloud.lines[0], tier=3)


BRIDGES_TO_DECIDE = 3


def _many_bridges(found: dict) -> None:
    """NCCL listing container bridges or veth pairs among its socket interfaces: one is a hint (a
    single-node job runs fine over docker0), several mean NCCL_SOCKET_IFNAME was left to chance on
    a host full of container networks that other nodes cannot reach; alone, the best explanation."""
    ev = found.get("net-iface")
    if ev is not None and ev.finding["raw"]["count"] >= BRIDGES_TO_DECIDE:
        ev.tier = 3


def _straggler(found: dict, lines: list[str], where: str, job_id) -> None:
    """The job's own report of a rank far slower than the rest (Megatron's straggler detector); a
    time limit after it is its consequence."""
    slow = throughput.straggler(lines)
    if slow is None:
        return
    found["straggler"] = Evidence(
        finding(f"{where}:straggler", "log", "WARN",
                f"the job's own straggler report: rank {slow.rank} did {slow.low:g} TFLOP/s against "
                f"{slow.high:g} on the fastest rank (line {slow.line})",
                job_id=job_id, raw={"where": where, "line": slow.line, "rank": slow.rank,
                                    "low": slow.low, "high": slow.high}),
        "slow_node", "infra", "node", 2, [slow.line], ("gpu_throttle",))
    limit = found.get("time-limit")
    if limit is not None and limit.lines[0] > slow.line and limit.tier < 3:
        _consequence(limit, slow.line, tier=3)


# PyTorch's watchdog naming the collective a rank was stuck in: its sequence number, kind and size
_WORK = re.compile(r"WorkNCCL\(SeqNum=(?P<seq>\d+), OpType=(?P<op>\w+)(?:, NumelIn=(?P<numel>\d+))?")
_GROUP = re.compile(r"\[PG (?:ID )?(\d+)\b")      # the process group a watchdog line names, when it does


def _mismatched_collectives(found: dict, lines: list[str], where: str, job_id) -> None:
    """Ranks timed out in different collectives at the same sequence number (one in ALLREDUCE, another
    in BROADCAST, or the same collective with different sizes): the job's ranks took different paths
    through its code, a desynchronisation no fabric causes. Decides over the timeouts themselves."""
    seen: dict[tuple[str, str | None], tuple[int, str, str | None]] = {}
    for n, line in enumerate(lines, 1):
        m = _WORK.search(line)
        if m is None:
            continue
        group = _GROUP.search(line)      # each process group counts its own sequence numbers
        first = seen.setdefault((m["seq"], group[1] if group else None), (n, m["op"], m["numel"]))
        if m["op"] == first[1] and (m["numel"] == first[2] or None in (m["numel"], first[2])):
            continue                     # the same collective (a size not printed matches any)
        what = (f"{first[1]} and {m['op']}" if m["op"] != first[1]
                else f"{m['op']} of {first[2]} and of {m['numel']} elements")
        found["collective-mismatch"] = Evidence(
            finding(f"{where}:collective-mismatch", "log", "WARN",
                    f"ranks were waiting in different collectives at the same step (SeqNum {m['seq']}: {what}, "
                    f"lines {first[0]} and {n}): the job's ranks diverged in its own code",
                    job_id=job_id, raw={"where": where, "line": first[0], "other_line": n, "seq": int(m["seq"])}),
            "user_code", "user", "process", 2, [first[0], n], ("network",))
        return


def _hang_after_finish(found: dict, lines: list[str], where: str, job_id) -> None:
    """The job said its work was done, and only then reached its time limit: it hung on its way out
    (a process group never destroyed, a profiler or logger that never returned, workers left
    behind). The hang is the job's; the time limit only ended it, so it stays an alternative."""
    limit = found.get("time-limit")
    if limit is None:
        return
    at = limit.lines[0] - 1
    done = [k for k in range(max(0, at - FINISH_WINDOW), at) if _FINISHED.search(lines[k])]
    if not done:
        return
    k = done[-1]
    found["hang-after-finish"] = Evidence(
        finding(f"{where}:hang-after-finish", "log", "CRITICAL",
                f"the job said its work was done (line {k + 1}: {lines[k].strip()[:160]}) and then hung until the "
                f"time limit ended it (line {at + 1}): its own exit path, not too little time",
                job_id=job_id, raw={"where": where, "line": k + 1, "limit_line": at + 1, "text": lines[k][:300]}),
        "user_code", "user", "process", 0, [k + 1], ("time_limit",))


def _prolog_failure_with_reason(found: dict) -> None:
    """'Prolog failed' is what Slurm saw; when the log also says why (a missing command, library or
    plugin, a full disk), that reason is the root cause and the failed prolog its consequence. A
    prolog failure that says nothing more stays the scheduler's."""
    ev = found.get("prolog-failed")
    if ev is None:
        return
    reasons = [r for r in found.values() if r is not ev and r.label not in (None, "scheduler") and r.tier <= 2]
    if reasons:
        ev.tier = 3
        ev.finding["raw"]["explained_by"] = reasons[0].id


def _named_gpu(bus, pci_to_gpu) -> tuple[str, int | None]:
    gpu = pci_to_gpu.get(bus) if (pci_to_gpu and bus) else None
    if bus is None:
        return "a GPU", None
    return (f"the GPU at PCI {bus}" if gpu is None else f"GPU {gpu} (PCI {bus})"), gpu


def _hot_gpus(found: dict, lines: list[str], where, job_id, pci_to_gpu) -> None:
    """nvidia-smi -q: a GPU at its temperature limit, or busy with its SM clock held well below its maximum."""
    hot, held = nvidia_smi_q.at_limit(lines), nvidia_smi_q.clocks_held(lines)
    if hot:
        h = hot[0]
        _held_gpu(found, "gpu-temp-limit", hot, "at their limit", where, job_id, pci_to_gpu,
                  f", within {nvidia_smi_q.MARGIN_C} C of the limit: the driver holds its clocks down "
                  f"(thermal throttling)",
                  {"current_c": h.current, "limit_c": h.limit, "limit": h.limit_name})
    if held:
        h = held[0]
        _held_gpu(found, "gpu-clocks-held", held, "held down", where, job_id, pci_to_gpu,
                  ": a busy GPU runs near its maximum clock unless power, heat or a hardware slowdown holds it "
                  "down (see its Clocks Event Reasons)",
                  {"sm_mhz": h.sm_mhz, "max_sm_mhz": h.max_sm_mhz, "utilization_pct": h.busy_pct})


def _held_gpu(found: dict, key: str, gpus: list, others: str, where, job_id, pci_to_gpu, says: str,
              figures: dict) -> None:
    """One gpu_throttle finding for the first of ``gpus`` (nvidia-smi -q readings), counting the rest."""
    h = gpus[0]
    named, gpu = _named_gpu(h.bus, pci_to_gpu)
    more = f"; {len(gpus) - 1} more {others}" if len(gpus) > 1 else ""
    found[key] = Evidence(
        finding(f"{where}:{key}", "log", "CRITICAL", f"{named}: {h.describe()}{says}{more}", job_id=job_id, gpu=gpu,
                raw={"where": where, "line": h.line, "pci_bus_id": h.bus, **figures, "count": len(gpus)}),
        "gpu_throttle", "infra", "gpu", 1, [h.line])


def _slower_runs(found: dict, lines: list[str], where, job_id) -> None:
    slow = run_times.later_runs_slower(lines)
    if slow is None:
        return
    found["runs-slower"] = Evidence(
        finding(f"{where}:runs-slower", "log", "WARN",
                f"the job's last {slow.slow_runs} of {slow.runs} runs took {run_times.hms(slow.after)} against "
                f"{run_times.hms(slow.before)} before ({slow.ratio:.1f}x slower): the same job slowing down that much "
                f"points at where it ran; compare the nodes of the fast and the slow runs",
                job_id=job_id, raw={"where": where, "line": slow.first_line, "last_line": slow.last_line,
                                    "before_s": slow.before, "after_s": slow.after, "runs": slow.runs}),
        "slow_node", "infra", "node", 3, [slow.first_line], ("gpu_throttle",))


def _severity(tier: int) -> str:
    return "CRITICAL" if tier <= 1 else "WARN"


def _xid(found, code: int, bus, line: str, n: int, where, job_id, pci_to_gpu) -> None:
    key = f"xid-{code}"
    if key in found:
        found[key].finding["raw"]["count"] += 1
        found[key].lines.append(n)
        return
    gpu = pci_to_gpu.get(bus) if (pci_to_gpu and bus) else None
    nodes = extract.nodes_in(line)
    node = nodes[0] if len(nodes) == 1 else None
    raw = {"where": where, "line": n, "text": line[:500], "count": 1, "xid": code, "pci_bus_id": bus}
    if code in signs.HARDWARE_XIDS:
        ev = Evidence(finding(f"{where}:{key}", "log", "CRITICAL", f"hardware Xid {code}: {line.strip()[:300]}",
                              job_id=job_id, node=node, gpu=gpu, raw=raw), "gpu_hardware", "infra", "gpu", 0, [n])
    elif code in signs.APPLICATION_XIDS:
        ev = Evidence(finding(f"{where}:{key}", "log", "WARN",
                              f"Xid {code}, raised by an application's own GPU code: {line.strip()[:300]}",
                              job_id=job_id, node=node, gpu=gpu, raw=raw), "user_code", "user", "cuda", 3, [n])
    else:
        ev = Evidence(finding(f"{where}:{key}", "log", "WARN", f"Xid {code} (not classified): {line.strip()[:300]}",
                              job_id=job_id, node=node, gpu=gpu, raw=raw), None, None, "gpu", 9, [n])
    found[key] = ev


@dataclass(frozen=True)
class Traceback:
    line: int                 # 1-based line of the exception
    type: str
    message: str
    frame: dict | None        # {"file", "line", "func"} of the frame that raised
    own_frame: dict | None = None   # the innermost frame outside installed libraries: the job's code


def last_traceback(lines: list[str]) -> Traceback | None:
    """The last 'Traceback (most recent call last):' block: its exception and the last frame. A
    quoted excerpt often starts below the header: then the last run of frames ending in an
    exception line counts as one."""
    start = None
    for n in range(len(lines) - 1, -1, -1):
        if _TRACEBACK.search(lines[n]):
            start = n
            break
    if start is None:
        start = _headless_frames(lines)
    if start is None:
        return _rank_exception(lines)
    frame = own = None
    for n in range(start + 1, min(len(lines), start + 400)):
        text = _PREFIX.sub("", lines[n], count=1)
        m = _FRAME.match(text)
        if m:
            frame = {"file": m["file"], "line": int(m["line"]), "func": m["func"]}
            if not _LIBRARY.search(m["file"]):
                own = frame
            continue
        e = _EXCEPTION.match(text)
        if e and text[:1] not in (" ", "\t"):
            return Traceback(n + 1, e["type"], (e["msg"] or "").strip(), frame, own)
    return None


def _rank_exception(lines: list[str]) -> Traceback | None:
    """With no frames at all, torchrun's rank-prefixed exception line ("[rank1]: RuntimeError: ...")
    still says which rank raised what: the first one that is not a symptom (a peer's timeout or
    abort is not where it started)."""
    symptoms = [s for s in signs.all_signs() if s.tier >= SYMPTOM_TIER]
    for n, line in enumerate(lines):
        if not _RANK.match(line):
            continue
        text = _PREFIX.sub("", line, count=1)
        e = _EXCEPTION.match(text)
        if e and text[:1] not in (" ", "\t") and not any(s.search(text, text.lower()) for s in symptoms):
            return Traceback(n + 1, e["type"], (e["msg"] or "").strip(), None, None)
    return None


def _headless_frames(lines: list[str]) -> int | None:
    """The line before the last frame run (``File "...", line N, in f``, its source line) that an
    exception line closes, when no traceback header is there."""
    for n in range(len(lines) - 1, 0, -1):
        text = _PREFIX.sub("", lines[n], count=1)
        if text[:1] in (" ", "\t") or not _EXCEPTION.match(text):
            continue
        k = n - 1
        while k >= 0 and n - k <= 3 and not _FRAME.match(_PREFIX.sub("", lines[k], count=1)):
            k -= 1
        if k < 0 or n - k > 3:
            continue
        while k > 0 and (_FRAME.match(_PREFIX.sub("", lines[k - 1], count=1))
                         or _PREFIX.sub("", lines[k - 1], count=1)[:1] in (" ", "\t")):
            k -= 1
        return k - 1
    return None


def _traceback(found: dict, tb: Traceback, where: str, job_id) -> None:
    """A traceback whose exception no sign explains is the job's own code failing."""
    text = f"{tb.type}: {tb.message}" if tb.message else tb.type
    at = f" (raised in {tb.frame['func']} at {tb.frame['file']}:{tb.frame['line']}" if tb.frame else ""
    if tb.own_frame and tb.own_frame is not tb.frame:
        at += f", called from {tb.own_frame['func']} at {tb.own_frame['file']}:{tb.own_frame['line']}"
    at += ")" if at else ""
    explained = [s for s in signs.all_signs() if s.search(text, text.lower())]
    raw = {"where": where, "line": tb.line, "text": text[:500], "count": 1, "exception": tb.type,
           "message": tb.message[:500], "frame": tb.frame, "own_frame": tb.own_frame}
    if explained:
        best = min(explained, key=lambda s: s.tier)
        found[f"traceback-{_short_hash(text)}"] = Evidence(
            finding(f"{where}:traceback", "log", _severity(best.tier), f"last exception {text[:300]}{at}",
                    job_id=job_id, raw=raw), best.label, best.scope, best.component, best.tier, [tb.line])
        return
    found[f"traceback-{_short_hash(text)}"] = Evidence(
        finding(f"{where}:traceback", "log", "WARN", f"the job's code raised {text[:300]}{at}", job_id=job_id, raw=raw),
        "user_code", "user", "python", 3, [tb.line])
