"""A job's own output, read as untrusted data in bounded memory.

Only the last ``max_bytes`` of a file are read (a seek, not a scan), so a 10 GB log costs what a
10 KB one does; bytes are decoded leniently, ANSI and control characters stripped, lines cut. A
file that cannot be read, is empty, or looks binary is reported as such: the caller turns that
into an UNKNOWN finding instead of skipping the source.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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


def read_tail(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> LogText:
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                fh.seek(size - max_bytes)
            raw = fh.read(max_bytes)
    except FileNotFoundError:
        return LogText(path, (), None, False, f"{path} does not exist (deleted, purged, or on another node)")
    except IsADirectoryError:
        return LogText(path, (), None, False, f"{path} is a directory, not a log file")
    except OSError as exc:
        return LogText(path, (), None, False, f"cannot read {path}: {exc.strerror or exc}")
    return _decode(raw, size=size, truncated=size > max_bytes, path=path)


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
