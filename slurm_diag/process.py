"""The one way slurm-diag starts a process: an argv list (never a shell), a timeout on every wait,
and on timeout the whole process group killed, grandchildren included.

Stdlib only: the prolog imports it. The Slurm gateway (``slurm_diag.slurm.gateway``) wraps ``run``
with Slurm's typed errors; everything else calls ``run`` or ``spawn`` directly. ``call_in_child``
forks (no exec) for Python work that may block where no signal reaches, such as reading a job's
file on a hung mount.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from slurm_diag.errors import EnvironmentProblem

KILL_GRACE_S = 2.0   # between SIGTERM and SIGKILL to the group
_LEFT_BEHIND: list[int] = []   # call_in_child's children killed while they hung, reaped once they end


@dataclass(frozen=True)
class Completed:
    """A process that exited by itself (any return code)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float = 0.0


class ProgramNotFound(EnvironmentProblem):
    """The executable is missing (or not executable): nothing was started."""

    def __init__(self, argv: list[str], reason: str, *, hint: str | None = None):
        self.argv = list(argv)
        super().__init__(f"`{argv[0]}` could not be started: {reason}",
                         hint=hint or f"install {os.path.basename(argv[0])} or put it on PATH")


class ProcessTimeout(EnvironmentProblem):
    """The process ran past its timeout; its whole process group was killed."""

    def __init__(self, argv: list[str], timeout_s: float, stdout: str = "", stderr: str = "",
                 *, hint: str | None = None):
        self.argv = list(argv)
        self.timeout_s = timeout_s
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(f"`{' '.join(argv)}` ran past its {timeout_s:g} s limit and was killed "
                         "with its process group", hint=hint or "raise the timeout or see why it hangs")


def run(argv: list[str], *, timeout: float, env: dict[str, str] | None = None,
        input: str | None = None, cwd: str | Path | None = None, log: Path | None = None) -> Completed:
    """Run ``argv`` in its own session and wait at most ``timeout`` seconds.

    ``env`` adds to (and overrides) this process's environment. With ``log``, stdout and stderr
    are appended to that file instead of being captured. A non-zero exit is returned, not raised:
    callers decide what it means. Raises ProgramNotFound or ProcessTimeout.
    """
    argv = [str(a) for a in argv]
    start = time.monotonic()
    with _output(log) as out:
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=out, stderr=out if log is not None else subprocess.PIPE,
                text=True, encoding="utf-8", errors="replace",     # a job name or script in Latin-1 is still read
                env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True)
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            raise ProgramNotFound(argv, exc.strerror or str(exc)) from None
        try:
            stdout, stderr = proc.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            stdout, stderr = kill_group(proc)
            raise ProcessTimeout(argv, timeout, stdout or "", stderr or "") from None
    return Completed(tuple(argv), proc.returncode, stdout or "", stderr or "",
                     round(time.monotonic() - start, 3))


def spawn(argv: list[str], *, env: dict[str, str] | None = None, log: Path | None = None,
          pipes: bool = False) -> subprocess.Popen:
    """Start ``argv`` detached (own session, stdin closed) and return at once. Output goes to
    ``log`` or nowhere; with ``pipes`` the caller reads stdout/stderr (bytes) itself and must end
    it with ``abandon``. For daemons, the prolog's drainer and the GPU reader. Raises
    ProgramNotFound."""
    argv = [str(a) for a in argv]
    with _output(log, default=subprocess.DEVNULL) as out:
        try:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE if pipes else out,
                                    stderr=subprocess.PIPE if pipes else out,
                                    env={**os.environ, **(env or {})}, start_new_session=True, close_fds=True)
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            raise ProgramNotFound(argv, exc.strerror or str(exc)) from None


def abandon(proc: subprocess.Popen) -> None:
    """SIGKILL the process group of a spawned process, close its pipes, and reap it in the
    background only: a process stuck in an uninterruptible call dies when the call returns, which
    may be never, and the caller must not wait for that."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    for pipe in (proc.stdout, proc.stderr):
        if pipe:
            pipe.close()
    threading.Thread(target=proc.wait, name=f"reaper-{proc.pid}", daemon=True).start()


def kill_group(proc: subprocess.Popen, grace: float = KILL_GRACE_S) -> tuple[str | None, str | None]:
    """SIGTERM the process group, give it ``grace`` seconds, then SIGKILL whatever is left of the
    group (a grandchild that ignored SIGTERM too). Returns the output read so far."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        return proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        # a process that left our group still holds the pipes: stop reading, do not hang
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe:
                pipe.close()
        proc.wait()
        return None, None


class _output:
    """Open ``log`` for appending (created with its parent), or hand back ``default``."""

    def __init__(self, log: Path | None, default=subprocess.PIPE):
        self.log, self.default, self.fh = log, default, None

    def __enter__(self):
        if self.log is None:
            return self.default
        Path(self.log).parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.log, "ab")
        return self.fh

    def __exit__(self, *exc) -> None:
        if self.fh:
            self.fh.close()


def call_in_child(work, timeout: float) -> bytes | None:
    """``work()`` (bytes) run in a forked child: what it returned; b"" if it raised, was killed, or no
    child could be started; None if nothing came back within ``timeout`` seconds. For work that may
    block where no signal reaches (a file on a hung NFS, Lustre or FUSE mount): the child is then
    killed and left behind, not waited for, and this process can still exit. The child holds no
    descriptor of this process but its pipe, so a pipeline this process writes to ends when it does,
    whatever the child is stuck on. Python code only: nothing is exec'd."""
    _reap()
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:                                          # out of processes
        os.close(r)
        os.close(w)
        return b""
    if pid == 0:                                             # the child: work, write the answer, exit
        status = 1
        try:
            if w < 3:                                        # stdin/stdout/stderr were closed: keep the
                w = fcntl.fcntl(w, fcntl.F_DUPFD, 3)         # pipe clear of the /dev/null put there
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, w)
            os.closerange(w + 1, os.sysconf("SC_OPEN_MAX"))
            _write_all(w, work())
            status = 0
        finally:
            os._exit(status)
    os.close(w)
    chunks: list[bytes] = []
    waiting = select.poll()
    waiting.register(r, select.POLLIN | select.POLLHUP)
    deadline, extended = time.monotonic() + timeout, False
    try:
        while True:
            left = deadline - time.monotonic()
            if not waiting.poll(max(0, left) * 1000):
                if chunks and not extended:                  # it answered and is still writing: once more
                    deadline, extended = time.monotonic() + timeout, True
                    continue
                stopped = _state(pid) in ("T", "t")         # stopped by a signal or a tracer, not the filesystem
                _kill(pid)
                _LEFT_BEHIND.append(pid)
                return b"" if chunks or stopped else None
            chunk = os.read(r, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    except BaseException:                                    # ^C while waiting: the child goes too
        _kill(pid)
        _LEFT_BEHIND.append(pid)
        raise
    finally:
        os.close(r)
    return b"".join(chunks) if _exited_well(pid) else b""


def _exited_well(pid: int, wait: float = 5.0) -> bool:
    """Whether the child that closed its pipe exited 0, waiting at most ``wait`` seconds for it."""
    deadline = time.monotonic() + wait
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:            # SIGCHLD ignored: reaped by the kernel; its pipe said all
            return True
        if done:
            return os.waitstatus_to_exitcode(status) == 0
        if time.monotonic() > deadline:
            _kill(pid)
            _LEFT_BEHIND.append(pid)
            return False
        time.sleep(0.001)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _state(pid: int) -> str:
    """The process's state letter from /proc (R, S, D, T, ...); "" when it cannot be read."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _reap() -> None:
    for pid in list(_LEFT_BEHIND):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _LEFT_BEHIND.remove(pid)
