"""Evidence around a job from its nodes: Slurm's node events (through the fake Slurm), health
reports and probe verdicts (through a real SQLite store), and what is missing."""

from __future__ import annotations

import dataclasses
import os
import pwd
from datetime import datetime, timedelta, timezone

from slurm_diag.diagnose import collect, engine
from slurm_diag.slurm.fake import FakeSlurmClient
from slurm_diag.slurm.records import ACCOUNTING, CONTROLLER, Job, JobStep, NodeEvent
from slurm_diag.store import Store

ME = pwd.getpwuid(os.getuid()).pw_name
START = datetime(2026, 12, 1, 6, 0, 0).astimezone()
END = START + timedelta(minutes=5)


def job(tmp_path, out: str, state="FAILED", exit_code=1, nodes=("node1", "node2")) -> Job:
    (tmp_path / "out.log").write_text(out)
    return Job(job_id="90", job_id_raw="90", name="train", user=ME, partition="gpu", state=state,
               state_detail=state, exit_code=exit_code, signal=0, elapsed_s=300, time_limit_s=3600,
               nodes=tuple(nodes), node_list=",".join(nodes), start=START.strftime("%Y-%m-%dT%H:%M:%S"),
               end=END.strftime("%Y-%m-%dT%H:%M:%S"), stdout=str(tmp_path / "out.log"), work_dir=str(tmp_path))


def report(node, when, checks, context="epilog", job_id="90") -> dict:
    return {"node": node, "time": when.astimezone(timezone.utc).isoformat(timespec="seconds"), "level": "quick",
            "context": context, "job_id": job_id, "status": "OK", "duration_s": 0.1,
            "checks": [{"name": n, "status": s, "message": m, "gpu": g} for n, s, m, g in checks]}


def explain(tmp_path, j, fake, store):
    more, missing = collect.around_job(j, fake, lambda: store)
    return engine.diagnose_job(j, more=more, not_checked=missing)


WATCHDOG = "[Rank 3] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=9, OpType=ALLREDUCE)\n"


def test_a_critical_xid_in_the_epilog_turns_watchdog_timeouts_into_that_gpu(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_health_report(report("node2", END + timedelta(seconds=5),
                                   [("xid", "CRITICAL", "gpu5 XID 79 (GPU has fallen off the bus) x1", 5)]))
    store.add_health_report(report("node1", END + timedelta(seconds=5), [("xid", "OK", "no critical XID", None)]))
    d = explain(tmp_path, job(tmp_path, WATCHDOG * 3), FakeSlurmClient(["node1", "node2"]), store)
    a = d.attribution
    assert (a["label"], a["scope"]) == ("gpu_hardware", "infra")
    assert a["suspect_nodes"] == ["node2"] and a["suspect_gpus"] == [{"node": "node2", "gpu": 5}]


def test_a_node_that_went_down_under_the_job_is_seen_after_it_came_back(tmp_path):
    fake = FakeSlurmClient(["node1", "node2"])
    fake.events.append(NodeEvent("node1", (START + timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%S"),
                                 (START + timedelta(minutes=9)).strftime("%Y-%m-%dT%H:%M:%S"),
                                 "DOWN*", "Not responding", "root(0)"))
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    a = explain(tmp_path, job(tmp_path, "srun: error: node1: task 0: Killed\n"), fake, store).attribution
    assert (a["label"], a["suspect_nodes"]) == ("node_failure", ["node1"])


def test_events_outside_the_window_or_on_other_nodes_do_not_count(tmp_path):
    fake = FakeSlurmClient(["node1", "node2", "node9"])
    fake.events += [NodeEvent("node9", START.strftime("%Y-%m-%dT%H:%M:%S"), None, "DOWN", "Not responding", "root"),
                    NodeEvent("node1", (START - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S"),
                              (START - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S"), "DOWN", "x", "root")]
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    d = explain(tmp_path, job(tmp_path, "ValueError: bad\n"), fake, store)
    assert d.attribution["label"] == "user_code"
    assert not [f for f in d.findings if f["id"].startswith("event:")]


def test_nodes_without_health_records_are_named_not_skipped(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_health_report(report("node1", START, [("clocks", "OK", "fine", None)], context="prolog"))
    d = explain(tmp_path, job(tmp_path, "ValueError: bad\n"), FakeSlurmClient(["node1", "node2"]), store)
    unknown = [f for f in d.findings if f["severity"] == "UNKNOWN" and f.get("node") == "node2"]
    assert unknown and "no health record for node2" in unknown[0]["summary"]
    assert any("node2" in item for item in d.not_checked)


def test_cuda_oom_is_the_clusters_when_a_stray_process_held_the_gpu_before_the_job(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    oom = "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 1)\n"
    store.add_health_report(report("node1", START, [("stray_processes", "WARN",
                                                     "gpu1 holds 70 GiB in pid 4242, not this job's", 1)],
                                   context="prolog"))
    a = explain(tmp_path, job(tmp_path, oom, nodes=("node1",)), FakeSlurmClient(["node1"]), store).attribution
    assert (a["label"], a["scope"], a["suspect_nodes"]) == ("gpu_oom", "infra", ["node1"])
    clean = Store(f"sqlite:///{tmp_path / 'clean.db'}")
    a = explain(tmp_path, job(tmp_path, oom, nodes=("node1",)), FakeSlurmClient(["node1"]), clean).attribution
    assert (a["label"], a["scope"]) == ("gpu_oom", "user")


def test_an_unreachable_store_or_slurm_is_a_finding_and_the_log_still_counts(tmp_path):
    from slurm_diag.store.db import StoreError

    def broken():
        raise StoreError("cannot reach the database", hint="x")

    fake = FakeSlurmClient(["node1", "node2"])
    fake.unreachable = True
    more, missing = collect.around_job(job(tmp_path, "x"), fake, broken)
    ids = {e.id for e in more}
    assert ids == {"event:unavailable", "health:unavailable"}
    d = engine.diagnose_job(job(tmp_path, "ModuleNotFoundError: No module named 'x'\n"), more=more,
                            not_checked=missing)
    assert d.attribution["label"] == "software_env"
    assert "node events (sacctmgr)" in d.not_checked


def test_a_throttled_gpu_does_not_explain_a_python_error_but_does_explain_a_timeout(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_health_report(report("node1", END, [("clocks", "CRITICAL", "gpu3 SM clock 200 MHz, expected >= 1762", 3)]))
    store.add_health_report(report("node2", END, [("clocks", "OK", "fine", None)]))
    crash = "Traceback (most recent call last):\n  File \"t.py\", line 1, in <module>\nKeyError: 'lr'\n"
    d = explain(tmp_path, job(tmp_path, crash), FakeSlurmClient(["node1", "node2"]), store)
    assert d.attribution["label"] == "user_code"
    assert "gpu_throttle" in [a["label"] for a in d.alternatives]
    d = explain(tmp_path, job(tmp_path, "step 10\n", state="TIMEOUT", exit_code=0), FakeSlurmClient(["node1", "node2"]), store)
    assert (d.attribution["label"], d.attribution["suspect_gpus"]) == ("gpu_throttle", [{"node": "node1", "gpu": 3}])


def test_a_gpu_fault_does_not_explain_a_missing_module(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_health_report(report("node2", END, [("xid", "CRITICAL", "gpu5 XID 79 x1", 5)]))
    store.add_health_report(report("node1", END, [("xid", "OK", "fine", None)]))
    d = explain(tmp_path, job(tmp_path, "ModuleNotFoundError: No module named 'apex'\n"),
                FakeSlurmClient(["node1", "node2"]), store)
    assert d.attribution["label"] == "software_env"


def earlier(n, elapsed, nodes=("node1",), name="train") -> Job:
    return Job(job_id=str(n), job_id_raw=str(n), name=name, user=ME, partition="gpu", state="COMPLETED",
               state_detail="COMPLETED", exit_code=0, signal=0, elapsed_s=elapsed, time_limit_s=3600,
               nodes=tuple(nodes), node_list=",".join(nodes), start=(START - timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%S"),
               end=(START - timedelta(hours=n) + timedelta(seconds=elapsed)).strftime("%Y-%m-%dT%H:%M:%S"))


def test_a_run_slower_than_its_earlier_runs_is_blamed_on_the_node_only_with_node_evidence(tmp_path):
    fake = FakeSlurmClient(["node1", "node2"])
    fake.jobs.update({str(n): earlier(n, 100, nodes=("node1", "node2")) for n in (1, 2, 3)})
    fake.jobs["4"] = earlier(4, 150, nodes=("node1",), name="other")
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    slow = job(tmp_path, "epoch 1 done\n", state="COMPLETED", exit_code=0)   # 300 s on 2 nodes: 3x
    slow = dataclasses.replace(slow, elapsed_s=300)
    d = explain(tmp_path, slow, fake, store)
    finding = next(f for f in d.findings if f["id"] == "sacct:earlier-runs")
    assert "3.0x slower than its 3 earlier runs" in finding["summary"]
    assert d.attribution["label"] == "unknown" and d.alternatives[0]["label"] == "slow_node"
    store.add_health_report(report("node2", END, [("clocks", "CRITICAL", "gpu1 SM clock 300 MHz", 1)]))
    store.add_health_report(report("node1", END, [("clocks", "OK", "fine", None)]))
    a = explain(tmp_path, slow, fake, store).attribution
    assert (a["label"], a["suspect_gpus"]) == ("gpu_throttle", [{"node": "node2", "gpu": 1}])


def _with_steps(j: Job, prep: int, train: int, nodes=("node1", "node2")) -> Job:
    return dataclasses.replace(j, steps=(JobStep("batch", "batch", "COMPLETED", 0, 0, prep + train, nodes[:1]),
                                         JobStep("0", "prep", "COMPLETED", 0, 0, prep, nodes[:1]),
                                         JobStep("1", "train", "COMPLETED", 0, 0, train, nodes)))


def test_each_step_is_compared_with_the_same_step_of_the_earlier_runs(tmp_path):
    """Earlier runs read their data in 20 s on one node and trained for 40 s on two; this one read
    as fast and trained for 140 s: the finding says the training is where it got slower."""
    fake = FakeSlurmClient(["node1", "node2"])
    fake.jobs.update({str(n): _with_steps(earlier(n, 60, nodes=("node1", "node2")), 20, 40) for n in (1, 2, 3)})
    slow = _with_steps(dataclasses.replace(job(tmp_path, "done\n", state="COMPLETED", exit_code=0), elapsed_s=160),
                       20, 140)
    d = explain(tmp_path, slow, fake, Store(f"sqlite:///{tmp_path / 'sdiag.db'}"))
    runs = next(f for f in d.findings if f["id"] == "sacct:earlier-runs")
    assert runs["summary"].endswith("; by step: 0 (prep) 1.0x, 1 (train) 3.5x"), runs["summary"]
    assert [(s["step"], s["node_seconds"], s["earlier_median_node_seconds"]) for s in runs["raw"]["steps"]] == \
        [("0", 20, 20), ("1", 280, 80)]
    # earlier runs without those steps (one script, no srun): the job's own figure only
    fake.jobs.update({str(n): earlier(n, 60, nodes=("node1", "node2")) for n in (1, 2, 3)})
    runs = next(f for f in explain(tmp_path, slow, fake, Store(f"sqlite:///{tmp_path / 'sdiag.db'}")).findings
                if f["id"] == "sacct:earlier-runs")
    assert "by step" not in runs["summary"] and runs["raw"]["steps"] == []


def test_twice_the_nodes_in_half_the_time_is_not_slow(tmp_path):
    fake = FakeSlurmClient(["node1", "node2"])
    fake.jobs.update({str(n): earlier(n, 200, nodes=("node1",)) for n in (1, 2)})
    quick = dataclasses.replace(job(tmp_path, "ok\n", state="COMPLETED", exit_code=0), elapsed_s=100)
    d = explain(tmp_path, quick, fake, Store(f"sqlite:///{tmp_path / 'sdiag.db'}"))
    assert "about as fast" in next(f for f in d.findings if f["id"] == "sacct:earlier-runs")["summary"]
    assert "completed normally" in d.attribution["explanation"]


def probe_result(node, at, status, probe="gemm", gpu=None) -> dict:
    return {"id": f"{node}-{at:%H%M}-{status}", "node": node, "probe": probe, "gpu": gpu, "valid": True,
            "time": at.astimezone(timezone.utc).isoformat(timespec="seconds"), "value": 1.0, "unit": "GFLOP/s",
            "verdict": {"status": status, "message": f"{node} {status.lower()}"}}


def test_a_node_flagged_slow_explains_a_running_job_only_once_the_job_shows_it_runs_slow(tmp_path):
    """A probe flagged node2 an hour before a job that is still running. The flag alone (a day old,
    perhaps, with nothing measured since) does not say the job is slow: it is context, and the step is
    to probe the node. Once the job has run three times as long as its earlier runs took, or its own
    throughput falls, the flag says where."""
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_probe_result({**probe_result("node2", START - timedelta(hours=1), "CRITICAL"), "metric": "gemm_fp64"})
    fake = FakeSlurmClient(["node1", "node2"])
    running = dataclasses.replace(job(tmp_path, "epoch 1 loss 2.31\n", state="RUNNING", exit_code=0), end=None)
    d = explain(tmp_path, running, fake, store)
    a = d.attribution
    assert a["label"] == "unknown" and "nothing has gone wrong" in a["explanation"], a
    flag = next(f for f in d.findings if f["source"] == "probe")
    assert "shows no sign of running slow so far" in flag["summary"]
    assert a["next_steps"][0].startswith("probe the job's nodes"), a["next_steps"]
    assert [alt["label"] for alt in d.alternatives] == ["slow_node"]
    # earlier runs of 100 s on the same two nodes: 300 s and still going is slow
    fake.jobs.update({str(n): earlier(n, 100, nodes=("node1", "node2")) for n in (1, 2, 3)})
    d = explain(tmp_path, running, fake, store)
    assert d.attribution["label"] == "slow_node", d.attribution
    runs = next(f for f in d.findings if f["id"] == "sacct:earlier-runs")
    assert runs["summary"].startswith("has run 3.0x as long as its 3 earlier runs took, and is still running")
    # 120 s into a run that usually takes 100: longer, but not half as long again; nothing is said of it
    early = dataclasses.replace(running, elapsed_s=120)
    d = explain(tmp_path, early, fake, store)
    assert d.attribution["label"] == "unknown" and not any(f["id"] == "sacct:earlier-runs" for f in d.findings)
    # no earlier runs, but the job's own throughput fell: slow, and the flag says where
    fake.jobs.clear()
    fell = "".join(f"step {i} | 1{'2' if i < 6 else '0'}0.0 samples/s\n" for i in range(12))
    falling = dataclasses.replace(job(tmp_path, fell, state="RUNNING", exit_code=0), end=None)
    a = explain(tmp_path, falling, fake, store).attribution
    assert a["label"] == "slow_node" and "probe:" in " ".join(a["supporting"]), a


def test_a_probe_flag_cleared_by_a_clean_run_before_the_job_does_not_count(tmp_path):
    from slurm_diag.diagnose.node_facts import from_probes

    j = job(tmp_path, "done\n", state="COMPLETED", exit_code=0)
    flag = probe_result("node2", START - timedelta(hours=2), "CRITICAL")

    def flagged(*results):
        return [e.id for e in from_probes(j, [flag, *results])]
    assert flagged() == [f"probe:{flag['id']}"]                                      # a flag on record counts
    assert flagged(probe_result("node2", START - timedelta(hours=1), "OK")) == []       # measured clean again
    assert flagged(probe_result("node2", END + timedelta(hours=1), "OK")) != []         # clean only after the job
    assert flagged(probe_result("node1", START - timedelta(hours=1), "OK")) != []       # another node's run
    assert flagged(probe_result("node2", START - timedelta(hours=1), "OK", probe="membw")) != []   # another probe


def test_a_slow_node_earns_a_probe_step_for_a_job_that_ran_slow_not_for_one_that_failed(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_probe_result({**probe_result("node2", START - timedelta(hours=1), "CRITICAL"), "metric": "gemm_fp64"})
    fake = FakeSlurmClient(["node1", "node2"])
    failed = job(tmp_path, "widgetd: fatal: calibration table for stage 4 could not be reconciled\n", exit_code=2)
    a = explain(tmp_path, failed, fake, store).attribution
    assert a["label"] == "unknown" and a["next_steps"][0].startswith("read the error lines no rule recognises")
    assert not any(step.startswith("probe the job's nodes") for step in a["next_steps"])
    done = job(tmp_path, "epoch 1 done\n", state="COMPLETED", exit_code=0)     # a job it may have slowed
    assert explain(tmp_path, done, fake, store).attribution["label"] == "slow_node"


def test_a_hardware_xid_printed_by_the_job_but_never_seen_by_the_driver_blames_nobody_else(tmp_path):
    """A job's log is untrusted: a line that merely says "Xid 79" while the job's own epilog read the
    kernel log and found no Xid does not make the GPU guilty; the job's own error decides."""
    fake = FakeSlurmClient(["node1"])
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    text = ("NVRM: Xid (PCI:0000:3b:00): 79, pid=1, GPU has fallen off the bus.\n"
            "Traceback (most recent call last):\n  File \"train.py\", line 3, in <module>\n"
            "ValueError: bad shape\n")
    j = job(tmp_path, text, nodes=("node1",))
    assert explain(tmp_path, j, fake, store).attribution["label"] == "gpu_hardware"   # no node record: the line stands
    store.add_health_report(report("node1", END + timedelta(seconds=5), [("xid", "OK", "no new XID", None)]))
    d = explain(tmp_path, j, fake, store)
    assert (d.attribution["label"], d.attribution["scope"]) == ("user_code", "user"), d.attribution
    xid = next(f for f in d.findings if f["id"].endswith("xid-79"))
    assert xid["severity"] == "WARN" and "the driver never reported it" in xid["summary"]
    # the driver did see one: the epilog's xid check is CRITICAL, and the GPU is the cause again
    store = Store(f"sqlite:///{tmp_path / 'again.db'}")
    store.add_health_report(report("node1", END + timedelta(seconds=6),
                                   [("xid", "CRITICAL", "XID 79 (GPU has fallen off the bus) x1", 0)]))
    assert explain(tmp_path, j, fake, store).attribution["label"] == "gpu_hardware"


def test_the_prologs_actions_unreadable_loses_only_them_not_the_health_records(tmp_path):
    """A nodes account whose store lacks the node_actions view (or its grant) still reads health."""
    from slurm_diag.store.db import StoreError

    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_health_report(report("node1", START + timedelta(minutes=5, seconds=5),
                                   [("xid", "CRITICAL", "Xid 79 on GPU 0: fallen off the bus", 0)]))

    def no_view(subject=None, subjects=None):
        raise StoreError("cannot reach the store: no such table: node_actions", hint="x")
    store.audit_log = no_view
    more, missing = collect.around_job(job(tmp_path, WATCHDOG), FakeSlurmClient(["node1", "node2"]), lambda: store)
    ids = {e.id for e in more}
    assert "health:node1:xid:0" in ids and "health:actions-unavailable" in ids and "health:unavailable" not in ids
    assert "the prologs' actions for this job (the store's node_actions)" in missing


class CountingClient(FakeSlurmClient):
    """The fake client, counting the node-event queries it answers."""

    def __init__(self, *a, fail=None, **kw):
        super().__init__(*a, **kw)
        self.queries, self.fail = [], fail

    def node_events(self, start, end, nodes=()):
        self.queries.append((start, end, tuple(nodes)))
        if self.fail:
            raise self.fail
        return super().node_events(start, end, nodes)


def _at(j: Job, job_id: str, start: datetime) -> Job:
    return dataclasses.replace(j, job_id=job_id, job_id_raw=job_id, start=start.strftime("%Y-%m-%dT%H:%M:%S"),
                               end=(start + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"))


def test_many_jobs_read_node_events_once_and_each_keeps_its_own(tmp_path):
    """An array's tasks (or an agent's pass): one sacctmgr query over all their nodes and windows; a
    node's death under one task is that task's, not its neighbour's an hour earlier."""
    fake = CountingClient(["node1", "node2"])
    down = START + timedelta(hours=1, minutes=3)
    fake.events.append(NodeEvent("node2", down.strftime("%Y-%m-%dT%H:%M:%S"),
                                 (down + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S"),
                                 "DOWN*", "Not responding", "root(0)"))
    early = _at(job(tmp_path, "x\n", nodes=("node1",)), "91", START)
    hit = _at(job(tmp_path, "x\n", nodes=("node2",)), "92", START + timedelta(hours=1))
    history = collect.NodeHistory(fake, [early, hit])
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    first, _ = collect.around_job(early, fake, lambda: store, history)
    second, _ = collect.around_job(hit, fake, lambda: store, history)
    assert len(fake.queries) == 1 and set(fake.queries[0][2]) == {"node1", "node2"}
    assert not [e for e in first if e.label == "node_failure"]
    assert [e.finding["node"] for e in second if e.label == "node_failure"] == ["node2"]
    alone, _ = collect.around_job(hit, fake, lambda: store)          # the same answer as a job alone
    assert [e.finding for e in alone if e.label] == [e.finding for e in second if e.label]


def test_many_jobs_read_the_prologs_actions_once_and_each_keeps_its_own(tmp_path):
    """A 300-task array spent a second and a half asking the store for each task's prolog actions:
    one query now serves every job of the pass, and each job sees only the drains of its own prologs."""
    from slurm_diag.store.tables import NODE_ACTIONS_EVENT

    fake = CountingClient(["node1", "node2"])
    jobs = [_at(job(tmp_path, "x\n", nodes=("node1",), state="COMPLETED", exit_code=0), str(n),
                START + timedelta(minutes=n)) for n in (1, 2, 3)]
    # an array task: its prolog knew it by its own id (SLURM_JOB_ID=402), users by 40_2
    jobs.append(dataclasses.replace(_at(jobs[0], "402", START), job_id="40_2", array_job_id="40", array_task_id="2"))
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    for subject in ("2", "402"):
        store.audit("prolog@node2", NODE_ACTIONS_EVENT, subject,
                    {"action": "drain", "context": "prolog", "node": "node2", "reason": "sdiag: xid: gpu1 Xid 79"})
    asked = []
    real = store.audit_log
    store.audit_log = lambda **kw: asked.append(kw) or real(**kw)
    history = collect.NodeHistory(fake, jobs)
    kept = {j.job_id: [e.id for e in collect.around_job(j, fake, lambda: store, history)[0] if "kept-off" in e.id]
            for j in jobs}
    assert kept == {"1": [], "2": ["health:node2:kept-off"], "3": [], "40_2": ["health:node2:kept-off"]}
    assert asked == [{"subjects": ["1", "2", "3", "402", "40_2"]}]
    other = _at(jobs[0], "9", START)                          # a job the history was not made for: asked alone
    collect.around_job(other, fake, lambda: store, history)
    assert asked[-1] == {"subjects": ["9"]}


def test_a_failed_shared_query_is_each_jobs_unknown_finding(tmp_path):
    from slurm_diag.slurm.errors import SlurmUnavailable

    fake = CountingClient(["node1"], fail=SlurmUnavailable(["sacctmgr"], 1, "slurmdbd did not answer"))
    jobs = [_at(job(tmp_path, "x\n", nodes=("node1",)), str(n), START + timedelta(minutes=n)) for n in (1, 2)]
    history = collect.NodeHistory(fake, jobs)
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    for j in jobs:
        found, missing = collect.around_job(j, fake, lambda: store, history)
        assert [e for e in found if e.id == "event:unavailable"] and "node events (sacctmgr)" in missing
    assert len(fake.queries) == 1


def test_jobs_slurm_did_not_name_are_not_compared_with_each_other(tmp_path):
    """A script on stdin is named "sbatch", --wrap's "wrap": runs sharing those names are not one workload."""
    fake = FakeSlurmClient(["node1", "node2"])
    fake.jobs.update({str(n): earlier(n, 10, nodes=("node1", "node2"), name="sbatch") for n in (1, 2, 3)})
    slow = dataclasses.replace(job(tmp_path, "ok\n", state="COMPLETED", exit_code=0), name="sbatch", elapsed_s=300)
    d = explain(tmp_path, slow, fake, Store(f"sqlite:///{tmp_path / 'sdiag.db'}"))
    assert not [f for f in d.findings if f["id"] == "sacct:earlier-runs"]


def test_a_slow_node_does_not_explain_a_job_that_sat_idle_until_its_time_limit(tmp_path):
    """The same throttled GPU that explains a busy job's timeout (the test above) does not explain a
    job that used almost no CPU before its limit: it was waiting, not running slow."""
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_health_report(report("node1", END, [("clocks", "CRITICAL", "gpu3 SM clock 200 MHz, expected >= 1762", 3)]))
    idle = dataclasses.replace(job(tmp_path, "waiting for input\n", state="TIMEOUT", exit_code=0, nodes=("node1",)),
                               total_cpu_s=1.0, alloc_cpus=2)
    d = explain(tmp_path, idle, FakeSlurmClient(["node1"]), store)
    assert d.attribution["label"] == "time_limit" and d.attribution["supporting"][0] == "sacct:idle-at-limit"
    throttled = [f for f in d.findings if f["source"] == "health" and f["severity"] == "CRITICAL"]
    assert throttled and all("does not explain how this job ended" in f["summary"] for f in throttled)


def test_a_node_that_went_down_is_what_an_idle_job_waited_on(tmp_path):
    """A job that used no CPU until its limit on a node that went down under it: the node is what
    it waited on (not a prompt for input, and more time would not have helped)."""
    fake = FakeSlurmClient(["node1"])
    fake.events.append(NodeEvent("node1", (START + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S"), None,
                                 "DOWN*", "Not responding", "root(0)"))
    idle = dataclasses.replace(job(tmp_path, "step 1\n", state="TIMEOUT", exit_code=0, nodes=("node1",)),
                               total_cpu_s=1.0, alloc_cpus=2)
    d = explain(tmp_path, idle, fake, Store(f"sqlite:///{tmp_path / 'sdiag.db'}"))
    assert not [f for f in d.findings if f["id"] == "sacct:idle-at-limit"]
    assert d.attribution["label"] == "node_failure" and d.attribution["suspect_nodes"] == ["node1"]
    assert not any("--time" in s or "more time" in s for s in d.attribution["next_steps"])


def test_a_gpus_fault_does_not_explain_a_job_slurm_gave_no_gpu(tmp_path):
    """A CPU job that shared node1 with a throttled GPU 3: the GPU is context, not its cause. The
    same record explains a job that had GPUs there (the test further up)."""
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_health_report(report("node1", END, [("clocks", "CRITICAL", "gpu3 SM clock 200 MHz, expected >= 1762", 3)]))
    cpu_only = dataclasses.replace(job(tmp_path, "step 10\n", state="COMPLETED", exit_code=0, nodes=("node1",)),
                                   alloc_tres=(("cpu", "4"), ("mem", "8G")))
    d = explain(tmp_path, cpu_only, FakeSlurmClient(["node1"]), store)
    assert d.attribution["label"] != "gpu_throttle"
    throttled = [f for f in d.findings if f["source"] == "health" and f["severity"] == "CRITICAL"]
    assert throttled and all("does not explain how this job ended" in f["summary"] for f in throttled)
    with_gpu = dataclasses.replace(cpu_only, alloc_tres=(("cpu", "4"), ("gres/gpu", "8")))
    assert explain(tmp_path, with_gpu, FakeSlurmClient(["node1"]), store).attribution["label"] == "gpu_throttle"


def test_a_missing_optional_input_does_not_make_a_gpu_fault_on_the_node_context(tmp_path):
    """A weak cause of the job's own (a copy of a checkpoint it can do without) is not one that
    makes the node's Xid irrelevant, as a Python error would."""
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_health_report(report("node2", END + timedelta(seconds=5),
                                   [("xid", "CRITICAL", "gpu5 XID 79 (GPU has fallen off the bus) x1", 5)]))
    store.add_health_report(report("node1", END + timedelta(seconds=5), [("xid", "OK", "no critical XID", None)]))
    text = "cp: cannot stat '/scratch/ana/prev/ckpt.pt': No such file or directory\n" + WATCHDOG * 2
    a = explain(tmp_path, job(tmp_path, text), FakeSlurmClient(["node1", "node2"]), store).attribution
    assert (a["label"], a["suspect_nodes"]) == ("gpu_hardware", ["node2"])


def test_a_gpus_fault_explains_only_a_job_that_held_that_gpu(tmp_path):
    """node2's epilog read an Xid on GPU 5. A job whose prolog recorded GPUs 0 and 1 there printed an
    illegal memory access: its own code, as the issue has it (the same GPU shows no fault), and the
    Xid is context that says whose GPU it was. The same failure on a job that held GPU 5 is the GPU's."""
    def run(gpus: list[int]):
        store = Store(f"sqlite:///{tmp_path / f'sdiag-{len(gpus)}.db'}")
        store.add_health_report({**report("node2", START + timedelta(seconds=1), [("xid", "OK", "no XID", None)],
                                          context="prolog"), "job_gpus": gpus})
        store.add_health_report(report("node2", END + timedelta(seconds=5),
                                       [("xid", "CRITICAL", "gpu5 XID 79 (GPU has fallen off the bus) x1", 5)]))
        text = "RuntimeError: CUDA error: an illegal memory access was encountered\n"
        return explain(tmp_path, job(tmp_path, text, nodes=("node2",)), FakeSlurmClient(["node2"]), store)

    d = run([0, 1])
    assert (d.attribution["label"], d.attribution["scope"]) == ("user_code", "user"), d.attribution
    xid = next(f for f in d.findings if f["id"] == "health:node2:xid:5")
    assert xid["summary"].endswith("(GPU 5 was not the job's: Slurm gave it GPUs 0, 1 on node2)")
    held = next(f for f in d.findings if f["id"] == "health:node2:job-gpus")
    assert held["raw"]["gpus"] == [0, 1] and "prolog" in held["summary"]
    a = run([4, 5]).attribution
    assert (a["label"], a["suspect_gpus"]) == ("gpu_hardware", [{"node": "node2", "gpu": 5}]), a


def _held_by_prolog(tmp_path, name: str, gpus: list[int], checks=()) -> Store:
    store = Store(f"sqlite:///{tmp_path / name}")
    store.add_health_report({**report("node2", START + timedelta(seconds=1), list(checks), context="prolog"),
                             "job_gpus": gpus})
    return store


def test_a_gpu_number_in_the_log_counts_the_jobs_gpus_and_names_the_nodes_gpu(tmp_path):
    """Slurm gave the job GPUs 2 and 3 of node2; inside the job they are cuda:0 and cuda:1. An
    uncorrectable ECC error on cuda:1 is GPU 3 of node2, and that is the GPU the attribution names."""
    line = "RuntimeError: CUDA error: uncorrectable ECC error encountered on cuda:1\n"
    j = dataclasses.replace(job(tmp_path, line, nodes=("node2",)), sources=(ACCOUNTING, CONTROLLER))
    d = explain(tmp_path, j, FakeSlurmClient(["node2"]), _held_by_prolog(tmp_path, "held.db", [3, 2]))
    a = d.attribution
    assert (a["label"], a["suspect_gpus"]) == ("gpu_hardware", [{"node": "node2", "gpu": 3}]), a
    ecc = next(f for f in d.findings if f["id"].endswith(":gpu-ecc-uncorrectable"))
    assert (ecc["node"], ecc["gpu"], ecc["raw"]["job_gpu"]) == ("node2", 3, 1)
    assert "(the job's GPU 1 is GPU 3 of node2: Slurm gave the job GPUs 2, 3 there" in ecc["summary"]
    # no record of the job's GPUs: the number stays as printed, and names no node's GPU
    d = explain(tmp_path, j, FakeSlurmClient(["node2"]), Store(f"sqlite:///{tmp_path / 'none.db'}"))
    ecc = next(f for f in d.findings if f["id"].endswith(":gpu-ecc-uncorrectable"))
    assert (ecc.get("node"), ecc["gpu"], "job_gpu" in ecc["raw"]) == (None, 1, False)
    # GPUs per task: each task numbers its own from 0, and the line does not say which task printed it
    per_task = dataclasses.replace(j, gpus_per_task=1)
    d = explain(tmp_path, per_task, FakeSlurmClient(["node2"]), _held_by_prolog(tmp_path, "per-task.db", [2, 3]))
    ecc = next(f for f in d.findings if f["id"].endswith(":gpu-ecc-uncorrectable"))
    assert (ecc["gpu"], "job_gpu" in ecc["raw"]) == (1, False)
    assert "among GPUs 2, 3 of node2 that were the job's: Slurm gave each task 1 of them" in ecc["summary"]
    # slurmctld has forgotten the job: whether it asked for GPUs per task cannot be told
    forgotten = dataclasses.replace(j, sources=(ACCOUNTING,))
    d = explain(tmp_path, forgotten, FakeSlurmClient(["node2"]), _held_by_prolog(tmp_path, "forgot.db", [2, 3]))
    ecc = next(f for f in d.findings if f["id"].endswith(":gpu-ecc-uncorrectable"))
    assert (ecc["gpu"], "job_gpu" in ecc["raw"]) == (1, False)
    assert "slurmctld has forgotten whether the job asked for GPUs per task, and accounting did not keep the " \
           "job's environment" in ecc["summary"]
    # ... unless accounting kept the job's request (its environment; submission.request)
    kept = dataclasses.replace(forgotten, gpus_per_task_known=True)
    d = explain(tmp_path, kept, FakeSlurmClient(["node2"]), _held_by_prolog(tmp_path, "kept.db", [2, 3]))
    ecc = next(f for f in d.findings if f["id"].endswith(":gpu-ecc-uncorrectable"))
    assert (ecc["node"], ecc["gpu"], ecc["raw"]["job_gpu"]) == ("node2", 3, 1)
    # ... but a node where the job had one GPU leaves no doubt
    d = explain(tmp_path, forgotten, FakeSlurmClient(["node2"]), _held_by_prolog(tmp_path, "one.db", [5]))
    ecc = next(f for f in d.findings if f["id"].endswith(":gpu-ecc-uncorrectable"))
    assert (ecc.get("node"), ecc["gpu"], "job_gpu" in ecc["raw"]) == (None, 1, False)     # cuda:1 is past it
    (tmp_path / "out.log").write_text(line.replace("cuda:1", "cuda:0"))
    d = explain(tmp_path, forgotten, FakeSlurmClient(["node2"]), _held_by_prolog(tmp_path, "one0.db", [5]))
    ecc = next(f for f in d.findings if f["id"].endswith(":gpu-ecc-uncorrectable"))
    assert (ecc["node"], ecc["gpu"], ecc["raw"]["job_gpu"]) == ("node2", 5, 0)
    # a number past the job's GPUs is not one of its own numbers: left as printed
    past = job(tmp_path, line.replace("cuda:1", "cuda:5"), nodes=("node2",))
    d = explain(tmp_path, past, FakeSlurmClient(["node2"]), _held_by_prolog(tmp_path, "past.db", [2, 3]))
    ecc = next(f for f in d.findings if f["id"].endswith(":gpu-ecc-uncorrectable"))
    assert (ecc["gpu"], "job_gpu" in ecc["raw"]) == (5, False)


def test_a_stray_process_on_another_of_the_jobs_gpus_did_not_take_the_memory_of_the_one_that_ran_out(tmp_path):
    """The job held GPUs 2 and 3 of node2; its prolog found a stray process on GPU 2. The job's
    GPU 1 (node2's GPU 3) ran out of memory: the stray did not take that memory, so the OOM is the
    job's. The same OOM on the job's GPU 0 (node2's GPU 2) is the cluster's."""
    stray = [("stray_processes", "CRITICAL", "gpu2 held by pid 4242 (70000 MiB) before the job starts", 2)]
    oom = ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU {n} has a total capacity "
           "of 79.10 GiB of which 1.2 GiB is free.\n")
    def known(n):                   # explained while slurmctld still shows the job (no GPUs per task)
        return dataclasses.replace(job(tmp_path, oom.format(n=n), nodes=("node2",)), sources=(ACCOUNTING, CONTROLLER))
    a = explain(tmp_path, known(1), FakeSlurmClient(["node2"]), _held_by_prolog(tmp_path, "other.db", [2, 3], stray))
    a = a.attribution
    assert (a["label"], a["scope"]) == ("gpu_oom", "user"), a
    a = explain(tmp_path, known(0), FakeSlurmClient(["node2"]),
                _held_by_prolog(tmp_path, "same.db", [2, 3], stray)).attribution
    assert (a["label"], a["scope"], a["suspect_gpus"]) == ("gpu_oom", "infra", [{"node": "node2", "gpu": 2}]), a


def test_gpus_recorded_by_another_jobs_prolog_a_healthcheck_or_outside_the_run_are_not_the_jobs(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_health_report({**report("node2", START, [], context="prolog", job_id="91"), "job_gpus": [0]})
    store.add_health_report({**report("node2", START, [], context="healthcheck", job_id=None), "job_gpus": [1]})
    # its own id, a day before: another job that had the id before Slurm's ids were reset
    store.add_health_report({**report("node2", START - timedelta(days=1), [], context="prolog"), "job_gpus": [2]})
    store.add_health_report(report("node2", END + timedelta(seconds=5),
                                   [("xid", "CRITICAL", "gpu5 XID 79 (GPU has fallen off the bus) x1", 5)]))
    d = explain(tmp_path, job(tmp_path, WATCHDOG * 2, nodes=("node2",)), FakeSlurmClient(["node2"]), store)
    assert not any(f["id"].endswith(":job-gpus") for f in d.findings)
    assert d.attribution["label"] == "gpu_hardware"


def test_a_throttled_gpu_does_not_explain_a_job_that_ran_as_fast_as_its_earlier_runs(tmp_path):
    """The same record that explains a slow run (the test further up) is context for a run as fast
    as the job's earlier ones: nothing was slow to explain."""
    fake = FakeSlurmClient(["node1", "node2"])
    fake.jobs.update({str(n): earlier(n, 300, nodes=("node1", "node2")) for n in (1, 2, 3)})
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_health_report(report("node2", END, [("clocks", "CRITICAL", "gpu1 SM clock 300 MHz", 1)]))
    usual = dataclasses.replace(job(tmp_path, "epoch 1 done\n", state="COMPLETED", exit_code=0), elapsed_s=300)
    d = explain(tmp_path, usual, fake, store)
    assert d.attribution["label"] == "unknown", d.attribution
    clocks = next(f for f in d.findings if f["id"].startswith("health:node2:clocks"))
    assert "(the job ran about as fast as its earlier runs: ran about as fast as its 3 earlier runs" in clocks["summary"]


def test_a_job_slurm_requeued_says_where_its_earlier_run_ended(tmp_path):
    from slurm_diag.slurm.records import EarlierRun

    run = EarlierRun("NODE_FAIL", "NODE_FAIL", "2026-12-01T05:50:00", "2026-12-01T05:59:00", ("node3",), 0, 0)
    done = dataclasses.replace(job(tmp_path, "epoch 9 done\n", state="COMPLETED", exit_code=0), earlier_runs=(run,))
    d = explain(tmp_path, done, FakeSlurmClient(["node1", "node2", "node3"]), Store(f"sqlite:///{tmp_path / 's.db'}"))
    assert d.attribution["explanation"] == (
        "the job completed normally (exit code 0): nothing went wrong that slurm-diag could see in this run. "
        "Slurm requeued the job once: run 1 on node3 ended NODE_FAIL at 2026-12-01T05:59:00")
    requeued = next(f for f in d.findings if f["id"] == "sacct:requeued")
    assert requeued["raw"]["earlier_runs"][0]["nodes"] == ["node3"]
    assert d.attribution["suspect_nodes"] == []          # the earlier run's node is not this run's cause
