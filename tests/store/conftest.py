"""A database of its own on the local cluster's MariaDB, for the store's cluster tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine


@dataclass
class ScratchDatabase:
    name: str
    url: str            # the store URL of the database (the slurm user's)
    admin: Engine       # the slurm user, on the server: ALTER and inspect from outside the store


@pytest.fixture()
def mariadb_database(devcluster):
    """A fresh database on the MariaDB slurmdbd uses, latin1 as Debian's server creates it by
    default; dropped afterwards."""
    name = f"sdiag_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(devcluster.db_url())
    with admin.begin() as conn:
        conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET latin1"))
    try:
        yield ScratchDatabase(name, devcluster.db_url(name), admin)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE {name}"))
        admin.dispose()
