"""A job's own output, read as untrusted data in bounded memory.

Only the last ``max_bytes`` of a file are read (a seek, not a scan), so a 10 GB log costs what a
10 KB one does; bytes are decoded leniently, ANSI and control characters stripped, lines cut. A
file that cannot be read, is empty, or looks binary is reported as such: the caller turns that
into an UNKNOWN finding instead of skipping the source. The path is the job owner's to name: only
a regular file is read, and for anyone else only a file its owner could read.
"""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

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


def read_tail(path: str, max_bytes: int = DEFAULT_MAX_BYTES, for_user: str | None = None) -> LogText:
    """The last ``max_bytes`` of the regular file ``path``. A FIFO, device or socket is not read (a
    job may name one as its output; reading it could block or never end).

    ``for_user``: the job's owner ("" when accounting does not say), when the caller may be someone
    else (root, an approver, the agent). The path is the owner's to name, so a file that user could
    not read is not read for them either; None only for a path the caller named themselves.
    """
    def problem(text: str) -> LogText:
        return LogText(path, (), None, False, text)

    if path == os.devnull:
        return problem(f"the job sent this output to {os.devnull}: there is none to read")
    try:
        # O_PATH: a handle on the file without opening it, so a device the path names (a watchdog, a
        # tape) is not opened at all; the file is opened for reading only once it is known to be regular
        handle = os.open(path, os.O_PATH)
    except FileNotFoundError:
        return problem(f"{path} does not exist (deleted, purged, or on another node)")
    except OSError as exc:
        return problem(f"cannot read {path}: {exc.strerror or exc}")
    try:
        st = os.fstat(handle)
        if stat.S_ISDIR(st.st_mode):
            return problem(f"{path} is a directory, not a log file")
        if not stat.S_ISREG(st.st_mode):
            return problem(f"{path} is not a regular file (a FIFO, device or socket): not read")
        refused = _not_theirs(path, st, for_user) if for_user is not None else None
        if refused:
            return problem(refused)
        try:
            fd = os.open(f"/proc/self/fd/{handle}", os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except FileNotFoundError:
            return problem(f"cannot read {path}: /proc is not mounted here, and slurm-diag opens a job's "
                           "file through it once it is known to be a regular file")
    except OSError as exc:
        return problem(f"cannot read {path}: {exc.strerror or exc}")
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
        raw = b"".join(chunks)
    except OSError as exc:
        return problem(f"cannot read {path}: {exc.strerror or exc}")
    finally:
        os.close(fd)
    return _decode(raw, size=size, truncated=size > max_bytes, path=path)


def _may(st: os.stat_result, uid: int, gids: set[int], bits: tuple[int, int, int]) -> bool:
    """Whether ``uid`` (in groups ``gids``) has the permission ``bits`` (user, group, other) on a file."""
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode & bits[0])
    if st.st_gid in gids:
        return bool(st.st_mode & bits[1])
    return bool(st.st_mode & bits[2])


def _not_theirs(path: str, st: os.stat_result, user: str) -> str | None:
    """Why ``user`` could not read the open file ``st`` at ``path``, or None when they could (the
    caller is that user, or the file and every directory above it let them)."""
    if not user:
        return (f"{path} was not read: accounting does not say whose job it was, so whether its owner "
                f"could read it cannot be told; give the file with --log")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return (f"{path} was not read: the job's user {user!r} has no account on this host, so whether "
                f"they could read it cannot be told; run explain as that user, or give the file with --log")
    uid = entry.pw_uid
    if uid == os.geteuid():
        return None
    gids = set(os.getgrouplist(user, entry.pw_gid))
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
        return (f"{path} was not read: the job's user {user} may not read it, and slurm-diag reads a "
                f"job's output for someone else only where its owner could")
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
