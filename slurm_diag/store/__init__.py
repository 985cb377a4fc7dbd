"""The store (SQLAlchemy): health reports, probe results, findings, attributions, proposals, audit log."""

from slurm_diag.store.db import Store, StoreError

__all__ = ["Store", "StoreError"]
