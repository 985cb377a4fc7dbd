"""The nodes' records for every user: health reports, probe results and the hooks' actions, read
through ``store.nodes_url``, a database account granted SELECT on those (tables.NODE_RECORDS) and
nothing else. Users' `explain` needs them to tell a node's fault from their job's, while the store's
own credentials (``store.url_file``) are root's, and the rest of the store (findings,
attributions, the agent's transcripts) quotes other users' logs."""

from __future__ import annotations

from slurm_diag.errors import EnvironmentProblem
from slurm_diag.store import tables as t
from slurm_diag.store.db import Store, StoreError


class NodeRecords(Store):
    """Read only: it creates, converts and writes nothing (its account could not). Only the
    reading methods of health reports, probe results and ``audit_log`` (the hooks' actions) apply."""

    _audit_rows = t.node_actions

    def _init(self) -> None:
        stored = self._stored_version()
        if stored is None or int(stored) != t.SCHEMA_VERSION:
            raise StoreError(f"the nodes' records (store.nodes_url) have schema version "
                             f"{stored or 'none'}, this slurm-diag expects {t.SCHEMA_VERSION}",
                             hint="an administrator runs `sdiag-agent store info` to create or check the store")


def open_for_reading(cfg) -> Store:
    """The store, or where the caller cannot open it (its credentials are root's) and
    ``store.nodes_url`` is set, the nodes' records through that account."""
    try:
        return Store(cfg.store_url)
    except EnvironmentProblem as exc:
        nodes_url = cfg.get("store.nodes_url")
        if not nodes_url:
            raise
        try:
            return NodeRecords(nodes_url)
        except StoreError as second:
            raise StoreError(f"{exc.message}; and the nodes' records (store.nodes_url): {second.message}",
                             hint=second.hint) from None
