"""Status of a check or verdict, with ONE severity order: OK < WARN < UNKNOWN < CRITICAL.

The value is the Nagios plugin code (OK 0, WARN 1, CRITICAL 2, UNKNOWN 3), kept for monitoring
systems (`health check --nagios`); it is not an order. Comparisons, `max`, `sorted` and `worst`
use the severity: a fault found (CRITICAL) outranks "could not check" (UNKNOWN), which outranks a
warning, and UNKNOWN is never rolled up as OK. Status is deliberately not an int, so that no
code can compare or sort by the Nagios code by accident.
"""

from __future__ import annotations

import enum
import functools


@functools.total_ordering
class Status(enum.Enum):
    OK = 0
    WARN = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def nagios_code(self) -> int:
        """The Nagios plugin exit code of this status."""
        return self.value

    @property
    def severity(self) -> int:
        """Rank in the one severity order: OK 0 < WARN 1 < UNKNOWN 2 < CRITICAL 3."""
        return _SEVERITY[self]

    def __lt__(self, other):
        if not isinstance(other, Status):
            return NotImplemented
        return self.severity < other.severity

    @classmethod
    def worst(cls, statuses) -> "Status":
        """The status a set of results rolls up to (OK when there are none)."""
        return max(statuses, default=cls.OK)


_SEVERITY = {Status.OK: 0, Status.WARN: 1, Status.UNKNOWN: 2, Status.CRITICAL: 3}
