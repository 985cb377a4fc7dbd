"""The store round-trips every document type, on SQLite and on the local cluster's MariaDB."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from slurm_diag.devcluster.templates import DB_PASSWORD
from slurm_diag.errors import UsageError
from slurm_diag.schemas import SchemaError
from slurm_diag.store import Store, StoreError

REPORT = {
    "node": "node3", "time": "2026-11-21T09:00:00+00:00", "level": "quick", "context": "prolog",
    "job_id": "42", "status": "CRITICAL", "duration_s": 0.12,
    "checks": [{"name": "gpu.clocks", "status": "CRITICAL", "gpu": 3,
                "message": "gpu3 SM clock 200 MHz, expected >= 1755 MHz (HW_SLOWDOWN)",
                "observed": 200, "expected": 1755, "next_step": "drain and inspect cooling"}],
}
PROBE = {"probe": "gemm", "node": "node3", "gpu": None, "job_id": "43", "time": "2026-11-21T09:01:00",
         "metric": "gemm_fp64", "value": 31.5, "unit": "GFLOP/s", "valid": True,
         "verdict": {"status": "WARN", "message": "node3 gemm 0.93x expected"}}
FINDING = {"id": "f-sacct-1", "source": "sacct", "job_id": "42", "node": "node3", "gpu": None,
           "severity": "CRITICAL", "summary": "job 42 NODE_FAIL on node3", "raw": {"State": "NODE_FAIL"}}
ATTRIBUTION = {"job_id": "42", "label": "node_failure", "scope": "infra", "component": "slurmd",
               "suspect_nodes": ["node3"], "confidence": 0.9, "supporting": ["f-sacct-1"],
               "contradicting": [], "explanation": "node3 stopped answering", "next_steps": ["drain node3"]}


def roundtrip(store: Store) -> None:
    assert store.schema_version == 1
    store.add_health_report(REPORT)
    assert store.health_reports(node="node3")[0] == REPORT
    assert store.health_reports(node="node1") == []

    pid = store.add_probe_result(PROBE)
    got = store.probe_results(node="node3", probe="gemm")
    assert [r["id"] for r in got] == [pid] and got[0]["value"] == 31.5

    store.add_finding(FINDING)
    assert store.findings(job_id="42") == [FINDING]

    aid = store.add_attribution(ATTRIBUTION)
    assert store.attributions(job_id="42")[0] == {"id": aid, **ATTRIBUTION}

    prop = store.add_proposal({"action": "drain", "target": "node3", "reason": "sdiag: NODE_FAIL",
                               "evidence": ["f-sacct-1"]}, actor="agent")
    assert store.proposal(prop)["state"] == "proposed"
    with pytest.raises(UsageError, match="cannot become done"):
        store.transition(prop, "done", actor="alice")
    approved = store.transition(prop, "approved", actor="alice", note="looks right")
    assert approved["decided_by"] == "alice" and approved["state"] == "approved"
    store.transition(prop, "executing", actor="executor")
    store.transition(prop, "done", actor="executor")
    with pytest.raises(UsageError, match="final"):
        store.transition(prop, "approved", actor="alice")
    events = [e["event"] for e in store.audit_log(subject=prop)]
    assert events == ["proposal.created", "proposal.approved", "proposal.executing", "proposal.done"]
    assert [p["id"] for p in store.proposals(state="done")] == [prop]
    assert store.counts() == {"health_reports": 1, "probe_results": 1, "findings": 1, "attributions": 1,
                              "proposals": 1, "audit_log": 4}


def test_sqlite_roundtrip(tmp_path):
    roundtrip(Store(f"sqlite:///{tmp_path}/sub/dir/sdiag.db"))


def test_sqlite_reopen_keeps_data(tmp_path):
    url = f"sqlite:///{tmp_path}/sdiag.db"
    Store(url).add_finding(FINDING)
    assert Store(url).findings(node="node3") == [FINDING]


def test_invalid_documents_are_refused(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/sdiag.db")
    with pytest.raises(SchemaError, match="label"):
        store.add_attribution({**ATTRIBUTION, "label": "cosmic_rays"})
    with pytest.raises(SchemaError, match="status"):
        store.add_health_report({**REPORT, "status": "FINE"})
    assert store.attributions() == [] and store.health_reports() == []


def test_newer_schema_version_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path}/sdiag.db"
    Store(url)
    with create_engine(url).begin() as conn:
        conn.execute(text("UPDATE sdiag_meta SET value='99' WHERE key='schema_version'"))
    with pytest.raises(StoreError, match="schema version 99"):
        Store(url)


def test_unreachable_database_is_a_clear_error():
    with pytest.raises(StoreError, match="cannot reach the store") as err:
        Store("mysql+pymysql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(err.value)


@pytest.mark.cluster
def test_mariadb_roundtrip(mariadb_database):
    """The local cluster's own MariaDB (the one slurmdbd uses), in a database of its own."""
    roundtrip(Store(mariadb_database.url))


@pytest.mark.cluster
def test_mariadb_stores_text_outside_latin1_and_widens_an_older_stores_tables(mariadb_database):
    """Debian's MariaDB defaults to latin1: a log line with a progress bar's blocks or a CJK path must
    still be stored, in a new store and in one whose tables an older slurm-diag created as latin1."""
    from sqlalchemy.exc import DBAPIError

    from slurm_diag.store.append_only import REFUSAL

    db = mariadb_database
    summary = "log: 训练 epoch 3 |\u2588\u2588\u2588\u258c | 47% \U0001F525 café"
    Store(db.url)
    with db.admin.begin() as conn:                  # as an older slurm-diag left them
        for table in ("findings", "audit_log"):
            conn.execute(text(f"ALTER TABLE {db.name}.{table} CONVERT TO CHARACTER SET latin1"))
    store = Store(db.url)
    store.add_finding({"id": "log:9001:1", "job_id": "9001", "source": "log", "severity": "WARN",
                       "summary": summary})
    store.audit("alice", "note", "9001", {"text": summary})
    assert [f["summary"] for f in store.findings(job_id="9001")] == [summary]
    with db.admin.connect() as conn:
        collations = dict(conn.execute(text(
            "SELECT table_name, table_collation FROM information_schema.tables WHERE table_schema = :s "
            "AND table_type = 'BASE TABLE'"),                # not the node_actions view (no collation)
            {"s": db.name}).all())
    assert set(collations.values()) == {"utf8mb4_bin"}, collations
    with pytest.raises(DBAPIError, match=REFUSAL):
        with store.engine.begin() as conn:          # widening kept the audit log's guard
            conn.execute(text("DELETE FROM audit_log"))
    store.engine.dispose()


def test_text_a_narrow_table_cannot_hold_is_named_as_such_not_as_an_unreachable_database():
    from sqlalchemy.exc import OperationalError

    from slurm_diag.store.db import _error

    orig = Exception(1366, "Incorrect string value: '\\xE8\\xAE\\xAD' for column `sdiag`.`findings`.`summary`")
    err = _error("mysql+pymysql://slurm:pw@db/sdiag", OperationalError("INSERT ...", {}, orig))
    assert "cannot hold this text" in err.message and "utf8mb4" in err.hint and "pw" not in err.message


@pytest.mark.cluster
def test_a_store_its_user_may_not_alter_opens_with_a_warning_and_refuses_wide_text_clearly(
        devcluster, mariadb_database, capsys):
    """An older store whose tables are latin1, opened by a database user without ALTER: the store
    still opens (a warning says what could not be done), latin1 text is stored, and text outside
    latin1 is refused with what to do, not 'cannot reach the store'."""
    from slurm_diag.devcluster import cluster

    db = mariadb_database
    user, password = f"ro_{uuid.uuid4().hex[:6]}", "not-secret-in-tests"
    Store(db.url)
    with db.admin.begin() as conn:
        conn.execute(text(f"ALTER TABLE {db.name}.findings CONVERT TO CHARACTER SET latin1"))
    try:
        grant = cluster._mysql(devcluster, f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}';"
                                           f"GRANT SELECT, INSERT, UPDATE ON {db.name}.* TO '{user}'@'127.0.0.1';")
        assert grant.returncode == 0, grant.stderr
        capsys.readouterr()
        store = Store(db.url.replace(f"slurm:{DB_PASSWORD}", f"{user}:{password}"))
        assert "could not be converted to utf8mb4" in capsys.readouterr().err
        store.add_finding({"id": "log:9002:1", "job_id": "9002", "source": "log", "severity": "WARN",
                           "summary": "disk at 100% on /scratch, café"})
        with pytest.raises(StoreError, match="cannot hold this text") as err:
            store.add_finding({"id": "log:9002:2", "job_id": "9002", "source": "log", "severity": "WARN",
                               "summary": "训练 stopped"})
        assert "utf8mb4" in err.value.hint
        assert [f["id"] for f in store.findings(job_id="9002")] == ["log:9002:1"]      # nothing half-written
        store.engine.dispose()
    finally:
        cluster._mysql(devcluster, f"DROP USER IF EXISTS '{user}'@'127.0.0.1';")
