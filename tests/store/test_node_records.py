"""The nodes' records for every user (store.nodes_url): health reports, probe results and the hooks'
actions read through an account that may read nothing else; users' `explain` falls back to it when
the store's own credentials are root's."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from slurm_diag import config
from slurm_diag.errors import EnvironmentProblem
from slurm_diag.store import Store
from slurm_diag.store.node_records import NodeRecords, open_for_reading
from tests.store.test_store import FINDING, PROBE, REPORT

DRAINED = {"node": "node3", "context": "prolog", "job_id": "42", "action": "drain", "reason": "gpu3 clocks"}


def _filled(url: str) -> Store:
    store = Store(url)
    store.add_health_report(REPORT)
    store.add_probe_result(PROBE)
    store.add_finding(FINDING)
    store.audit("prolog@node3", "health.action", subject="42", detail=DRAINED)
    store.audit("agent", "agent.attribution", subject="42", detail={"transcript": "alice's log line"})
    return store


def test_the_nodes_records_hold_the_hooks_actions_and_not_the_rest_of_the_audit_log(tmp_path):
    url = f"sqlite:///{tmp_path / 'sdiag.db'}"
    _filled(url)
    nodes = NodeRecords(url)
    assert nodes.health_reports(node="node3") == [REPORT]
    assert [r["value"] for r in nodes.probe_results(node="node3")] == [PROBE["value"]]
    rows = nodes.audit_log(subject="42")
    assert [(r["event"], r["detail"]) for r in rows] == [("health.action", DRAINED)]


def _cfg(tmp_path, **store) -> config.Config:
    path = tmp_path / "sdiag.toml"
    lines = [f'home = "{tmp_path / "home"}"', "[store]"] + [f'{k} = "{v}"' for k, v in store.items()]
    path.write_text("\n".join(lines) + "\n")
    return config.load(path)


def test_a_caller_who_cannot_read_the_stores_credentials_reads_the_nodes_records(tmp_path):
    url = f"sqlite:///{tmp_path / 'sdiag.db'}"
    _filled(url)
    missing = tmp_path / "root-only.url"             # stands for a 0600 file of root's (unreadable here)
    opened = open_for_reading(_cfg(tmp_path, url_file=missing, nodes_url=url))
    assert isinstance(opened, NodeRecords) and opened.health_reports(node="node3") == [REPORT]
    with pytest.raises(EnvironmentProblem, match="store.url_file"):
        open_for_reading(_cfg(tmp_path, url_file=missing))           # no nodes_url: the error as before
    assert not isinstance(open_for_reading(_cfg(tmp_path, url=url)), NodeRecords)   # the store when it opens


def test_a_nodes_url_that_does_not_open_says_both_what_failed_and_what_to_do(tmp_path):
    with pytest.raises(EnvironmentProblem) as err:
        open_for_reading(_cfg(tmp_path, url_file=tmp_path / "root-only.url",
                              nodes_url=f"sqlite:///{tmp_path / 'none' / 'x.db'}"))
    assert "store.url_file" in err.value.message and "store.nodes_url" in err.value.message


@pytest.mark.cluster
def test_the_nodes_account_reads_the_nodes_records_and_nothing_else(devcluster, mariadb_database):
    """The grant `devcluster up` gives its nodes account (store.nodes_url), on a database of the test's own."""
    import uuid

    from slurm_diag.devcluster import cluster
    from slurm_diag.devcluster.templates import DB_PASSWORD

    db = mariadb_database
    user, password = f"nodes_{uuid.uuid4().hex[:6]}", "not-secret-in-tests"
    cluster.grant_node_records(devcluster, database=db.name, user=user, password=password)
    try:
        store = _filled(db.url)
        url = db.url.replace(f"slurm:{DB_PASSWORD}", f"{user}:{password}")
        nodes = NodeRecords(url)
        assert nodes.health_reports(node="node3") == [REPORT]
        assert [(r["event"], r["detail"]) for r in nodes.audit_log(subject="42")] == [("health.action", DRAINED)]
        engine = create_engine(url)
        for table in ("findings", "attributions", "proposals", "audit_log"):
            with pytest.raises(SQLAlchemyError, match="denied"), engine.connect() as conn:
                conn.execute(text(f"SELECT * FROM {table} LIMIT 1"))
        with pytest.raises(SQLAlchemyError, match="denied"), engine.begin() as conn:
            conn.execute(text("DELETE FROM health_reports"))
        for used in (engine, nodes.engine, store.engine):
            used.dispose()
    finally:
        cluster._mysql(devcluster, f"DROP USER IF EXISTS '{user}'@'localhost'; DROP USER IF EXISTS '{user}'@'127.0.0.1';")


@pytest.mark.cluster
def test_the_local_clusters_config_names_its_nodes_account(devcluster):
    nodes = NodeRecords(devcluster.nodes_url())                 # the store's schema, readable
    assert config.load(devcluster.p("etc", "sdiag.toml")).get("store.nodes_url") == devcluster.nodes_url()
    with pytest.raises(SQLAlchemyError, match="denied"), nodes.engine.connect() as conn:
        conn.execute(text("SELECT * FROM findings LIMIT 1"))
    nodes.engine.dispose()


def test_a_view_another_process_created_meanwhile_is_no_error(tmp_path, monkeypatch):
    import sqlalchemy

    url = f"sqlite:///{tmp_path / 'sdiag.db'}"
    Store(url)

    class NoViewsYet:                       # what a process saw just before another created the view
        def __init__(self, conn):
            pass

        def get_view_names(self):
            return []
    monkeypatch.setattr(sqlalchemy, "inspect", NoViewsYet)
    assert Store(url).health_reports() == []
