"""Users see only their own jobs: an ordinary user (created with useradd) explains their own failed
job on the local cluster, is refused another user's job (exit 4, a clear message), and root sees
both. Identity is the caller's uid: nothing in the environment changes it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from slurm_diag.errors import EXIT_REFUSED
from tests.conftest import sdiag
from tests.core import unix_user
from tests.core.test_real_users import _env, _sdiag, _wait_accounted, user  # noqa: F401 (fixture)

pytestmark = pytest.mark.cluster


def test_a_user_explains_their_own_job_and_not_roots(user, devcluster, cluster_env, slurm):  # noqa: F811
    mine = unix_user.run_as(user, [shutil.which("sbatch"), "--parsable", "--job-name", "sdiag-explain-mine",
                                   "--wrap", "python3 -c 'import definitely_missing_module'"],
                            env=_env(user, devcluster))
    assert mine.returncode == 0, mine.stderr
    mine_id = mine.stdout.strip().split(";")[0]
    _wait_accounted(user, devcluster, mine_id)
    roots = subprocess.run(["sbatch", "--parsable", "--chdir=/tmp", "-o", "/dev/null", "--wrap", "exit 5"],
                           capture_output=True, text=True, timeout=30,
                           env={"PATH": "/usr/bin:/bin", "SLURM_CONF": str(devcluster.slurm_conf)})
    root_id = roots.stdout.strip()
    slurm.wait(root_id, timeout=60)

    own = _sdiag(user, devcluster, "explain", mine_id, "--json")
    assert own.returncode == 0 and "Traceback" not in own.stderr, own.stderr
    a = json.loads(own.stdout)["attribution"]
    assert (a["label"], a["scope"]) == ("software_env", "user"), a
    # the store's password is root's: the user's explain says what it could not read, not a traceback
    assert any("health" in item for item in json.loads(own.stdout)["not_checked"])

    refused = _sdiag(user, devcluster, "explain", root_id)
    assert refused.returncode == EXIT_REFUSED, (refused.returncode, refused.stderr)
    assert f"job {root_id} belongs to root" in refused.stderr and "Traceback" not in refused.stderr
    forged = unix_user.run_as(user, [shutil.which("sdiag-agent") or "sdiag-agent", "explain", root_id],
                              env=_env(user, devcluster) | {"USER": "root", "LOGNAME": "root", "SUDO_UID": "0"})
    assert forged.returncode == EXIT_REFUSED, "identity must come from the uid, not the environment"

    assert sdiag("explain", mine_id, env=cluster_env).returncode == 0       # root sees every job
