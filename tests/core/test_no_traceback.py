"""No traceback, ever: each way a file, a directory or an input can be broken, walked through the
real CLI in a subprocess. Each case asserts the documented exit code (2 bad input, 3 could not
check), a message that names the problem, no "Traceback" and no raw bytes on stderr.

The read-only cases run as an ordinary user (tests/core/unix_user.py), because root may write
anything; a knowledge base and a store built by root must still be readable by that user.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.core import unix_user
from tests.store.test_store import REPORT

XID79 = "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus."
BINARY = bytes(random.Random(8).randrange(256) for _ in range(512)) + b"\x00\xff\xfe"
WORDS = ["--label", "user_code", "--scope", "user", "--why", "the app's config holds a value it cannot parse"]


@dataclass
class Case:
    name: str
    args: list
    rc: int
    needle: str                       # in stderr (rc != 0) or stdout (rc == 0)
    home: str = "kbhome"              # which SDIAG_HOME under the fixture's base
    config: str = ""                  # SDIAG_CONFIG under the base ("" for none)
    stdin: bytes | None = None
    as_user: bool = False
    keeps: list[str] = field(default_factory=list)   # files that must survive (nothing lost)


CASES = [
    Case("binary config: config show", ["config", "show"], 2,
         "expected a UTF-8 TOML text file, found binary data", config="binary.toml"),
    Case("binary config: store info", ["store", "info"], 2,
         "expected a UTF-8 TOML text file, found binary data", config="binary.toml"),
    Case("corrupt sdiag.db: store info", ["store", "info"], 3, "is not a database", home="corrupt",
         keeps=["corrupt/sdiag.db"]),
    Case("corrupt sdiag.db: store ingest", ["store", "ingest"], 3, "is not a database", home="corrupt",
         keeps=["corrupt/sdiag.db", "corrupt/spool/health/1-node1-prolog-1.json"]),
    Case("read-only sdiag.db: store info", ["store", "info"], 0, "schema_version", as_user=True),
    Case("read-only sdiag.db: store ingest", ["store", "ingest"], 3, "is read-only for this user",
         as_user=True, keeps=["kbhome/spool/health/1-node1-prolog-1.json"]),
    Case("read-only SDIAG_HOME: kb search", ["kb", "search", XID79], 0, "xid-79", as_user=True),
    Case("read-only SDIAG_HOME: kb build", ["kb", "build"], 3,
         "cannot create or write the knowledge base", as_user=True),
    Case("SDIAG_HOME cannot be created: store info", ["store", "info"], 3, "cannot create", home="file/home"),
    Case("SDIAG_HOME cannot be created: kb search", ["kb", "search", XID79], 3,
         "cannot create or write the knowledge base", home="file/home"),
    Case("SDIAG_HOME cannot be created: kb build", ["kb", "build"], 3,
         "cannot create or write the knowledge base", home="file/home"),
    Case("invalid UTF-8 in kb search TEXT", ["kb", "search", XID79.encode() + b" \xff\xfe"], 0, "xid-79"),
    Case("invalid UTF-8 on kb search stdin", ["kb", "search", "--file", "-"], 0, "xid-79",
         stdin=XID79.encode() + b"\n\xc3\x28 \xff\n"),
    Case("invalid UTF-8 in kb add --text", ["kb", "add", "--attribution", "attr.json", "--text",
                                            b"Xid 79 \xff\xfe fallen off the bus"], 2, "not UTF-8"),
    Case("binary file in kb add --excerpt", ["kb", "add", "--attribution", "attr.json", "--excerpt", "blob"],
         2, "expected a UTF-8 text log excerpt, found"),
    Case("a literal backslash-n in kb add --text", ["kb", "add", *WORDS, "--text",
                                                   'ValueError: bad value "a\\nb" in /etc/app.conf'], 0, "added "),
    Case("a newline escape in kb add --signature", ["kb", "add", *WORDS, "--signature", "first line\\nsecond"],
         2, "remove the newline"),
]


def _run(base: Path, case: Case, user=None) -> subprocess.CompletedProcess:
    args = [a if isinstance(a, bytes) else (str(base / a) if a in ("attr.json", "blob") else a)
            for a in case.args]
    extra = {"SDIAG_HOME": str(base / case.home), "SDIAG_CONFIG": str(base / case.config) if case.config else "",
             "SDIAG_STORE_URL": ""}
    argv = [sys.executable, "-m", "slurm_diag", *args]
    if case.as_user:
        return unix_user.run_as(user, argv, env=unix_user.user_env(user, **extra), input=case.stdin)
    env = {**os.environ, "LANG": "C.UTF-8", "HF_HUB_OFFLINE": "1", **extra}
    done = subprocess.run(argv, env=env, input=case.stdin, capture_output=True, timeout=300)
    return subprocess.CompletedProcess(argv, done.returncode, done.stdout.decode("utf-8", "backslashreplace"),
                                       done.stderr.decode("utf-8", "backslashreplace"))


@pytest.fixture(scope="module")
def base():
    """Under /tmp (not pytest's root-only tmp dir) so that the ordinary user can reach it."""
    root = Path(tempfile.mkdtemp(prefix="sdiag-notb-"))
    root.chmod(0o755)
    (root / "binary.toml").write_bytes(BINARY)
    (root / "blob").write_bytes(BINARY)
    (root / "file").write_text("a file where SDIAG_HOME expects a directory\n")
    (root / "attr.json").write_text(json.dumps({"label": "gpu_hardware"}))
    for home in ("corrupt", "kbhome"):
        spool = root / home / "spool" / "health"
        spool.mkdir(parents=True)
        (spool / "1-node1-prolog-1.json").write_text(json.dumps(REPORT))
    (root / "corrupt" / "sdiag.db").write_bytes(BINARY * 8)
    env = {**os.environ, "SDIAG_HOME": str(root / "kbhome"), "SDIAG_CONFIG": "", "SDIAG_STORE_URL": "",
           "HF_HUB_OFFLINE": "1"}
    for argv in (["kb", "build"], ["store", "info"]):        # root builds the shared index and store
        done = subprocess.run([sys.executable, "-m", "slurm_diag", *argv], env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)      # readable by all, writable by root only
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_no_traceback(base, case):
    user = unix_user.ensure_user() if case.as_user else None
    if user:
        unix_user.require_readable(user, Path(sys.executable), base / "kbhome" / "sdiag.db")
    before = {name: (base / name).read_bytes() for name in case.keeps}
    out = _run(base, case, user)
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == case.rc, f"rc {out.returncode}, expected {case.rc}: {out.stderr}"
    shown = out.stdout if case.rc == 0 else out.stderr
    assert case.needle in shown, shown
    assert re.search(r"\\x[0-9a-fA-F]{2}", out.stderr) is None, f"raw bytes on stderr: {out.stderr}"
    assert all(ch.isprintable() or ch == "\n" for ch in out.stderr), out.stderr
    if case.rc:
        assert out.stderr.startswith("sdiag-agent: ") and "next:" in out.stderr, out.stderr
    for name, data in before.items():
        assert (base / name).read_bytes() == data, f"{name} changed or vanished"


def test_an_unexpected_error_is_one_printable_line(capsys, monkeypatch):
    """The last line of defence in main(): a bug is reported in one line (exit 1), its text
    escaped; SDIAG_DEBUG=1 brings the traceback back for a bug report."""
    from slurm_diag import config
    from tests.conftest import run_main

    def broken(*_a, **_k):
        raise RuntimeError("boom \x1b[31m\x00")

    monkeypatch.setattr(config, "load", broken)
    monkeypatch.delenv("SDIAG_DEBUG", raising=False)
    code, out, err = run_main(capsys, "config", "show")
    assert code == 1 and out == ""
    assert err.startswith("sdiag-agent: internal error: RuntimeError: boom \\x1b[31m\\x00\n"), err
    assert "SDIAG_DEBUG=1" in err and "Traceback" not in err
    monkeypatch.setenv("SDIAG_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        run_main(capsys, "config", "show")
