"""The audit log is append-only in the database: UPDATE and DELETE of its rows are refused through
plain SQL (the sqlite3 module, the mariadb client's SQL), SQLAlchemy Core and an ORM session, on
SQLite and on the local cluster's MariaDB. Appending still works."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, delete, text, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import DeclarativeBase, Session

from slurm_diag.store import append_only, tables as t
from slurm_diag.store.db import Store


class _Base(DeclarativeBase):
    pass


class AuditRow(_Base):
    """An ORM mapping a program could make of the audit table (slurm-diag itself has none)."""

    __table__ = t.audit_log


def _store_with_entries(url: str) -> Store:
    store = Store(url)
    store.audit("alice", "test.one", subject="s1", detail={"n": 1})
    store.audit("alice", "test.two", subject="s1", detail={"n": 2})
    return store


def _refused_through_sqlalchemy(store: Store) -> None:
    before = store.audit_log()
    with pytest.raises(DatabaseError, match="append-only"):
        with store.engine.begin() as conn:
            conn.execute(update(t.audit_log).values(actor="mallory"))
    with pytest.raises(DatabaseError, match="append-only"):
        with store.engine.begin() as conn:
            conn.execute(delete(t.audit_log).where(t.audit_log.c.seq == before[0]["seq"]))
    with pytest.raises(DatabaseError, match="append-only"):
        with Session(store.engine) as session, session.begin():
            session.execute(update(t.audit_log).where(t.audit_log.c.event == "test.two").values(event="x"))
    with pytest.raises(DatabaseError, match="append-only"):
        with Session(store.engine) as session, session.begin():
            session.execute(text("DELETE FROM audit_log"))
    with pytest.raises(DatabaseError, match="append-only"):
        with Session(store.engine) as session, session.begin():
            session.get(AuditRow, before[0]["seq"]).actor = "mallory"       # flushed as an UPDATE
    with pytest.raises(DatabaseError, match="append-only"):
        with Session(store.engine) as session, session.begin():
            session.delete(session.get(AuditRow, before[1]["seq"]))        # flushed as a DELETE
    assert store.audit_log() == before
    store.audit("bob", "test.three")                      # appending is untouched
    assert [e["event"] for e in store.audit_log()] == ["test.one", "test.two", "test.three"]


def test_sqlite_refuses_update_and_delete_through_sqlalchemy(tmp_path):
    store = _store_with_entries(f"sqlite:///{tmp_path / 'sdiag.db'}")
    _refused_through_sqlalchemy(store)


def test_sqlite_refuses_update_and_delete_through_plain_sql(tmp_path):
    path = tmp_path / "sdiag.db"
    _store_with_entries(f"sqlite:///{path}").engine.dispose()
    db = sqlite3.connect(path)
    try:
        for sql in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log",
                    "DELETE FROM audit_log WHERE seq = 1"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(sql)
        assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 2
        # other tables are not guarded: proposals move along their state machine by UPDATE
        db.execute("UPDATE sdiag_meta SET value = value")
    finally:
        db.close()


def test_a_store_made_before_the_guards_gets_them_on_open(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:                            # tables as an older slurm-diag made them
        t.metadata.create_all(conn)
        conn.execute(t.meta.insert().values(key="schema_version", value=str(t.SCHEMA_VERSION)))
        assert append_only.missing(conn) == ["UPDATE", "DELETE"]
    store = _store_with_entries(url)
    with store.engine.connect() as conn:
        assert append_only.missing(conn) == []
    _refused_through_sqlalchemy(store)


@pytest.mark.cluster
def test_mariadb_refuses_update_and_delete(mariadb_database):
    """The local cluster's own MariaDB, in a database of its own."""
    store = _store_with_entries(mariadb_database.url)
    with store.engine.connect() as conn:
        assert sorted(append_only.installed(conn)) == ["audit_log_no_delete", "audit_log_no_update"]
    _refused_through_sqlalchemy(store)
    store.engine.dispose()
