"""One config loader and one key convention: the prolog's fast path, the CLI and the store's
ingest read the same file the same way, with keys written from the top."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from slurm_diag import config

PACKAGE = Path(config.__file__).parent

TOML = """
home = "{home}"
[health]
level = "full"
spool_dir = "{spool}"
[health.policy]
max_drained_nodes = 3
"""


def write(tmp_path) -> Path:
    path = tmp_path / "sdiag.toml"
    path.write_text(TOML.format(home=tmp_path / "home", spool=tmp_path / "spool-here"))
    return path


def test_fast_and_validated_loads_agree_on_every_key(tmp_path):
    path = write(tmp_path)
    fast, full = config.load(path, validate_schema=False), config.load(path)
    assert fast.flat() == full.flat()
    assert fast.get("health.policy.max_drained_nodes") == 3 and fast.get("health.level") == "full"
    assert fast.spool_dir == full.spool_dir == tmp_path / "spool-here"


def test_the_prolog_path_loads_the_config_without_jsonschema(tmp_path):
    code = ("import sys; from slurm_diag.health import hooks; from slurm_diag.config import load; "
            "cfg = load(validate_schema=False); assert cfg.get('health.policy.max_drained_nodes') == 3; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jsonschema', 'click', 'sqlalchemy')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"SDIAG_CONFIG": str(write(tmp_path)), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_only_config_py_finds_and_parses_the_config_file():
    """No second loader: nothing else calls config_path() or merges sections by hand."""
    readers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                     if any(word in p.read_text() for word in ("config_path(", "config._merge", "config.defaults(")))
    assert readers == ["config.py"], readers


def test_store_ingest_reads_the_spool_the_hooks_write(tmp_path, monkeypatch):
    from slurm_diag.health import spool

    monkeypatch.setenv("SDIAG_CONFIG", str(write(tmp_path)))
    cfg = config.load()
    written = spool.write(cfg, "health", "node1", {"x": 1})
    assert written.parent.parent == cfg.spool_dir == tmp_path / "spool-here"
    from tests.conftest import sdiag

    done = sdiag("store", "ingest", "--json", env={"SDIAG_CONFIG": str(tmp_path / "sdiag.toml")})
    assert '"rejected"' in done.stdout and "spool-here" in str(list((tmp_path / "spool-here").rglob("*")))
