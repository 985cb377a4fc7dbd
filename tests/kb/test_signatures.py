"""Signature matching is pure regex: no chromadb, bounded and cleaned input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from slurm_diag.kb.entries import Entry
from slurm_diag.kb.sanitize import DEFAULT_MAX_BYTES, MAX_LINE_CHARS, clean_text
from slurm_diag.kb.signatures import PatternError, match_signatures, scan, vet_pattern


def _entry(id_, *sigs, label="network"):
    return Entry(id=id_, problemkey=("k",), rawtext="r" * 10, function="health.x", result="r" * 10,
                 label=label, scope="infra", component="c", severity="info", signatures=sigs, action="none")


def test_match_signatures_on_shipped_entries_finds_xid_79_and_no_chromadb():
    code = ("import sys; from slurm_diag.kb import match_signatures; "
            "hits = match_signatures('kernel: NVRM: Xid (PCI:0000:3b:00): 79, pid=1, GPU has fallen off the bus.'); "
            "print(sorted({h.entry_id for h in hits})); "
            "print([m for m in ('chromadb', 'torch', 'onnxruntime', 'transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    ids, heavy = out.strip().splitlines()
    assert "xid-79" in ids and heavy == "[]"


def test_control_characters_and_ansi_are_stripped_and_size_capped():
    text = "\x1b[31mNCCL WARN\x1b[0m \x00bad\x07 line\r\n" + "x" * 5000
    cleaned = clean_text(text, max_bytes=2048)
    assert "\x1b" not in cleaned and "\x00" not in cleaned and "\x07" not in cleaned
    assert len(cleaned) <= 2048
    long_line = clean_text("y" * (MAX_LINE_CHARS * 3))
    assert len(long_line) == MAX_LINE_CHARS


def test_hit_reports_pattern_and_the_line():
    hits = scan(["foo", "ibv_poll_cq: IBV_WC_RETRY_EXC_ERR (12)"], [_entry("a", "RETRY_EXC_ERR"), _entry("b", "nope")])
    assert [(h.entry_id, h.pattern) for h in hits] == [("a", "RETRY_EXC_ERR")]
    assert "IBV_WC_RETRY_EXC_ERR" in hits[0].line


def test_hostile_input_is_bounded_before_any_regex_sees_it(monkeypatch):
    """No wall clock: the regexes see at most DEFAULT_MAX_BYTES in lines of at most MAX_LINE_CHARS,
    and a pattern that could backtrack catastrophically is refused before it is compiled."""
    from slurm_diag.kb import signatures

    entries = [_entry("a", r"Xid.{0,40}: 79\b", r"\bSXid \(", r"LnkSta:.{0,40}\(downgraded\)")]
    hostile = ("Xid " + "a" * 200000 + "\n") * 5 + "(" * 100000
    seen = []
    real_scan = signatures.scan
    monkeypatch.setattr(signatures, "scan", lambda lines, ents: seen.extend(lines) or real_scan(lines, ents))
    assert match_signatures(hostile, entries=entries) == []
    assert seen, "the lines never reached the scanner"
    assert max(len(line) for line in seen) <= MAX_LINE_CHARS
    assert sum(len(line) for line in seen) <= DEFAULT_MAX_BYTES
    for pattern in (r"(a+)+$", r"(\d+\s)*x", r"(x{2,})+", r"(a)\1"):
        with pytest.raises(PatternError):
            vet_pattern(pattern)


def test_signatures_does_not_import_entries():
    """entries imports signatures (to vet patterns); the reverse would be an import cycle."""
    import ast

    from slurm_diag.kb import signatures

    tree = ast.parse(open(signatures.__file__).read())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert not {m for m in imported if m and m.startswith("slurm_diag.kb.entries")}
    assert not any(m and m.startswith("slurm_diag.kb") and m.endswith(("api", "store", "add")) for m in imported)
