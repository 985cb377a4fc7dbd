"""What health checks remember between runs on one node (kernel-log cursor, critical XIDs seen
since boot, ECC baselines, the HealthCheckProgram's clean-run count), kept as small JSON files under
``<SDIAG_HOME>/health/<node>/``. Writes are atomic (temp file + rename) so a prolog and a
HealthCheckProgram running at once never leave a torn file; the last writer wins."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def node_dir(home: Path, node: str) -> Path:
    return home / "health" / node


def read(home: Path, node: str, name: str) -> dict:
    try:
        return json.loads((node_dir(home, node) / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}


def write_json(path: Path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=1, default=str)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write(home: Path, node: str, name: str, doc: dict) -> None:
    write_json(node_dir(home, node) / f"{name}.json", doc)


def clear(home: Path, node: str) -> list[str]:
    """Forget everything remembered for a node (after a GPU reset or repair); returns files removed."""
    removed = []
    for path in sorted(node_dir(home, node).glob("*.json")):
        path.unlink()
        removed.append(path.name)
    return removed
