"""Literal anchors of a regular expression: text that every match must contain.

A 256 KB log tail is about 3,000 lines and there are about 50 signs: searching every sign's
pattern on every line costs a second and more. Most lines match nothing. Substring tests in C are a
hundred times cheaper than a search, so a sign is tried only on lines that contain one of its
anchors. The anchors come from the pattern's own parse tree, so they cannot drift from it:
- a run of three or more literal characters that every match goes through;
- for an alternation, one anchor from each branch.
A pattern with a branch that has no such run gets no anchors, and is tried on every line.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from re import _constants as c          # noqa: PLC2701 - the parse tree of re, stable within 3.11+
from re import _parser

MIN_RUN = 3
_REPEATS = tuple(getattr(c, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(c, name))


def _need(items) -> frozenset[str] | None:
    """A set of strings one of which every match of this sequence contains, or None."""
    candidates: list[frozenset[str]] = []
    run: list[str] = []

    def close() -> None:
        if len(run) >= MIN_RUN:
            candidates.append(frozenset(["".join(run)]))
        run.clear()

    for op, av in items:
        if op is c.LITERAL:
            run.append(chr(av))
            continue
        close()
        if op is c.BRANCH:
            sets = [_need(branch) for branch in av[1]]
            if all(s is not None for s in sets):
                candidates.append(frozenset().union(*sets))
        elif op is c.SUBPATTERN:
            inner = _need(av[-1])
            if inner is not None:
                candidates.append(inner)
        elif op in _REPEATS and av[0] >= 1:
            inner = _need(av[2])
            if inner is not None:
                candidates.append(inner)
    close()
    if not candidates:
        return None
    # the most selective: the fewest alternatives, then the longest shortest member
    return min(candidates, key=lambda s: (len(s), -min(len(x) for x in s)))


def of(pattern: re.Pattern) -> frozenset[str] | None:
    """The pattern's anchors, lowercased (compare with the lowercased line: a case-sensitive match
    is also a match of the lowercased text), or None when it has none (try it on every line)."""
    return of_source(pattern.pattern, pattern.flags)


def of_source(source: str, flags: int) -> frozenset[str] | None:
    """``of`` for a pattern not compiled yet (its parse is half the cost of compiling it)."""
    try:
        need = _need(_parser.parse(source, flags))
    except (re.error, TypeError, ValueError):
        return None
    return None if need is None else frozenset(a.lower() for a in need)


# Parsing a hundred patterns costs a few tenths of a second on every `explain`, so their anchors are
# kept in a table beside this module, keyed by each pattern's text and flags. A pattern the table
# does not know (a sign added or changed since) is parsed as before: the table saves time, never
# changes an answer. tests/diagnose/test_anchors.py checks it against the signs; regenerate it with
# `python -m slurm_diag.diagnose.anchors`.
TABLE = Path(__file__).with_name("anchor_table.json")
_table: dict | None = None


def _key(source: str, flags: int) -> str:
    return hashlib.sha256(f"{flags}\0{source}".encode()).hexdigest()[:20]


def cached(source: str, flags: int) -> frozenset[str] | None:
    """``of_source`` through the table (see above)."""
    global _table
    if _table is None:
        try:
            _table = json.loads(TABLE.read_text())
        except (OSError, ValueError):
            _table = {}
    key = _key(source, flags)
    if key not in _table:
        return of_source(source, flags)
    found = _table[key]
    return None if found is None else frozenset(found)


def write_table(patterns) -> int:
    """The table for ``patterns`` ((source, flags) pairs), written beside this module."""
    table = {}
    for source, flags in patterns:
        found = of_source(source, flags)
        table[_key(source, flags)] = None if found is None else sorted(found)
    TABLE.write_text(json.dumps(table, indent=0, sort_keys=True) + "\n")
    return len(table)


def may_match(anchors: frozenset[str] | None, lowered: str) -> bool:
    """Could a pattern with these anchors match the line whose lowercased text is ``lowered``?"""
    return anchors is None or any(a in lowered for a in anchors)


if __name__ == "__main__":
    from slurm_diag.diagnose import signs

    print(f"{write_table((s.source, s.flags) for s in signs.all_signs())} patterns in {TABLE}")
