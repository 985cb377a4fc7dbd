"""The local cluster refuses clearly when it cannot start: not root, packages missing."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from tests.conftest import sdiag


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv to drop to nobody")
def test_not_root_is_a_clear_error():
    import subprocess
    import tempfile

    home = tempfile.mkdtemp(prefix="sdiag-nobody-")
    os.chmod(home, 0o777)

    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          sys.executable, "-m", "slurm_diag", "devcluster", "up"],
                         capture_output=True, text=True, timeout=60,
                         env={"SDIAG_HOME": home, "PATH": os.environ["PATH"]})
    shutil.rmtree(home)
    assert out.returncode == 3, out.stderr
    assert "must be started as root" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the root check comes first")
def test_missing_packages_are_named(tmp_path):
    out = sdiag("devcluster", "up", env={"SDIAG_HOME": str(tmp_path), "PATH": str(tmp_path)})
    assert out.returncode == 3
    assert "missing Debian packages" in out.stderr and "slurmctld" in out.stderr and "make setup" in out.stderr
    assert not (tmp_path / "devcluster").exists()


def test_a_running_jobs_tasks_are_told_apart_by_their_node(tmp_path):
    """The local cluster's nodes share one kernel: `slow --running-jobs` finds a node's tasks by the
    SLURMD_NODENAME Slurm puts in each task's environment, and only that node's."""
    from slurm_diag.devcluster.cluster import tasks_on

    for pid, env in (("101", b"PATH=/bin\0SLURMD_NODENAME=node2\0SLURM_JOB_ID=7\0"),
                     ("102", b"SLURMD_NODENAME=node21\0"), ("103", b"SLURMD_NODENAME=node1\0"),
                     ("104", b"HOME=/root\0"),
                     ("106", b"SLURMD_NODENAME=node2\0SLURM_SCRIPT_CONTEXT=prolog_slurmd\0")):   # its prolog
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "environ").write_bytes(env)
    (tmp_path / "105").mkdir()                       # a process that ended: no environ to read
    assert tasks_on("node2", proc=tmp_path) == [101]
