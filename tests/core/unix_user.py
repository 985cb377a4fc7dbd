"""An ordinary unix user for tests that must not run as root: created with useradd (idempotent,
left in place for the next run), commands run with its uid and gid and a clean environment."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

USER = "sdiag-test-user"


def ensure_user() -> pwd.struct_passwd:
    """The test user, created on first use. Skips when this process cannot create users."""
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pass
    if os.geteuid() != 0:
        pytest.skip(f"creating the test user {USER} needs root")
    done = subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER],
                          capture_output=True, text=True, timeout=30)
    if done.returncode not in (0, 9):          # 9: created meanwhile by another run
        pytest.fail(f"useradd {USER} failed (rc {done.returncode}): {done.stderr.strip()}")
    return pwd.getpwnam(USER)


def user_env(user: pwd.struct_passwd, **extra: str) -> dict[str, str]:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": user.pw_dir,
           "USER": user.pw_name, "LOGNAME": user.pw_name, "LANG": "C.UTF-8", "HF_HUB_OFFLINE": "1"}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return {**env, **extra}


def run_as(user: pwd.struct_passwd, argv: list, *, env: dict[str, str] | None = None,
           input: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``argv`` as ``user`` (its uid, its gid, no extra groups). Output comes back as text
    (undecodable bytes escaped, so a test can assert on them)."""
    done = subprocess.run(argv, user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd=user.pw_dir,
                          env=env if env is not None else user_env(user), input=input,
                          capture_output=True, timeout=timeout)
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode("utf-8", "backslashreplace"),
                                       done.stderr.decode("utf-8", "backslashreplace"))


def require_readable(user: pwd.struct_passwd, *paths: Path) -> None:
    """Fail with a clear message when the user cannot reach what the test needs (e.g. a checkout
    under a directory only root may enter)."""
    for path in paths:
        probe = run_as(user, ["test", "-r", str(path)], timeout=10)
        if probe.returncode != 0:
            pytest.fail(f"{USER} cannot read {path}: every directory above it must be o+x and the file "
                        f"o+r (the installed CLI, the checkout and the cluster's config must be reachable "
                        f"by ordinary users); move the checkout or run `chmod o+x` on its parents")
