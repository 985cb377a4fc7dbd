"""Config loading and the thin CLI (no cluster needed)."""

from __future__ import annotations

import json

import pytest

from slurm_diag import __version__, config, schemas
from slurm_diag.errors import UsageError

from tests.conftest import sdiag


def test_defaults_and_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_CONF", raising=False)
    monkeypatch.delenv("SDIAG_HOME", raising=False)
    monkeypatch.delenv("SDIAG_STORE_URL", raising=False)
    path = tmp_path / "c.toml"
    path.write_text('[slurm]\ntimeout_s = 12.5\n')
    cfg = config.load(path)
    assert cfg.get("slurm.timeout_s") == 12.5 and cfg.sources["slurm.timeout_s"] == f"file:{path}"
    assert cfg.get("devcluster.nodes") == 4 and cfg.sources["devcluster.nodes"] == "default"
    monkeypatch.setenv("SDIAG_HOME", str(tmp_path / "h"))
    cfg = config.load(path)
    assert cfg.home == tmp_path / "h" and cfg.sources["home"] == "env:SDIAG_HOME"
    assert cfg.store_url == f"sqlite:///{tmp_path / 'h' / 'sdiag.db'}"


@pytest.mark.parametrize("text,needle", [
    ('[slurm]\ntimeout_s = "slow"\n', "slurm.timeout_s: expected float, found str 'slow'"),
    ('[devcluster]\nnodes = 2.5\n', "devcluster.nodes: expected int"),
    ('[slurmm]\nconf = "x"\n', "'slurmm' was unexpected"),
    ('[slurm]\ntimeout_s = 0\n', "slurm.timeout_s"),
    ('[slurm\n', "not valid TOML"),
])
def test_malformed_config_names_key_and_type(tmp_path, text, needle):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as err:
        config.load(path)
    assert needle in str(err.value)


def test_config_show_cli(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[devcluster]\nnodes = 3\n')
    out = sdiag("config", "show", "--json", env={"SDIAG_CONFIG": str(path)})
    doc = json.loads(out.stdout)
    assert doc["values"]["devcluster"]["nodes"] == 3 and doc["sources"]["devcluster.nodes"] == f"file:{path}"
    text = sdiag("config", "show", env={"SDIAG_CONFIG": str(path)}).stdout
    assert "devcluster.nodes" in text and f"file:{path}" in text


def test_bad_config_in_cli_is_exit_2_without_traceback(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[slurm]\ntimeout_s = "x"\n')
    out = sdiag("config", "show", env={"SDIAG_CONFIG": str(path)})
    assert out.returncode == 2 and "slurm.timeout_s" in out.stderr and "Traceback" not in out.stderr
    missing = sdiag("config", "show", env={"SDIAG_CONFIG": str(tmp_path / "nope.toml")})
    assert missing.returncode == 2 and "cannot read config" in missing.stderr


def test_version_and_help():
    assert sdiag("--version").stdout.strip().endswith(__version__)
    helptext = sdiag("--help").stdout
    assert "Exit codes" in helptext and "devcluster" in helptext and "job" in helptext
    assert sdiag("no-such-command").returncode == 2


def test_schemas_load_and_reject(tmp_path):
    for name in schemas.NAMES:
        assert schemas.load_schema(name)["$id"] == f"{name}.schema.json"
    assert "node_failure" in schemas.load_schema("attribution")["properties"]["label"]["enum"]
    assert set(schemas.load_schema("attribution")["properties"]["label"]["enum"]) == set(schemas.ATTRIBUTION_LABELS)
    problems = schemas.errors("proposal", {"id": "p", "action": "reboot", "target": "n",
                                           "reason": "r", "evidence": [], "state": "proposed"})
    assert problems and "action" in problems[0]


def test_devcluster_status_when_nothing_runs(tmp_path):
    out = sdiag("devcluster", "status", "--json", env={"SDIAG_HOME": str(tmp_path)})
    assert out.returncode == 0 and json.loads(out.stdout)["nodes"] == []
