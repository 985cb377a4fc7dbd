"""The Slurm calls the health code makes, through the Slurm adapter (imported lazily so the
prolog's quick path never loads it unless it must drain)."""

from __future__ import annotations

import sys

from slurm_diag.health.policy import NodeView, is_sdiag_reason
from slurm_diag.slurm.errors import SlurmError as SlurmCallError


def _client(timeout_s: float):
    from slurm_diag.health.settings import load
    from slurm_diag.slurm.client import CommandClient

    return CommandClient(timeout=timeout_s, bin_dir=load().slurm_bin_dir or None)


def _view(node) -> NodeView:
    return NodeView(name=node.name, state=node.state, flags=node.flags, reason=node.reason)


def get_node(name: str, timeout_s: float = 10.0) -> NodeView:
    return _view(_client(timeout_s).get_node(name))


def drain_node(name: str, reason: str, timeout_s: float = 10.0) -> None:
    _client(timeout_s).drain_node(name, reason)


def resume_node(name: str, timeout_s: float = 10.0) -> None:
    _client(timeout_s).resume_node(name)


def sdiag_drained_nodes(timeout_s: float = 10.0) -> list[str]:
    nodes = _client(timeout_s).list_nodes()
    return sorted(n.name for n in nodes if n.drained and is_sdiag_reason(n.reason))


def drain_detached(name: str, reason: str, settle_s: float = 15.0) -> int | None:
    """Start the drainer in its own session and return at once (never waited on): the prolog and
    epilog exit non-zero right after, and the drainer makes the reason read ``sdiag: ...``."""
    from slurm_diag import process

    try:
        proc = process.spawn([sys.executable, "-m", "slurm_diag.health.drainer", name, reason, str(settle_s)])
    except (process.ProgramNotFound, OSError):
        return None
    return proc.pid


__all__ = ["SlurmCallError", "get_node", "drain_node", "resume_node", "sdiag_drained_nodes", "drain_detached"]
