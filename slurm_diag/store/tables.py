"""Table definitions. Bump SCHEMA_VERSION when a table changes shape."""

from __future__ import annotations

from sqlalchemy import (
    JSON, Column, DateTime, Float, Integer, MetaData, String, Table, Text,
)

SCHEMA_VERSION = 1
metadata = MetaData()
# MariaDB/MySQL: every table holds any Unicode a log can carry (a progress bar's blocks, a CJK path),
# whatever the server's default character set (Debian's MariaDB: latin1). Other databases ignore it.
CHARSET = "utf8mb4"
COLLATION = "utf8mb4_bin"
_TABLE_OPTIONS = {"mysql_charset": CHARSET, "mysql_collate": COLLATION}

meta = Table(
    "sdiag_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
    **_TABLE_OPTIONS,
)

health_reports = Table(
    "health_reports", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("node", String(128), nullable=False, index=True),
    Column("time", DateTime, nullable=False, index=True),
    Column("context", String(16)),
    Column("level", String(8), nullable=False),
    Column("job_id", String(32), index=True),
    Column("status", String(8), nullable=False),
    Column("report", JSON, nullable=False),
    **_TABLE_OPTIONS,
)

probe_results = Table(
    "probe_results", metadata,
    Column("id", String(64), primary_key=True),
    Column("probe", String(32), nullable=False, index=True),
    Column("node", String(128), nullable=False, index=True),
    Column("gpu", Integer),
    Column("job_id", String(32)),
    Column("time", DateTime, nullable=False, index=True),
    Column("metric", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Column("unit", String(32), nullable=False),
    Column("verdict", String(8)),
    Column("valid", Integer, nullable=False),
    Column("result", JSON, nullable=False),
    **_TABLE_OPTIONS,
)

findings = Table(
    "findings", metadata,
    Column("id", String(64), primary_key=True),
    Column("job_id", String(32), index=True),
    Column("node", String(128), index=True),
    Column("source", String(16), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("summary", Text, nullable=False),
    Column("time", DateTime, nullable=False),
    Column("finding", JSON, nullable=False),
    **_TABLE_OPTIONS,
)

attributions = Table(
    "attributions", metadata,
    Column("id", String(64), primary_key=True),
    Column("job_id", String(32), index=True),
    Column("label", String(32), nullable=False),
    Column("scope", String(8), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("time", DateTime, nullable=False),
    Column("attribution", JSON, nullable=False),
    **_TABLE_OPTIONS,
)

proposals = Table(
    "proposals", metadata,
    Column("id", String(64), primary_key=True),
    Column("action", String(16), nullable=False),
    Column("target", String(128), nullable=False, index=True),
    Column("state", String(16), nullable=False, index=True),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
    Column("proposal", JSON, nullable=False),
    **_TABLE_OPTIONS,
)

audit_log = Table(
    "audit_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("time", DateTime, nullable=False, index=True),
    Column("actor", String(128), nullable=False),
    Column("event", String(64), nullable=False),
    Column("subject", String(128)),
    Column("detail", JSON),
    **_TABLE_OPTIONS,
)

# The hooks' actions on nodes (a prolog that drained a node and requeued the job), and nothing else of
# the audit log, as a view: a database account granted only the node records (``store.nodes_url``)
# reads them, while the log's other rows (the agent's transcripts, which quote users' logs) stay
# closed. Its own metadata: ``create_all`` must not make it a table.
NODE_ACTIONS_EVENT = "health.action"
node_actions = Table(
    "node_actions", MetaData(),
    Column("seq", Integer), Column("time", DateTime), Column("actor", String(128)),
    Column("event", String(64)), Column("subject", String(128)), Column("detail", JSON),
)
NODE_ACTIONS_DDL = ("CREATE VIEW node_actions AS SELECT seq, time, actor, event, subject, detail "
                    f"FROM audit_log WHERE event = '{NODE_ACTIONS_EVENT}'")
# what `store.nodes_url`'s account is granted (SELECT), and all it needs
NODE_RECORDS = ("sdiag_meta", "health_reports", "probe_results", "node_actions")
