"""Knowledge-base fixtures: every test points SDIAG_HOME at a temp dir; the index is built once
per session (the embedding model is exported to ONNX once there too)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def kb_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("sdiag-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("SDIAG_HOME", str(home))
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.delenv("SDIAG_CONFIG", raising=False)
    from slurm_diag.kb import api

    try:
        api.build()
    finally:
        mp.undo()  # never leak the temp home into other test directories
    return home


@pytest.fixture(autouse=True)
def _kb_env(kb_home, monkeypatch):
    """Each knowledge-base test sees the session's temp home (and only while it runs)."""
    monkeypatch.setenv("SDIAG_HOME", str(kb_home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SDIAG_CONFIG", raising=False)


@pytest.fixture(scope="session")
def kb(kb_home):
    """(cfg, store, entries) opened once for the session's read-only tests."""
    from slurm_diag import config
    from slurm_diag.kb import api, entries

    with pytest.MonkeyPatch.context() as mp:   # session scope runs before the autouse _kb_env
        mp.setenv("SDIAG_HOME", str(kb_home))
        mp.delenv("SDIAG_CONFIG", raising=False)
        cfg = config.load()
    assert cfg.home == kb_home, f"the knowledge-base tests must not use {cfg.home}"
    return cfg, api.open_store(cfg), entries.load_all(cfg)


def run_cli(*args, home: Path, stdin: str | None = None, timeout: int = 120):
    env = {**os.environ, "SDIAG_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.pop("SDIAG_CONFIG", None)
    return subprocess.run([sys.executable, "-c", "from slurm_diag.cli import main; main()", *args],
                          input=stdin, capture_output=True, text=True, env=env, timeout=timeout)
