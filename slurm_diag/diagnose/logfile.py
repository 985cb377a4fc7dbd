"""A job's own output, read as untrusted data in bounded memory.

Only the last ``max_bytes`` of a file are read (a seek, not a scan), so a 10 GB log costs what a
10 KB one does; bytes are decoded leniently, ANSI and control characters stripped, lines cut. A
file that cannot be read, is empty, or looks binary is reported as such: the caller turns that
into an UNKNOWN finding instead of skipping the source. The path is the job owner's to name: only
a regular file is read, and for anyone else only a file its owner could read. A file on a mount
that stopped answering costs a bounded wait, not a hung command.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from slurm_diag import process
from slurm_diag.kb.sanitize import clean_text

DEFAULT_MAX_BYTES = 256 * 1024
BINARY_RATIO = 0.10          # more than this share of NUL / undecodable bytes: not a text log


@dataclass(frozen=True)
class LogText:
    path: str | None
    lines: tuple[str, ...]
    size: int | None             # the file's size in bytes (None when unknown)
    truncated: bool              # only the tail was read
    problem: str | None = None   # why nothing usable was read: missing, unreadable, binary, empty

    @property
    def usable(self) -> bool:
        return self.problem is None

    def text(self) -> str:
        return "\n".join(self.lines)


def from_text(text: str | bytes, max_bytes: int = DEFAULT_MAX_BYTES, path: str | None = None) -> LogText:
    """A log given as text (stdin, a ticket): the same cleaning as a file."""
    raw = text if isinstance(text, bytes) else text.encode("utf-8", errors="replace")
    return _decode(raw[-max_bytes:], size=len(raw), truncated=len(raw) > max_bytes, path=path)


READ_TIMEOUT_S = 10.0          # a file that has not answered by then is on a filesystem that hangs


def read_tail(path: str, max_bytes: int = DEFAULT_MAX_BYTES, for_user: str | None = None,
              timeout: float | None = None) -> LogText:
    """The last ``max_bytes`` of the regular file ``path``. A FIFO, device or socket is not read (a
    job may name one as its output; reading it could block or never end).

    ``for_user``: the job's owner ("" when accounting does not say), when the caller may be someone
    else (root, an approver, the agent). The path is the owner's to name, so a file that user could
    not read is not read for them either; None only for a path the caller named themselves.

    The file is read by a forked child (slurm_diag.process.call_in_child), given ``timeout`` seconds
    (READ_TIMEOUT_S by default): a hung NFS, Lustre or FUSE mount leaves a process in uninterruptible
    sleep, which no signal ends; in a thread of this process it would keep this one from exiting. A
    child that has not answered is killed and left behind; later reads under the same mount (on a
    local filesystem, the same directory: _hung_at) are refused at once instead of waiting again.
    """
    def problem(text: str) -> LogText:
        return LogText(path, (), None, False, text)

    if path == os.devnull:
        return problem(f"the job sent this output to {os.devnull}: there is none to read")
    reader = None
    if for_user is not None:
        reader = _reader(path, for_user)
        if isinstance(reader, str):
            return problem(reader)
    try:
        answer = _answer([path], lambda: _framed(_read_raw(path, max_bytes, reader)), timeout, "read")
    except Unanswered as exc:
        return problem(f"{path} was not read: {exc} (a hung NFS, Lustre or FUSE mount?): check that mount on this "
                       f"host" if exc.hung else f"cannot read {path}: {exc}")
    if answer[:1] == b"R" and len(answer) >= 9:
        size = int.from_bytes(answer[1:9], "big")
        return _decode(answer[9:], size=size, truncated=size > max_bytes, path=path)
    return problem(answer[1:].decode("utf-8", "replace"))


NO_CHILD = ("the process slurm-diag reads a job's files in could not start or was killed; try again, and if "
            "it persists check this user's process limit (ulimit -u)")


class Unanswered(Exception):
    """The child could not tell: its filesystem did not answer (``hung``), or the work could not run."""

    def __init__(self, text: str, hung: bool):
        super().__init__(text)
        self.hung = hung


def within(work, paths: list[str], timeout: float | None = None):
    """``work()`` (which looks at ``paths`` and returns something JSON can carry) run where a hung
    filesystem cannot hold this process, as read_tail reads. Unanswered says why not: one of
    ``paths`` lies on a mount that did not answer (now or earlier in this run), or no child ran it."""
    import json

    try:
        return json.loads(_answer(paths, lambda: json.dumps(work()).encode(), timeout, "look"))
    except Unanswered as exc:
        raise Unanswered(f"{exc} (a hung mount?)", True) if exc.hung else exc


def _answer(paths: list[str], work, timeout: float | None, doing: str) -> bytes:
    """``work()``'s bytes from a child (process.call_in_child), unless one of ``paths`` lies where a
    filesystem did not answer an earlier ``doing``; a new timeout marks their places (_hung_at)."""
    wheres = [os.path.abspath(p) for p in paths]
    hung = next((h for w in wheres if (h := _known_hung(w)) is not None), None)
    if hung is not None:
        raise Unanswered(f"{hung} did not answer an earlier {doing} within {_HUNG[hung][0]:g} s", True)
    timeout = _timeout(timeout)
    answer = process.call_in_child(work, timeout)
    if answer is None:
        for w in wheres:
            _HUNG[_hung_at(w)] = (timeout, time.monotonic())
        raise Unanswered(f"its filesystem did not answer within {timeout:g} s", True)
    if not answer:
        raise Unanswered(NO_CHILD, False)
    return answer


def _known_hung(where: str) -> str | None:
    for place in [p for p, (_, when) in _HUNG.items() if time.monotonic() - when > HUNG_FOR_S]:
        del _HUNG[place]                 # a long-running agent tries a mount again once in a while
    return next((d for d in _HUNG if where == d or where.startswith(d.rstrip("/") + "/")), None)


def _timeout(asked: float | None) -> float:
    """The wait for one more file: READ_TIMEOUT_S, cut to 1 s once three places have hung in this
    run, so a pass over many jobs on a dead filesystem (each directory its own symlink) stays short."""
    timeout = READ_TIMEOUT_S if asked is None else asked
    return min(timeout, 1.0) if len(_HUNG) >= 3 else timeout


def _framed(got: tuple[bytes, int] | str) -> bytes:
    """_read_raw's answer as bytes: P and the problem, or R, the size in 8 bytes and the tail."""
    if isinstance(got, str):
        return b"P" + got.encode("utf-8", "replace")
    return b"R" + got[1].to_bytes(8, "big") + got[0]


_HUNG: dict[str, tuple[float, float]] = {}   # mount points (or directories) that did not answer: (the
                                             # time waited, when), remembered for HUNG_FOR_S
HUNG_FOR_S = 600.0


def _hung_at(path: str) -> str:
    """What a read of ``path`` that did not answer marks as hung: its mount point where that is a
    network, automounted or FUSE filesystem (every file on it would hang alike), else only the file's
    directory (a local path may be a symlink into the hung mount, or a slow disk), and never "/"
    itself. From MOUNTINFO, which asks no filesystem; where mounts are stacked, the top one."""
    try:
        with open(MOUNTINFO, encoding="utf-8", errors="replace") as fh:
            mounts = [(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split(" ")[4]),
                       line.split(" - ", 1)[1].split(" ")[0]) for line in fh if " - " in line and line.count(" ") >= 5]
    except (OSError, IndexError):
        mounts = []
    under = [m for m in mounts if path == m[0] or path.startswith(m[0].rstrip("/") + "/")]
    longest = max((len(point) for point, _ in under), default=0)
    point, kind = [m for m in under if len(m[0]) == longest][-1] if under else ("", "")
    if point != "/" and (kind in REMOTE or kind.startswith("fuse")):
        return point
    return os.path.dirname(path) if os.path.dirname(path) != "/" else path


MOUNTINFO = "/proc/self/mountinfo"
# filesystems whose files hang together when their server or daemon stops answering
REMOTE = frozenset("autofs nfs nfs4 lustre gpfs cifs smb3 beegfs ceph glusterfs 9p afs panfs wekafs orangefs "
                   "pvfs2 ocfs2 gfs2 cvfs".split())


def _read_raw(path: str, max_bytes: int, reader: tuple[str, int, int, set[int]] | None) -> tuple[bytes, int] | str:
    """The last ``max_bytes`` of ``path`` and its size, or why not. Touches the filesystem; run in the
    child. As root, for another user, the child first becomes that user (their uid and groups), so
    the kernel itself decides what they may read (ACLs, an NFS export that squashes root); otherwise
    the file's and its directories' permission bits are checked for them."""
    became = reader is not None and _become(reader)
    try:
        # O_PATH: a handle on the file without opening it, so a device the path names (a watchdog, a
        # tape) is not opened at all; the file is opened for reading only once it is known to be regular
        handle = os.open(path, os.O_PATH)
    except FileNotFoundError:
        return f"{path} does not exist (deleted, purged, or on another node)"
    except PermissionError as exc:
        return _refused(path, reader) if became else f"cannot read {path}: {exc.strerror or exc}"
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    try:
        st = os.fstat(handle)
        if stat.S_ISDIR(st.st_mode):
            return f"{path} is a directory, not a log file"
        if not stat.S_ISREG(st.st_mode):
            return f"{path} is not a regular file (a FIFO, device or socket): not read"
        refused = _not_theirs(path, st, *reader[:2], reader[3]) if reader is not None and not became else None
        if refused:
            return refused
        try:
            fd = os.open(f"/proc/self/fd/{handle}", os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except FileNotFoundError:
            return (f"cannot read {path}: /proc is not mounted here, and slurm-diag opens a job's "
                    "file through it once it is known to be a regular file")
    except PermissionError as exc:
        return _refused(path, reader) if became else f"cannot read {path}: {exc.strerror or exc}"
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    finally:
        os.close(handle)
    try:
        size = st.st_size
        if size > max_bytes:
            os.lseek(fd, size - max_bytes, os.SEEK_SET)
        chunks, left = [], max_bytes
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks), size
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    finally:
        os.close(fd)


def _may(st: os.stat_result, uid: int, gids: set[int], bits: tuple[int, int, int]) -> bool:
    """Whether ``uid`` (in groups ``gids``) has the permission ``bits`` (user, group, other) on a file."""
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode & bits[0])
    if st.st_gid in gids:
        return bool(st.st_mode & bits[1])
    return bool(st.st_mode & bits[2])


def _become(reader: tuple[str, int, int, set[int]]) -> bool:
    """In the child: take the user's ids, where this process may (it runs as root)."""
    if os.geteuid() != 0:
        return False
    _, uid, gid, gids = reader
    try:
        os.setgroups(sorted(gids))
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    except (OSError, ValueError):      # forbidden (a container), or too many groups: the permission bits decide
        return os.geteuid() != 0 and os.getuid() == uid
    return True


def _refused(path: str, reader) -> str:
    return (f"{path} was not read: the job's user {reader[0]} may not read it, and slurm-diag reads a "
            f"job's output for someone else only where its owner could")


def _reader(path: str, user: str) -> tuple[str, int, int, set[int]] | str | None:
    """The job's ``user`` with their uid, group and groups, to read ``path`` as they could; None when that is the
    caller; why not when who they are cannot be told. Looked up here, not in the child: the user
    database may be a network service."""
    if not user:
        return (f"{path} was not read: accounting does not say whose job it was, so whether its owner "
                f"could read it cannot be told; give the file with --log")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return (f"{path} was not read: the job's user {user!r} has no account on this host, so whether "
                f"they could read it cannot be told; run explain as that user, or give the file with --log")
    if entry.pw_uid == os.geteuid():
        return None
    return user, entry.pw_uid, entry.pw_gid, set(os.getgrouplist(user, entry.pw_gid))


def _not_theirs(path: str, st: os.stat_result, user: str, uid: int, gids: set[int]) -> str | None:
    """Why ``user`` (``uid``, in ``gids``) could not read the open file ``st`` at ``path``, or None
    when the file and every directory above it let them."""
    real = os.path.realpath(path)
    try:
        same = os.stat(real)
        dirs = [os.stat(d) for d in Path(real).parents]
    except OSError as exc:
        return f"{path} was not read: cannot check who may read it ({exc.strerror or exc})"
    if (same.st_dev, same.st_ino) != (st.st_dev, st.st_ino):
        return f"{path} was not read: it changed while it was being opened"
    if not _may(st, uid, gids, (stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH)) or \
            not all(_may(d, uid, gids, (stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH)) for d in dirs):
        return _refused(path, (user,))
    return None


def _decode(raw: bytes, size: int, truncated: bool, path: str | None) -> LogText:
    if not raw.strip():
        return LogText(path, (), size, truncated, f"{path or 'the log'} is empty")
    if truncated:
        cut = raw.find(b"\n")
        raw = raw[cut + 1:] if 0 <= cut < len(raw) - 1 else raw     # drop the partial first line
    text = raw.decode("utf-8", errors="replace")
    bad = raw.count(b"\x00") + text.count("\ufffd")
    if bad > BINARY_RATIO * max(1, len(raw)):
        return LogText(path, (), size, truncated,
                       f"{path or 'the log'} looks binary ({bad} of {len(raw)} bytes are NUL or not UTF-8)")
    lines = tuple(line for line in clean_text(text, max_bytes=len(raw) + 1).split("\n"))
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return LogText(path, lines, size, truncated)
