"""The Slurm boundary: the only package that runs Slurm commands.

Names load lazily, so the prolog can use the pure parsers without loading the client.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "CommandClient": "client", "SlurmClient": "client", "default_client": "client",
    "Job": "records", "JobArray": "records", "JobStep": "records", "Node": "records", "NodeEvent": "records",
    "NodeReason": "records", "Unreachable": "records", "InvalidJobId": "errors",
    "JobSourcesUnavailable": "errors",
    "JobNotFound": "errors", "NodeNotFound": "errors", "SlurmCommandError": "errors",
    "SlurmError": "errors", "SlurmTimeout": "errors", "SlurmUnavailable": "errors",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
