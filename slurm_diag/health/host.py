"""Host facts for the host checks: free space on paths, available memory (pure parse of meminfo)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class DiskFree:
    path: str
    free_gb: float | None
    total_gb: float | None
    error: str | None = None


def disk_free(path: str) -> DiskFree:
    try:
        st = os.statvfs(path)
    except OSError as exc:
        return DiskFree(path, None, None, f"{exc.strerror}")
    gb = 1024 ** 3
    return DiskFree(path, st.f_bavail * st.f_frsize / gb, st.f_blocks * st.f_frsize / gb)


def parse_meminfo(text: str) -> dict[str, int]:
    """kB values by key."""
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key.strip()] = int(parts[0])
    return out


def meminfo(path: str = "/proc/meminfo") -> dict[str, int]:
    with open(path) as fh:
        return parse_meminfo(fh.read())
