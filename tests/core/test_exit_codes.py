"""One set of CLI exit codes, each meaning one thing; Nagios codes only behind `health check --nagios`."""

from __future__ import annotations

import re

import pytest

from slurm_diag import errors
from slurm_diag.cli import health_cmd
from slurm_diag.status import Status

from tests.conftest import run_main, sdiag

CODES = {"EXIT_OK": 0, "EXIT_FAILURE": 1, "EXIT_USAGE": 2, "EXIT_ENVIRONMENT": 3, "EXIT_REFUSED": 4}


def test_exit_code_constants_are_distinct_and_documented_in_help():
    assert {name: getattr(errors, name) for name in CODES} == CODES
    assert errors.PermissionRefused("another user's job").exit_code == 4
    assert errors.InternalError("x").exit_code == errors.EXIT_FAILURE
    help_text = sdiag("--help").stdout
    for code, words in [(0, "success"), (1, "found a problem"), (2, "bad input"), (3, "could not check"),
                        (4, "refused")]:
        assert re.search(rf"^\s+{code}\s+.*{words}", help_text, re.MULTILINE), (code, help_text)


@pytest.fixture
def check(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SDIAG_HOME", str(tmp_path))
    monkeypatch.delenv("SDIAG_CONFIG", raising=False)
    monkeypatch.delenv("SDIAG_GPU_PROFILE", raising=False)
    return lambda *args: run_main(capsys, "health", "check", *args)


# (arguments, exit code, exit code with --nagios)
CASES = [
    (["--profile", "h100-8-healthy"], 0, 0),                                   # OK
    (["--profile", "h100-8-throttled-gpu3"], 1, 2),                            # CRITICAL: a problem found
    (["--profile", "h100-8-xid79", "--only", "clocks"], 3, 3),                 # UNKNOWN: could not check
    (["--profile", "h100-8-healthy", "--level", "bogus"], 2, 3),               # bad input (click)
    (["--profile", "h100-8-healthy", "--only", "no_such_check"], 2, 3),        # bad input (ours)
    (["--profile", "no-such-profile"], 2, 3),                                  # bad input (profile)
]


@pytest.mark.parametrize("args,code,nagios", CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_health_check_exit_codes(check, args, code, nagios):
    got, out, err = check(*args)
    assert got == code, err
    got, out, err = check(*args, "--nagios")
    assert got == nagios, err
    assert "Traceback" not in err


def test_health_check_json_keeps_the_nagios_status(check):
    import json

    code, out, _ = check("--profile", "h100-8-throttled-gpu3", "--json")
    assert code == 1 and json.loads(out)["status"] == "CRITICAL"
    code, out, _ = check("--profile", "h100-8-xid79", "--only", "clocks", "--json")
    assert code == 3 and json.loads(out)["status"] == "UNKNOWN"


def test_every_status_maps_to_one_cli_code_that_never_means_bad_input():
    plain = {s: health_cmd.check_exit_code(s) for s in Status}
    assert plain == {Status.OK: 0, Status.WARN: 1, Status.CRITICAL: 1, Status.UNKNOWN: 3}
    assert errors.EXIT_USAGE not in plain.values()
    assert {s: health_cmd.check_exit_code(s, nagios=True) for s in Status} == {
        Status.OK: 0, Status.WARN: 1, Status.CRITICAL: 2, Status.UNKNOWN: 3}


@pytest.mark.parametrize("args", [["--help"], ["explain", "--log", "-"]])
def test_a_reader_that_went_away_is_not_a_problem_found(args, tmp_path):
    """`sdiag-agent ... | head`: the reader closes the pipe; the command ends as a shell reports any
    program SIGPIPE ended (141), quietly, rather than with exit 1 ("found a problem")."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)                                   # the reader is gone before the first line
    log = "Traceback (most recent call last):\n  File \"t.py\", line 1\nValueError: bad\n" * 2000
    env = {**os.environ, "SDIAG_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "slurm_diag", *args], stdout=write, stderr=subprocess.PIPE,
                          input=log.encode(), timeout=120, env=env)
    os.close(write)
    assert done.returncode == errors.EXIT_READER_GONE, done.stderr
    assert b"Traceback" not in done.stderr and b"Exception ignored" not in done.stderr, done.stderr
