"""Move what the hooks spooled on a node (``<spool>/{health,jobs,actions}/*.json``) into the store.

A file is deleted only after its row is committed; a file that cannot be read or does not match
its schema goes to ``<spool>/rejected/`` with a ``.why`` note beside it, so nothing is lost.

A hook's action record marked ``trip_breaker`` (it would have drained, but slurm-diag already held
as many nodes as the one limit allows) also trips the actions' circuit breaker: the prolog cannot
reach the database on the job's path, so its trip lands here, and no approved drain runs until an
approver resets the breaker (both write the one latch, store/latch.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from slurm_diag.schemas import SchemaError
from slurm_diag.store import latch, tables
from slurm_diag.store.db import Store


@dataclass
class IngestSummary:
    health: int = 0
    jobs: int = 0
    actions: int = 0
    rejected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"health": self.health, "jobs": self.jobs, "actions": self.actions, "rejected": self.rejected}


def _reject(spool: Path, path: Path, why: str, summary: IngestSummary) -> None:
    target = spool / "rejected" / f"{path.parent.name}-{path.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    path.replace(target)
    target.with_suffix(".why").write_text(why + "\n")
    summary.rejected.append(f"{path}: {why}")


def ingest(store: Store, spool: Path) -> IngestSummary:
    summary = IngestSummary()
    for kind in ("health", "jobs", "actions"):
        for path in sorted((spool / kind).glob("*.json")):
            try:
                text = path.read_text()
            except FileNotFoundError:       # moved between the listing and the read: another ingest has it
                continue
            try:
                doc = json.loads(text)
                if not isinstance(doc, dict):
                    raise ValueError(f"expected a JSON object, found {type(doc).__name__}")
                if kind == "health":
                    store.add_health_report(doc)
                else:
                    event = "job.end" if kind == "jobs" else tables.NODE_ACTIONS_EVENT
                    actor = f"{doc.get('context') or kind}@{doc.get('node', '?')}"
                    subject = str(doc.get("job_id") or doc.get("node") or "")
                    store.audit(actor=actor, event=event, subject=subject or None, detail=doc)
                    if kind == "actions" and doc.get("trip_breaker") is True:
                        latch.trip(store, actor, f"{doc.get('context', 'hook')} on {doc.get('node', '?')}: "
                                                 f"{doc.get('note', '')}")
            except (ValueError, SchemaError) as exc:  # JSONDecodeError is a ValueError
                _reject(spool, path, str(exc)[:500], summary)
                continue
            setattr(summary, kind, getattr(summary, kind) + 1)
            path.unlink(missing_ok=True)
    return summary


def ingest_once(spool: Path, store_factory, wait: bool = False) -> IngestSummary | None:
    """One ingest of ``spool`` under a lock in the spool, so two never read the same file. The hooks'
    detached ingest does not wait (None when another is running: that one moves the files); a
    person's `store ingest` waits for it, then moves what is left."""
    import fcntl

    spool.mkdir(parents=True, exist_ok=True)
    try:
        lock = open(spool / ".ingest.lock", "a")
    except PermissionError:         # a spool this user may not write: ingest says what it cannot do
        return ingest(store_factory(), spool)
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return None
        return ingest(store_factory(), spool)


def _yield_cpu() -> None:
    """Run only on idle CPU: the next job on this node (a probe, say) must not feel the ingest."""
    import os

    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.nice(19)
        except OSError:
            pass


def main() -> int:
    """``python -m slurm_diag.store.ingest``: what the epilog and HealthCheckProgram start, detached,
    after writing their reports. The spool stays the buffer when the database cannot be reached."""
    import sys

    from slurm_diag import config
    from slurm_diag.errors import SdiagError

    _yield_cpu()
    try:
        cfg = config.load()
        spool = cfg.spool_dir
        summary = ingest_once(spool, lambda: Store.from_config(cfg))
    except SdiagError as exc:
        print(f"sdiag ingest: nothing moved, the spool keeps the reports: {exc}", file=sys.stderr)
        return 3
    except OSError as exc:
        print(f"sdiag ingest: cannot use the spool: {exc}", file=sys.stderr)
        return 3
    if summary is None:
        print("sdiag ingest: another ingest is running", file=sys.stderr)
    else:
        print(f"sdiag ingest: {summary.as_dict()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
