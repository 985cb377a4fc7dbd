"""Reports leave the node as JSON files in a local spool directory (``<home>/spool/<kind>/``), written
atomically; the store ingests them later, so no hook ever waits on a database."""

from __future__ import annotations

import re
import time
from pathlib import Path

from slurm_diag.health.state import write_json


def spool_dir(cfg) -> Path:
    return cfg.spool_dir


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def write(cfg, kind: str, node: str, doc: dict, tag: str = "") -> Path:
    name = f"{time.time_ns()}-{_safe(node)}{'-' + _safe(tag) if tag else ''}.json"
    path = spool_dir(cfg) / kind / name
    write_json(path, doc)
    return path
