"""The process gateway: output and return code captured, a missing program typed, a timeout kills
the whole process group (grandchildren included), and the Slurm gateway maps these to Slurm errors."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from slurm_diag import process
from slurm_diag.slurm import gateway
from slurm_diag.slurm.errors import SlurmCommandError, SlurmNotInstalled, SlurmTimeout

# a child that starts a grandchild ignoring SIGTERM, writes both pids, and both sleep
FAMILY = r"""
import os, signal, subprocess, sys, time
out = sys.argv[1]
grand = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"])
with open(out + ".tmp", "w") as fh:
    fh.write(f"{os.getpid()} {grand.pid}\n")
os.rename(out + ".tmp", out)
print("started", flush=True)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_output_and_return_code_are_captured():
    done = process.run([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(7)"],
                       timeout=30)
    assert done.returncode == 7
    assert done.stdout == "out\n"
    assert done.stderr == "err\n"
    assert done.argv[0] == sys.executable
    assert done.duration_s >= 0


def test_bytes_that_are_not_utf8_are_replaced_not_raised():
    """A job's name or kept script in Latin-1 (sacct prints it as stored) must not end a lookup."""
    done = process.run([sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'caf\\xe9 ok')"], timeout=30)
    assert done.stdout == "caf\ufffd ok"


def test_input_and_env_reach_the_child():
    done = process.run([sys.executable, "-c", "import os, sys; print(sys.stdin.read() + os.environ['SDIAG_T'])"],
                       timeout=30, input="in-", env={"SDIAG_T": "env"})
    assert done.stdout.strip() == "in-env"


def test_log_receives_both_streams(tmp_path):
    log = tmp_path / "sub" / "daemon.log"
    done = process.run([sys.executable, "-c", "import sys; print('o'); print('e', file=sys.stderr)"],
                       timeout=30, log=log)
    assert done.returncode == 0 and done.stdout == ""
    assert sorted(log.read_text().split()) == ["e", "o"]


def test_missing_program_is_typed(tmp_path):
    with pytest.raises(process.ProgramNotFound) as err:
        process.run([str(tmp_path / "no-such-program"), "x"], timeout=5)
    assert "no-such-program" in err.value.message and err.value.hint
    with pytest.raises(process.ProgramNotFound):
        process.spawn([str(tmp_path / "no-such-program")])


def test_timeout_kills_the_whole_group(tmp_path):
    pids_file = tmp_path / "pids"
    with pytest.raises(process.ProcessTimeout) as err:
        process.run([sys.executable, "-c", FAMILY, str(pids_file)], timeout=6)
    child, grand = (int(p) for p in pids_file.read_text().split())
    # killed, not waited out: nothing of the group survives
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (_alive(child) or _alive(grand)):
        time.sleep(0.05)
    assert not _alive(child), f"child {child} survived the timeout"
    assert not _alive(grand), f"grandchild {grand} (ignores SIGTERM) survived the timeout"
    assert err.value.timeout_s == 6
    assert "started" in err.value.stdout   # what it printed before the kill is kept
    assert "ran past its 6 s limit" in err.value.message


def test_spawn_returns_at_once_detached(tmp_path):
    log = tmp_path / "spawned.log"
    proc = process.spawn([sys.executable, "-c", "import os; print(os.getsid(0) == os.getpid())"], log=log)
    assert proc.wait(timeout=30) == 0
    assert log.read_text().strip() == "True"          # its own session, away from the prolog's


def test_slurm_gateway_maps_errors(tmp_path):
    with pytest.raises(SlurmNotInstalled):
        gateway.run([str(tmp_path / "sinfo-missing")], timeout=5)
    with pytest.raises(SlurmTimeout) as err:
        gateway.run([sys.executable, "-c", "import time; time.sleep(60)"], timeout=1)
    assert "no answer within 1 s" in str(err.value)
    with pytest.raises(SlurmCommandError) as err:
        gateway.run([sys.executable, "-c", "import sys; sys.exit('bad node name')"], timeout=30)
    assert err.value.returncode == 1 and "bad node name" in err.value.stderr
    ok = gateway.run([sys.executable, "-c", "import sys; sys.exit(4)"], timeout=30, check=False)
    assert ok.returncode == 4


def test_spawned_with_pipes_is_abandoned_without_waiting(tmp_path):
    pids_file = tmp_path / "pids"
    proc = process.spawn([sys.executable, "-c", FAMILY, str(pids_file)], pipes=True)
    assert proc.stdout.readline() == b"started\n"
    child, grand = (int(p) for p in pids_file.read_text().split())
    process.abandon(proc)                                 # returns at once; SIGKILL to the group
    assert proc.stdout.closed and proc.stderr.closed
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (_alive(child) or _alive(grand)):
        time.sleep(0.05)
    assert not _alive(child) and not _alive(grand)


def test_no_other_module_starts_processes_itself():
    """Only the gateway calls subprocess/os.fork/os.exec*; everything else in the package goes
    through ``slurm_diag.process`` (``run`` or ``spawn``)."""
    import re

    starts = re.compile(r"\bsubprocess\.(Popen|run|call|check_call|check_output|getoutput|getstatusoutput)\("
                        r"|\bos\.(fork|forkpty|system|popen|spawn\w*|exec\w*|posix_spawn\w*)\("
                        r"|\bmultiprocessing\b|\bpty\.spawn\(")
    root = Path(process.__file__).parent
    offenders = [f"{path.relative_to(root.parent)}:{n}: {line.strip()}"
                 for path in sorted(root.rglob("*.py")) if path != Path(process.__file__)
                 for n, line in enumerate(path.read_text().splitlines(), 1) if starts.search(line)]
    assert offenders == [], "start processes through slurm_diag.process:\n" + "\n".join(offenders)


def test_work_in_a_child_answers_fails_or_is_given_up_on():
    """call_in_child: the work's bytes; b"" when it raised; None when it did not answer in time, and
    the child it gave up on is killed and reaped by a later call, not waited for."""
    import os

    assert process.call_in_child(lambda: b"x" * 300_000, timeout=10) == b"x" * 300_000   # more than a pipe holds
    assert process.call_in_child(lambda: str(os.getpid()).encode(), timeout=10) != str(os.getpid()).encode()
    assert process.call_in_child(lambda: 1 / 0, timeout=10) == b""
    assert process.call_in_child(lambda: os.kill(os.getpid(), 9) or b"never", timeout=10) == b""   # killed
    t0 = time.monotonic()
    assert process.call_in_child(lambda: time.sleep(60) or b"late", timeout=0.5) is None
    assert time.monotonic() - t0 < 3
    (left,) = process._LEFT_BEHIND
    deadline = time.monotonic() + 10
    while process._LEFT_BEHIND and time.monotonic() < deadline:
        process.call_in_child(lambda: b"", timeout=5)
        time.sleep(0.05)
    assert not process._LEFT_BEHIND and not _alive(left)


def test_work_in_a_child_answers_when_this_process_has_no_stdin_stdout_or_stderr(tmp_path):
    """A daemon started with 0, 1 and 2 closed gets its pipe back as one of them: the child must not
    put /dev/null over it."""
    import os
    import subprocess
    import sys

    out = tmp_path / "answer"
    code = ("import os, sys; from slurm_diag import process; "
            f"open({str(out)!r}, 'wb').write(process.call_in_child(lambda: b'answered', timeout=10))")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=Path(process.__file__).parents[1],
                   preexec_fn=lambda: [os.close(fd) for fd in (0, 1, 2)])
    assert out.read_bytes() == b"answered"


def test_a_child_stopped_by_a_signal_is_a_failure_not_a_hung_filesystem():
    """A job's user may stop the child that reads as them: that must not mark their mount hung."""
    import os
    import signal

    t0 = time.monotonic()
    assert process.call_in_child(lambda: os.kill(os.getpid(), signal.SIGSTOP) or b"never", timeout=0.5) == b""
    assert time.monotonic() - t0 < 3
