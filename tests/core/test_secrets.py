"""Secrets stay secret: `config show` masks passwords as `store info` does, the local cluster keeps
the store password in a 0600 file (its sdiag.toml is world-readable and holds none), and a prolog
given a binary config logs a printable line, never the file's bytes."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from slurm_diag import config
from slurm_diag.devcluster import cluster, templates
from slurm_diag.errors import EnvironmentProblem
from tests.conftest import sdiag

PASSWORD = "s3cret-pw"


def test_config_show_masks_the_store_password(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'[store]\nurl = "mysql+pymysql://slurm:{PASSWORD}@db.example:3306/sdiag"\n')
    env = {"SDIAG_CONFIG": str(path), "SDIAG_STORE_URL": ""}
    text = sdiag("config", "show", env=env)
    assert text.returncode == 0, text.stderr
    assert PASSWORD not in text.stdout and "mysql+pymysql://slurm:***@db.example:3306/sdiag" in text.stdout
    as_json = sdiag("config", "show", "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    assert PASSWORD not in as_json.stdout
    assert json.loads(as_json.stdout)["values"]["store"]["url"] == "mysql+pymysql://slurm:***@db.example:3306/sdiag"


@pytest.mark.parametrize("url,shown", [
    (f"mysql+pymysql://slurm:{PASSWORD}@127.0.0.1:13306/sdiag", "mysql+pymysql://slurm:***@127.0.0.1:13306/sdiag"),
    (f"postgresql://u:{PASSWORD}@h/db?sslmode=require", "postgresql://u:***@h/db?sslmode=require"),
    (f"mysql://h/db?user=u&password={PASSWORD}", "mysql://h/db?user=u&password=***"),
    ("sqlite:////var/lib/sdiag/sdiag.db", "sqlite:////var/lib/sdiag/sdiag.db"),
])
def test_mask_url(url, shown):
    assert config.mask_url(url) == shown


def test_store_url_file_keeps_the_url_out_of_the_config(tmp_path, monkeypatch):
    monkeypatch.delenv("SDIAG_STORE_URL", raising=False)
    secret = tmp_path / "store.url"
    secret.write_text(f"sqlite:///{tmp_path}/s.db\n")
    path = tmp_path / "c.toml"
    path.write_text(f'[store]\nurl_file = "{secret}"\n')
    assert config.load(path).store_url == f"sqlite:///{tmp_path}/s.db"
    info = sdiag("store", "info", env={"SDIAG_CONFIG": str(path), "SDIAG_STORE_URL": ""})
    assert info.returncode == 0 and f"sqlite:///{tmp_path}/s.db" in info.stdout, info.stderr
    secret.unlink()
    with pytest.raises(EnvironmentProblem, match="store.url_file"):
        config.load(path).store_url
    missing = sdiag("store", "info", env={"SDIAG_CONFIG": str(path), "SDIAG_STORE_URL": ""})
    assert missing.returncode == 3 and "credentials file" in missing.stderr and "Traceback" not in missing.stderr


def test_devcluster_writes_no_secret_where_others_can_read(monkeypatch):
    base = Path(tempfile.mkdtemp(prefix="sdiag-secrets-")) / "devcluster"
    try:
        lay = templates.Layout(base=base, nodes=2, gpus_per_node=2, cpus_per_node=1, memory_mb=500,
                               base_port=26820)
        cluster.prepare(lay)
        readable = [p for p in base.rglob("*") if p.is_file() and not p.is_symlink()
                    and p.stat().st_mode & stat.S_IROTH]
        assert base / "etc" / "sdiag.toml" in readable and lay.slurm_conf in readable
        leaks = [p for p in readable if templates.DB_PASSWORD in p.read_text(errors="replace")]
        assert leaks == [], f"world-readable files hold the store password: {leaks}"
        secret = base / "etc" / "store.url"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert stat.S_IMODE((base / "etc" / "slurmdbd.conf").stat().st_mode) == 0o600
        monkeypatch.delenv("SDIAG_STORE_URL", raising=False)
        assert config.load(base / "etc" / "sdiag.toml").store_url == lay.store_url()
        for parent in base.parents:            # ordinary users can reach slurm.conf and munge's socket
            assert parent.stat().st_mode & stat.S_IXOTH, f"{parent} is not o+x"
    finally:
        shutil.rmtree(base.parent, ignore_errors=True)


def test_prolog_with_a_binary_config_fails_open_with_a_printable_log(tmp_path):
    binary = tmp_path / "config.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SDIAG_", "SLURM"))}
    env.update(SDIAG_CONFIG=str(binary), SDIAG_HOME=str(tmp_path / "home"), SLURMD_NODENAME="node1",
               SLURM_JOB_ID="7")
    done = subprocess.run([sys.executable, "-m", "slurm_diag.health.prolog"], env=env, capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    log = done.stderr.decode("utf-8")              # strict: raw bytes would raise here
    assert all(ch.isprintable() or ch == "\n" for ch in log), log
    assert re.search(r"\\x[0-9a-fA-F]{2}", log) is None, f"the file's bytes reached the log: {log}"
    assert "expected a UTF-8 TOML text file, found binary data" in log and "job allowed" in log
