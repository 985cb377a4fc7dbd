"""An ordinary user (created with useradd) runs the installed `sdiag-agent` on the real local
cluster: submits a job with sbatch and inspects it with `job` and `job --json`. Users read the
cluster's world-readable config but not the store's password."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest

from slurm_diag.devcluster import templates
from tests.conftest import REPO
from tests.core import unix_user

pytestmark = pytest.mark.cluster

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED"}


@pytest.fixture()
def user(devcluster):
    user = unix_user.ensure_user()
    cli = Path(sys.executable).parent / "sdiag-agent"
    unix_user.require_readable(user, cli, Path(sys.executable).resolve(), REPO / "slurm_diag" / "__init__.py",
                               devcluster.slurm_conf, devcluster.base / "etc" / "sdiag.toml")
    return user


def _env(user, devcluster) -> dict[str, str]:
    return unix_user.user_env(user, SLURM_CONF=str(devcluster.slurm_conf),
                              SDIAG_CONFIG=str(devcluster.base / "etc" / "sdiag.toml"))


def _sdiag(user, devcluster, *args: str):
    cli = str(Path(sys.executable).parent / "sdiag-agent")
    return unix_user.run_as(user, [cli, *args], env=_env(user, devcluster), timeout=60)


def _wait_accounted(user, devcluster, job_id: str) -> None:
    """Until accounting holds the ended job under its owner. (While a short job starts, slurmdbd
    may briefly show a placeholder row: name "allocation", user root, no partition.)"""
    deadline = time.monotonic() + 90
    while True:
        rows = unix_user.run_as(user, [shutil.which("sacct"), "-X", "-n", "-P", "-j", job_id, "-o", "User,State"],
                                env=_env(user, devcluster), timeout=30).stdout.split()
        if rows and rows[0].split("|")[0] == user.pw_name and rows[0].split("|")[1] in TERMINAL:
            return
        assert time.monotonic() < deadline, f"job {job_id} not accounted as ended: {rows}"
        time.sleep(0.5)


def test_user_submits_and_inspects_own_job(user, devcluster):
    marker = f"hello from {user.pw_name}"
    submitted = unix_user.run_as(user, [shutil.which("sbatch"), "--parsable", "--job-name", "sdiag-user-test",
                                        "--wrap", f"echo {marker}; exit 3"], env=_env(user, devcluster))
    assert submitted.returncode == 0, f"sbatch as {user.pw_name} failed: {submitted.stderr}"
    job_id = submitted.stdout.strip().split(";")[0]
    _wait_accounted(user, devcluster, job_id)
    shown = _sdiag(user, devcluster, "job", job_id, "--json")
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
    doc = json.loads(shown.stdout)
    assert (doc["user"], doc["state"], doc["exit_code"], doc["name"]) == (
        user.pw_name, "FAILED", 3, "sdiag-user-test"), f"sbatch said {submitted.stdout!r}; job shows {doc}"
    text = _sdiag(user, devcluster, "job", job_id)
    assert text.returncode == 0, text.stderr
    assert f"user {user.pw_name}" in text.stdout and "code 3" in text.stdout
    output = Path(user.pw_dir) / f"slurm-{job_id}.out"
    assert output.read_text().strip() == marker and output.stat().st_uid == user.pw_uid


def test_user_sees_config_but_not_the_store_password(user, devcluster):
    shown = _sdiag(user, devcluster, "config", "show")
    assert shown.returncode == 0, shown.stderr
    assert str(devcluster.slurm_conf) in shown.stdout and templates.DB_PASSWORD not in shown.stdout
    store = _sdiag(user, devcluster, "store", "info")
    assert store.returncode == 3 and "credentials file" in store.stderr, store.stderr
    assert "Traceback" not in store.stderr and templates.DB_PASSWORD not in store.stderr
