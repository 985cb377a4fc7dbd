"""Status ordered like Nagios; UNKNOWN means "could not check" and is never reported as OK."""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    OK = 0
    WARN = 1
    CRITICAL = 2
    UNKNOWN = 3

    @classmethod
    def worst(cls, statuses) -> "Status":
        """The status a set of results rolls up to: CRITICAL > UNKNOWN > WARN > OK."""
        rank = {cls.OK: 0, cls.WARN: 1, cls.UNKNOWN: 2, cls.CRITICAL: 3}
        found = list(statuses)
        return max(found, key=rank.__getitem__) if found else cls.OK
