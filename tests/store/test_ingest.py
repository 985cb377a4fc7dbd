"""Spooled hook output reaches the store; bad files are set aside, never lost."""

from __future__ import annotations

import json

from slurm_diag.store import Store
from slurm_diag.store.ingest import ingest

from tests.store.test_store import REPORT


def test_ingest_moves_good_files_and_keeps_bad_ones(tmp_path):
    spool = tmp_path / "spool"
    for kind in ("health", "jobs", "actions"):
        (spool / kind).mkdir(parents=True)
    (spool / "health" / "1-node3-prolog-42.json").write_text(json.dumps(REPORT))
    (spool / "health" / "2-node3-prolog-43.json").write_text('{"node": "node3", "checks": [')  # truncated
    (spool / "health" / "3-node3-prolog-44.json").write_text(json.dumps({**REPORT, "status": "GREAT"}))
    (spool / "jobs" / "4-node3.json").write_text(json.dumps({"job_id": "42", "node": "node3", "state": "FAILED"}))
    (spool / "actions" / "5-node3.json").write_text(json.dumps({"node": "node3", "context": "prolog",
                                                                 "action": "drain", "reason": "sdiag: clocks"}))
    store = Store(f"sqlite:///{tmp_path}/s.db")
    summary = ingest(store, spool)
    assert (summary.health, summary.jobs, summary.actions) == (1, 1, 1)
    assert len(summary.rejected) == 2
    assert store.health_reports(node="node3") == [REPORT]
    events = [(e["event"], e["subject"]) for e in store.audit_log()]
    assert events == [("job.end", "42"), ("health.action", "node3")]
    assert sorted(p.name for p in (spool / "rejected").glob("*.json")) == [
        "health-2-node3-prolog-43.json", "health-3-node3-prolog-44.json"]
    assert "GREAT" in (spool / "rejected" / "health-3-node3-prolog-44.why").read_text()
    assert list((spool / "health").glob("*.json")) == []
    assert ingest(store, spool).health == 0  # a second run finds nothing new


def test_a_file_another_ingest_took_is_skipped_and_a_persons_ingest_waits_for_the_hooks(tmp_path):
    """The hooks start a detached ingest after each report; a person's `store ingest` may run beside
    it. A file listed but gone before it is read was taken by the other (here: a link whose target
    is gone), and a person's ingest waits for the lock instead of reading the same files."""
    import fcntl
    import threading
    import time

    from slurm_diag.store.ingest import ingest_once

    spool = tmp_path / "spool"
    (spool / "health").mkdir(parents=True)
    (spool / "health" / "1-node3-prolog-42.json").write_text(json.dumps(REPORT))
    (spool / "health" / "2-node3-prolog-43.json").symlink_to(tmp_path / "moved-away.json")
    store = Store(f"sqlite:///{tmp_path}/s.db")
    held = open(spool / ".ingest.lock", "a")
    fcntl.flock(held, fcntl.LOCK_EX)
    assert ingest_once(spool, lambda: store) is None                  # the hooks' ingest does not wait
    threading.Timer(0.5, held.close).start()                          # the other ingest ends
    started = time.monotonic()
    summary = ingest_once(spool, lambda: store, wait=True)
    assert time.monotonic() - started >= 0.4
    assert (summary.health, summary.rejected) == (1, [])
