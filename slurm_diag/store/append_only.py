"""The audit log is append-only in the database itself: triggers refuse UPDATE and DELETE of its
rows, whoever connects (this package, another SQLAlchemy program, the sqlite3 or mariadb shell).

SQLite and MariaDB/MySQL get triggers; on another database nothing is installed and
``supported`` says so, so the promise is never claimed where it is not kept.
"""

from __future__ import annotations

from sqlalchemy import text

REFUSAL = "audit_log is append-only: its rows cannot be changed or deleted"
OPERATIONS = ("UPDATE", "DELETE")


def trigger_name(operation: str) -> str:
    return f"audit_log_no_{operation.lower()}"


def _ddl(dialect: str, operation: str) -> str | None:
    name = trigger_name(operation)
    if dialect == "sqlite":
        return (f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {operation} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")
    if dialect in ("mysql", "mariadb"):
        return (f"CREATE TRIGGER {name} BEFORE {operation} ON audit_log FOR EACH ROW "
                f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{REFUSAL}'")
    return None


def supported(dialect: str) -> bool:
    return _ddl(dialect, "UPDATE") is not None


def installed(conn) -> set[str]:
    """Names of the guard triggers present in the connected database."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
    elif dialect in ("mysql", "mariadb"):
        rows = conn.execute(text("SELECT trigger_name FROM information_schema.triggers "
                                 "WHERE trigger_schema = DATABASE()"))
    else:
        return set()
    wanted = {trigger_name(op) for op in OPERATIONS}
    return {row[0] for row in rows} & wanted


def missing(conn) -> list[str]:
    """The operations whose guard is not installed yet (empty on an unsupported database)."""
    if not supported(conn.dialect.name):
        return []
    have = installed(conn)
    return [op for op in OPERATIONS if trigger_name(op) not in have]


def install(conn, operations: list[str]) -> None:
    """Create the guards for ``operations`` (inside the caller's transaction)."""
    for op in operations:
        conn.execute(text(_ddl(conn.dialect.name, op)))
