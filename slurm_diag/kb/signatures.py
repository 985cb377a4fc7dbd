"""Signature matching: pure regex over bounded, cleaned lines; no chromadb, cheap enough for any
path. Patterns are vetted when loaded so a bad entry cannot backtrack catastrophically.

This module knows nothing of where entries come from (``entries`` imports it to vet patterns,
never the other way round)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from slurm_diag.kb.sanitize import DEFAULT_MAX_BYTES, clean_text

MAX_PATTERN_CHARS = 300
# a group that contains a quantifier and is itself quantified: (a+)+, (\d+\s)*, (x{2,})+
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?<!\\)[*+}](?:[^()\\]|\\.)*\)(?:[*+]|\{\d*,)")
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")


# a regex \n: a backslash and n after an even number of backslashes (an escaped backslash before
# an n, "\\n", is a log line's literal backslash-n and matches on one line)
_NEWLINE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\n")


class PatternError(ValueError):
    """A signature is not a safe, valid single-line regex."""


def vet_pattern(pattern: str) -> re.Pattern:
    """Compile a signature or say why it is refused (invalid, too long, nested quantifier,
    backreference, or multi-line)."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"pattern is {len(pattern)} chars, at most {MAX_PATTERN_CHARS}")
    if "\n" in pattern or _NEWLINE_ESCAPE.search(pattern):
        raise PatternError("signatures match one line; remove the newline")
    if _NESTED_QUANTIFIER.search(pattern):
        raise PatternError("nested quantifier such as (a+)+ can backtrack catastrophically")
    if _BACKREFERENCE.search(pattern):
        raise PatternError("backreferences are not allowed")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise PatternError(f"invalid regex: {exc}") from None


@lru_cache(maxsize=4096)
def compiled(pattern: str) -> re.Pattern:
    return vet_pattern(pattern)


@dataclass(frozen=True)
class SignatureHit:
    entry_id: str
    label: str
    pattern: str
    line: str          # the (cleaned, shortened) log line that matched


def scan(lines: list[str], entries: Iterable, limit_per_entry: int = 3) -> list[SignatureHit]:
    """Every (entry, pattern) that matches a line; lines are already cleaned."""
    hits: list[SignatureHit] = []
    for entry in entries:
        found = 0
        for pattern in entry.signatures:
            rx = compiled(pattern)
            for line in lines:
                if rx.search(line):
                    hits.append(SignatureHit(entry.id, entry.label, pattern, line[:300]))
                    found += 1
                    break
            if found >= limit_per_entry:
                break
    return hits


def match_signatures(text: str, entries: Iterable, max_bytes: int | None = None) -> list[SignatureHit]:
    """Which of ``entries``' signatures match this (untrusted) log text. Needs no chromadb.
    (``slurm_diag.kb.match_signatures`` loads the knowledge base's own entries when given none.)"""
    cleaned = clean_text(text, max_bytes or DEFAULT_MAX_BYTES)
    lines = [ln for ln in cleaned.split("\n") if ln.strip()]
    return scan(lines, entries)
