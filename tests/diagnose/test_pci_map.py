"""A PCI bus id in a job's log becomes a GPU index through the job's nodes' own health reports:
the reports are made by the real gpu_count check from a simulated NVML reading, kept in a real
SQLite store, and read back by `explain JOBID`'s collectors (the fake Slurm client answers sacct)."""

from __future__ import annotations

from datetime import timedelta

from slurm_diag import schemas
from slurm_diag.diagnose import engine, logfile
from slurm_diag.gpu import profile
from slurm_diag.gpu.reader import read_all
from slurm_diag.gpu.simulator import SimulatedNvml
from slurm_diag.health.checks import gpu_count
from slurm_diag.slurm.fake import FakeSlurmClient
from slurm_diag.store import Store
from tests.diagnose.test_node_facts import END, START, explain, job, report

# h100-8-healthy puts GPU 1 at 00000000:2A:00.0; the driver's Xid line prints it short
XID_BUS_2A = "node2 kernel: NVRM: Xid (PCI:0000:2a:00): 79, pid=4242, GPU has fallen off the bus."


def prolog_report(node: str) -> dict:
    reading = read_all(SimulatedNvml(profile.load("h100-8-healthy")), "sim", call_timeout_s=2.0)
    doc = report(node, START, [], context="prolog")
    doc["checks"] = [gpu_count.evaluate(reading, 8, "config").to_dict()]
    schemas.validate("health_report", doc)
    return doc


def store_with_reports(tmp_path, *nodes) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    for node in nodes:
        store.add_health_report(prolog_report(node))
    return store


def test_a_bus_id_in_the_log_is_the_gpu_index_the_nodes_health_report_gives(tmp_path):
    store = store_with_reports(tmp_path, "node1", "node2")
    d = explain(tmp_path, job(tmp_path, f"Dec  1 06:03:00 {XID_BUS_2A}\n"), FakeSlurmClient(["node1", "node2"]), store)
    schemas.validate("explain", d.to_dict())
    a = d.attribution
    assert (a["label"], a["scope"]) == ("gpu_hardware", "infra")
    assert a["suspect_nodes"] == ["node2"] and a["suspect_gpus"] == [{"node": "node2", "gpu": 1}]
    assert d.extracted["gpus"] == [1]
    xid = next(f for f in d.findings if f["id"].endswith(":xid-79"))
    assert xid["raw"]["gpu_from_health_report"] == {"pci_bus_id": "0000:2a:00.0", "node": "node2", "gpu": 1}


def test_a_bus_id_the_reports_do_not_hold_stays_unmapped_and_says_why(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sdiag.db'}")
    store.add_health_report(report("node1", END + timedelta(seconds=5), [("xid", "OK", "no critical XID", None)]))
    store.add_health_report(report("node2", END + timedelta(seconds=5), [("xid", "OK", "no critical XID", None)]))
    d = explain(tmp_path, job(tmp_path, f"Dec  1 06:03:00 {XID_BUS_2A}\n"), FakeSlurmClient(["node1", "node2"]), store)
    xid = next(f for f in d.findings if f["id"].endswith(":xid-79"))
    assert "gpu" not in xid and "PCI 0000:2a:00.0: not mapped to a GPU index" in xid["summary"]
    assert d.extracted["gpus"] == [] and d.attribution["suspect_gpus"] == []


def test_from_a_log_alone_a_bus_id_is_named_unmapped():
    d = engine.diagnose_log(logfile.from_text(XID_BUS_2A))
    xid = next(f for f in d.findings if f["id"].endswith(":xid-79"))
    assert "gpu" not in xid and "a log alone carries no health report" in xid["summary"]
    assert d.extracted["gpus"] == [] and d.extracted["pci_bus_ids"] == ["0000:2a:00.0"]
