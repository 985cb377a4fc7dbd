"""The store: SQLite by default, any SQLAlchemy URL (MariaDB, PostgreSQL) by config.

Documents are validated against their JSON Schema before they are written, so whatever is read
back is a valid HealthReport/ProbeResult/Finding/Attribution/Proposal. The audit log is append
only: this class has no way to change or delete an entry, and the database refuses it too
(``append_only``: triggers on SQLite and MariaDB).
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from slurm_diag import schemas
from slurm_diag.config import mask_url
from slurm_diag.errors import EnvironmentProblem, UsageError
from slurm_diag.store import append_only, tables as t

# proposal state machine (DESIGN.md): proposed -> approved -> executing -> done|failed; or rejected/expired
TRANSITIONS = {
    "proposed": {"approved", "rejected", "expired"},
    "approved": {"executing", "expired"},
    "executing": {"done", "failed"},
}


class StoreError(EnvironmentProblem):
    pass


def _error(url: str, exc: SQLAlchemyError) -> StoreError:
    """One message per way a database fails: corrupt, read-only, unreachable. Nothing is changed."""
    why = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
    where = mask_url(url)
    low = why.lower()
    if "not a database" in low or "malformed" in low or "file is encrypted" in low:
        return StoreError(f"store {where} is not a database slurm-diag can read ({why}); it was left as it is",
                          hint="move the file aside (a new store is created on the next run) or restore it "
                               "from a backup; or point [store] url at another database")
    if "readonly" in low or "read-only" in low:
        return StoreError(f"store {where} is read-only for this user ({why}); nothing was written",
                          hint="run as a user who may write it (root or SlurmUser), or point SDIAG_HOME or "
                               "[store] url at a writable place")
    if "incorrect string value" in low:
        return StoreError(f"store {where} cannot hold this text: its tables are not utf8mb4 ({why}); "
                          "nothing was written",
                          hint="let the store's user ALTER its tables (slurm-diag converts them to utf8mb4 when "
                               "it opens the store), or run ALTER TABLE ... CONVERT TO CHARACTER SET utf8mb4")
    if "unable to open" in low:
        return StoreError(f"cannot open the store {where} ({why})",
                          hint="check that its directory exists and is readable and writable by this user")
    return StoreError(f"cannot reach the store {where}: {why}",
                      hint="is the database running and is [store] url right?")


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _parse_time(stamp: str | None) -> datetime:
    if not stamp:
        return now()
    value = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


class Store:
    def __init__(self, url: str):
        self.url = url
        if url.startswith("sqlite:///"):
            folder = Path(url.removeprefix("sqlite:///")).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {folder} for the store {mask_url(url)}: {exc.strerror}",
                                 hint="point SDIAG_HOME (or [store] url) at a directory this user can "
                                      "create and write") from None
        try:
            self.engine: Engine = create_engine(url, pool_pre_ping=True, future=True)
        except (SQLAlchemyError, ImportError) as exc:
            raise StoreError(f"cannot use store URL {mask_url(url)}: {exc}",
                             hint="check [store] url; MariaDB needs the 'mysql' extra (pymysql)") from None
        self._init()

    @classmethod
    def from_config(cls, cfg=None) -> "Store":
        from slurm_diag import config as config_mod

        return cls((cfg or config_mod.load()).store_url)

    @contextlib.contextmanager
    def _connect(self, write: bool = False):
        """A connection (a transaction when ``write``); database failures become one StoreError."""
        try:
            with (self.engine.begin() if write else self.engine.connect()) as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise _error(self.url, exc) from None

    # the audit rows ``audit_log`` reads: all of them here; NodeRecords reads the hooks' actions only
    _audit_rows = t.audit_log

    def _init(self) -> None:
        from sqlalchemy import inspect

        with self._connect() as conn:
            missing = [name for name in t.metadata.tables if not self.engine.dialect.has_table(conn, name)]
            view_missing = t.node_actions.name not in inspect(conn).get_view_names()
        if missing:
            with self._connect(write=True) as conn:
                t.metadata.create_all(conn)
        if view_missing:
            self._add_node_actions_view()
        self._widen_charset()
        self._guard_audit_log()
        stored = self._stored_version()
        if stored is None:
            with self._connect(write=True) as conn:
                conn.execute(insert(t.meta).values(key="schema_version", value=str(t.SCHEMA_VERSION)))
        elif int(stored) != t.SCHEMA_VERSION:
            raise StoreError(f"store {mask_url(self.url)} has schema version {stored}, "
                             f"this slurm-diag expects {t.SCHEMA_VERSION}",
                             hint="use a matching slurm-diag or point [store] url at a new database")

    def _stored_version(self) -> str | None:
        """The schema version the store records, or None before it records one."""
        with self._connect() as conn:
            row = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "schema_version")).first()
        return None if row is None else row.value

    def _add_node_actions_view(self) -> None:
        """Create the ``node_actions`` view (tables.py); a store this user cannot change goes
        without it (only `store.nodes_url`'s account reads it)."""
        try:
            with self._connect(write=True) as conn:
                conn.execute(text(t.NODE_ACTIONS_DDL))
        except StoreError as err:
            if "already exists" in err.message:              # another process created it meanwhile
                return
            if "read-only" not in err.message and "denied" not in err.message:
                raise
            print(f"sdiag: warning: the store has no node_actions view and this user may not create it, so "
                  f"users' explain cannot read the prologs' actions through store.nodes_url: {err.message}",
                  file=sys.stderr)

    def _widen_charset(self) -> None:
        """MariaDB/MySQL: convert tables an older slurm-diag created in the server's default character
        set (latin1 on Debian) to utf8mb4, once, so a log line outside latin1 can be stored. One
        process converts (a named lock; the others find the work done); a store that cannot be
        altered stays as it is, with a warning, and a write it cannot hold says why it failed."""
        if self.engine.dialect.name not in ("mysql", "mariadb"):
            return
        with self._connect() as conn:
            if not self._narrow_tables(conn):
                return
        try:
            with self._connect(write=True) as conn:
                if not conn.execute(text("SELECT GET_LOCK('sdiag_widen_charset', 120)")).scalar():
                    return                               # another process is converting them
                try:
                    for name in self._narrow_tables(conn):        # re-read under the lock
                        conn.execute(text(f"ALTER TABLE `{name}` CONVERT TO CHARACTER SET {t.CHARSET} "
                                          f"COLLATE {t.COLLATION}"))
                finally:
                    conn.execute(text("SELECT RELEASE_LOCK('sdiag_widen_charset')"))
        except StoreError as err:
            print(f"sdiag: warning: the store's tables could not be converted to {t.CHARSET}, so text outside "
                  f"latin1 cannot be stored: {err.message}", file=sys.stderr)

    @staticmethod
    def _narrow_tables(conn) -> list[str]:
        rows = conn.execute(text("SELECT table_name, table_collation FROM information_schema.tables "
                                 "WHERE table_schema = DATABASE()")).all()
        return [name for name, collation in rows
                if name in t.metadata.tables and not (collation or "").startswith(t.CHARSET)]

    def _guard_audit_log(self) -> None:
        """Install the triggers that make the database refuse UPDATE/DELETE of audit rows."""
        with self._connect() as conn:
            unguarded = append_only.missing(conn)
        if not unguarded:
            return
        try:
            with self._connect(write=True) as conn:
                append_only.install(conn, unguarded)
        except StoreError as err:
            if "read-only" not in err.message:   # a read-only store cannot be changed by this user anyway
                raise

    @property
    def schema_version(self) -> int:
        with self._connect() as conn:
            return int(conn.execute(select(t.meta.c.value).where(t.meta.c.key == "schema_version")).scalar_one())

    def counts(self) -> dict[str, int]:
        """Rows per table, counted by the database."""
        tables = {"health_reports": t.health_reports, "probe_results": t.probe_results, "findings": t.findings,
                  "attributions": t.attributions, "proposals": t.proposals, "audit_log": t.audit_log}
        with self._connect() as conn:
            return {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                    for name, table in tables.items()}

    def _insert(self, table, values: dict) -> None:
        with self._connect(write=True) as conn:
            conn.execute(insert(table).values(**values))

    def _select(self, table, column: str, *where, order=None, limit: int | None = None) -> list[Any]:
        query = select(table.c[column]).where(*where).order_by(*(order or [])).limit(limit)
        with self._connect() as conn:
            return [row[0] for row in conn.execute(query)]

    # ------------------------------------------------------------ health reports
    def add_health_report(self, report: dict) -> None:
        schemas.validate("health_report", report)
        self._insert(t.health_reports, dict(
            node=report["node"], time=_parse_time(report["time"]), context=report.get("context"),
            level=report["level"], job_id=report.get("job_id"), status=report["status"], report=report))

    def health_reports(self, node: str | None = None, limit: int = 100) -> list[dict]:
        where = [t.health_reports.c.node == node] if node else []
        return self._select(t.health_reports, "report", *where,
                            order=[t.health_reports.c.time.desc(), t.health_reports.c.id.desc()], limit=limit)

    # ------------------------------------------------------------ probe results
    def add_probe_result(self, result: dict) -> str:
        result = {"id": uuid.uuid4().hex, **result}
        schemas.validate("probe_result", result)
        verdict = (result.get("verdict") or {}).get("status")
        self._insert(t.probe_results, dict(
            id=result["id"], probe=result["probe"], node=result["node"], gpu=result.get("gpu"),
            job_id=result.get("job_id"), time=_parse_time(result.get("time")), metric=result["metric"],
            value=result["value"], unit=result["unit"], verdict=verdict, valid=int(result["valid"]),
            result=result))
        return result["id"]

    def probe_results(self, node: str | None = None, probe: str | None = None, limit: int = 1000) -> list[dict]:
        where = [c for c in (t.probe_results.c.node == node if node else None,
                             t.probe_results.c.probe == probe if probe else None) if c is not None]
        return self._select(t.probe_results, "result", *where, order=[t.probe_results.c.time.desc()], limit=limit)

    # ------------------------------------------------------------ findings and attributions
    def add_finding(self, finding: dict) -> None:
        schemas.validate("finding", finding)
        self._insert(t.findings, dict(
            id=finding["id"], job_id=finding.get("job_id"), node=finding.get("node"), source=finding["source"],
            severity=finding["severity"], summary=finding["summary"], time=_parse_time(finding.get("time")),
            finding=finding))

    def findings(self, job_id: str | None = None, node: str | None = None) -> list[dict]:
        where = [c for c in (t.findings.c.job_id == job_id if job_id else None,
                             t.findings.c.node == node if node else None) if c is not None]
        return self._select(t.findings, "finding", *where, order=[t.findings.c.time])

    def findings_with_time(self, id_like: str, since: datetime | None = None,
                           limit: int = 20000) -> list[tuple[datetime, dict]]:
        """(stored time, finding) for the findings whose id matches the SQL LIKE pattern
        ``id_like``, newest first, at most ``limit``."""
        where = [t.findings.c.id.like(id_like)]
        if since is not None:
            where.append(t.findings.c.time >= since)
        query = (select(t.findings.c.time, t.findings.c.finding).where(*where)
                 .order_by(t.findings.c.time.desc()).limit(limit))
        with self._connect() as conn:
            return [(row[0], row[1]) for row in conn.execute(query)]

    def add_attribution(self, attribution: dict) -> str:
        attribution = {"id": uuid.uuid4().hex, **attribution}
        schemas.validate("attribution", attribution)
        self._insert(t.attributions, dict(
            id=attribution["id"], job_id=attribution.get("job_id"), label=attribution["label"],
            scope=attribution["scope"], confidence=attribution["confidence"],
            time=_parse_time(attribution.get("time")), attribution=attribution))
        return attribution["id"]

    def attributions(self, job_id: str | None = None) -> list[dict]:
        where = [t.attributions.c.job_id == job_id] if job_id else []
        return self._select(t.attributions, "attribution", *where, order=[t.attributions.c.time])

    # ------------------------------------------------------------ proposals and the audit log
    def add_proposal(self, proposal: dict, actor: str) -> str:
        stamp = now()
        proposal = {"id": uuid.uuid4().hex, "state": "proposed", "proposed_by": actor,
                    "created": stamp.isoformat(), **proposal}
        if proposal["state"] != "proposed":
            raise UsageError(f"a new proposal starts in state 'proposed', found {proposal['state']!r}")
        schemas.validate("proposal", proposal)
        with self._connect(write=True) as conn:
            conn.execute(insert(t.proposals).values(
                id=proposal["id"], action=proposal["action"], target=proposal["target"], state="proposed",
                created=stamp, updated=stamp, proposal=proposal))
            conn.execute(insert(t.audit_log).values(time=stamp, actor=actor, event="proposal.created",
                                                    subject=proposal["id"], detail=proposal))
        return proposal["id"]

    def proposal(self, proposal_id: str) -> dict:
        found = self._select(t.proposals, "proposal", t.proposals.c.id == proposal_id)
        if not found:
            raise UsageError(f"no proposal {proposal_id!r}", hint="list them with `sdiag-agent proposals`")
        return found[0]

    def proposals(self, state: str | None = None) -> list[dict]:
        where = [t.proposals.c.state == state] if state else []
        return self._select(t.proposals, "proposal", *where, order=[t.proposals.c.created])

    def transition(self, proposal_id: str, new_state: str, actor: str, note: str | None = None,
                   updates: dict | None = None, expect: str | None = None) -> dict:
        """Move a proposal along its state machine, atomically with its audit entry. ``updates`` are
        fields set on the proposal with it; ``expect`` refuses unless the proposal is in that state
        (two approvers racing: one wins, the other is told). The audit entry carries the evidence
        hashes and the agent's model and prompt version."""
        stamp = now()
        with self._connect(write=True) as conn:
            row = conn.execute(select(t.proposals.c.proposal, t.proposals.c.state)
                               .where(t.proposals.c.id == proposal_id).with_for_update()).first()
            if row is None:
                raise UsageError(f"no proposal {proposal_id!r}", hint="list them with `sdiag-agent proposals`")
            if expect is not None and row.state != expect:
                raise UsageError(f"proposal {proposal_id} is {row.state} now, not {expect}: someone else acted first",
                                 hint=f"see `sdiag-agent actions show {proposal_id}`")
            if new_state not in TRANSITIONS.get(row.state, set()):
                raise UsageError(f"proposal {proposal_id} is {row.state}; it cannot become {new_state}",
                                 hint="allowed: " + (", ".join(sorted(TRANSITIONS.get(row.state, ()))) or "none (final)"))
            doc = dict(row.proposal, state=new_state)
            if new_state in {"approved", "rejected"}:
                doc.update(decided_by=actor, decided=stamp.isoformat())
            if note is not None:
                doc["note"] = note
            doc.update(updates or {})
            schemas.validate("proposal", doc)
            conn.execute(update(t.proposals).where(t.proposals.c.id == proposal_id)
                         .values(state=new_state, updated=stamp, proposal=doc))
            detail = {"from": row.state, "note": note, **(updates or {})}
            detail.update({k: doc[k] for k in ("evidence_hashes", "model", "prompt_version") if doc.get(k)})
            conn.execute(insert(t.audit_log).values(time=stamp, actor=actor, event=f"proposal.{new_state}",
                                                    subject=proposal_id, detail=detail))
        return doc

    def audit(self, actor: str, event: str, subject: str | None = None, detail: Any = None) -> None:
        self._insert(t.audit_log, dict(time=now(), actor=actor, event=event, subject=subject, detail=detail))

    def audit_log(self, subject: str | None = None, subjects=None) -> list[dict]:
        """The audit rows, oldest first: all, those of ``subject``, or those of any of ``subjects``."""
        rows = self._audit_rows
        query = select(rows).order_by(rows.c.seq)
        if subject:
            query = query.where(rows.c.subject == subject)
        if subjects is not None:
            query = query.where(rows.c.subject.in_(list(subjects)))
        with self._connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

