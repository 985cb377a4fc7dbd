"""Builders for the actions tests: a store in a temp dir, a fake Slurm, callers by name."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

from slurm_diag import config
from slurm_diag.actions import Context
from slurm_diag.identity import Access, Caller
from slurm_diag.slurm.fake import FakeSlurmClient
from slurm_diag.store import Store

ACCESS = Access(frozenset({"alice"}), frozenset({"hpc-admins"}), "sdiag-agent", "slurm")
ALICE = Caller(1001, "alice", frozenset({"alice"}))           # approver by user
BOB = Caller(1002, "bob", frozenset({"bob"}))                 # nobody
CAROL = Caller(1003, "carol", frozenset({"hpc-admins"}))      # approver by group
AGENT = Caller(1004, "sdiag-agent", frozenset({"sdiag-agent"}))
ROOT = Caller(0, "root", frozenset({"root"}))
SLURMUSER = Caller(64030, "slurm", frozenset({"slurm"}))


def stamp(minutes: float = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()


FOUND_AT = stamp(-5)      # one time for every finding built here: the same finding hashes the same


def health_finding(node: str = "node3", fid: str = "health:node3:clocks:3", severity: str = "CRITICAL") -> dict:
    return {"id": fid, "source": "health", "node": node, "gpu": 3, "severity": severity,
            "summary": f"prolog on {node}: clocks: gpu3 SM clock 200 MHz, expected >= 1755 MHz", "time": FOUND_AT}


def log_finding(node: str = "node3") -> dict:
    return {"id": "log:xid79", "source": "log", "node": node, "severity": "CRITICAL",
            "summary": "NVRM: Xid 79, GPU has fallen off the bus"}


def attribution(findings, scope: str = "infra", label: str = "gpu_throttle", job_id: str | None = "42") -> dict:
    return {"id": "attr-1", "job_id": job_id, "label": label, "scope": scope, "component": "gpu", "confidence": 0.9,
            "suspect_nodes": ["node3"], "supporting": [f["id"] for f in findings], "contradicting": [],
            "explanation": "gpu3 on node3 held at 200 MHz", "next_steps": ["drain node3"]}


def report(node: str, status: str, minutes: float = 0) -> dict:
    return {"node": node, "time": stamp(minutes), "context": "healthcheck", "level": "quick", "status": status,
            "checks": [{"name": "clocks", "status": status, "message": "gpu3 SM clock" if status != "OK" else "ok"}]}


class FakeWithQueue(FakeSlurmClient):
    """The fake Slurm plus slurmctld's job records (``scontrol show job`` fields) for requeue rules."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.records: dict[str, dict] = {}

    def queue(self) -> list[dict]:
        self._call("queue")
        return [dict(r) for r in self.records.values()]

    def requeue(self, job_id: str) -> None:
        self._call("requeue", job_id)
        rec = self.records[str(job_id)]
        rec.update(JobState="PENDING", Restarts=str(int(rec.get("Restarts", "0")) + 1))


def make(tmp_path, monkeypatch, caller=ALICE, nodes=("node1", "node2", "node3", "node4"), **settings):
    monkeypatch.setenv("SDIAG_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SDIAG_CONFIG", raising=False)
    monkeypatch.delenv("SDIAG_STORE_URL", raising=False)
    cfg = config.load()
    for key, value in settings.items():
        node = cfg.data
        parts = key.split("__")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    client = FakeWithQueue(nodes)
    store = Store(cfg.store_url)
    return Context(cfg, caller, ACCESS, client, store)


def as_caller(ctx, caller):
    return dataclasses.replace(ctx, caller=caller)
