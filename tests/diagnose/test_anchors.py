"""The literal prefilter of the signs: a sign is skipped on a line only when it could not match
there, so the engine's answers do not change, only its speed on long logs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from slurm_diag.diagnose import anchors, signs

CASES = Path(__file__).resolve().parents[1] / "data" / "cases"


@pytest.mark.parametrize("pattern, expected", [
    (r"fallen off the bus|GPU is lost", {"fallen off the bus", "gpu is lost"}),
    (r"Xid.*\b79\b", {"xid"}),                                  # one run suffices: every match has it
    (r"(?:Segmentation|Bus) fault", {" fault"}),
    (r"a.*b", None),                                            # no run of three: tried on every line
    (r"(?:timeout|time limit)|\bOOM\b", {"oom", "time"}),      # common prefixes are factored out
    (r"NCCL(?: WARN)?", {"nccl"}),                             # an optional part is never required
    (r"(?i)NCCL WARN", {"nccl warn"}),
])
def test_anchors_are_what_every_match_contains(pattern, expected):
    found = anchors.of(re.compile(pattern, re.IGNORECASE))
    assert (set(found) if found is not None else None) == expected


def _lines() -> list[str]:
    """Real lines (the dev split's logs: the test split is never read by anything but the bench)
    and lines built to match each sign through its less common branches."""
    lines = []
    for path in sorted(CASES.glob("*/*.json")):
        doc = json.loads(path.read_text())
        if doc.get("split") == "dev":
            lines += doc["log"].splitlines()
    from tests.diagnose import test_log_rules           # the rule tests' own lines, every branch they cover

    for fn in vars(test_log_rules).values():
        for mark in getattr(fn, "pytestmark", []):
            if mark.name == "parametrize":
                lines += [line for case in mark.args[1] for text in (case if isinstance(case, tuple) else (case,))
                          if isinstance(text, str) for line in text.splitlines()]
    lines += ["NVRM: Xid (PCI:0000:3b:00): 79, pid=1, GPU has fallen off the bus.",
              "slurmstepd: error: Detected 1 oom_kill event in StepId=5.batch", "Bus error (core dumped)",
              "OSError: [Errno 28] No space left on device", "CUDA out of memory. Tried to allocate 2.00 GiB",
              "EDAC MC0: 1 UE memory read error on DIMM_A1", "srun: error: node3: task 2: Killed"]
    return lines


def test_no_line_that_a_sign_matches_is_skipped():
    lines = _lines()
    assert len(lines) > 500
    missed = [(s.id, line) for line in lines for s in signs.all_signs()
              if s.pattern.search(line) and s.search(line, line.lower()) is None]
    assert missed == []
    matched = sum(1 for line in lines for s in signs.all_signs() if s.pattern.search(line))
    assert matched > 50                      # the lines do exercise the signs


def test_most_signs_have_anchors():
    without = [s.id for s in signs.all_signs() if s.anchors is None]
    assert len(without) <= len(signs.all_signs()) // 10, without


def test_the_anchor_table_knows_every_sign_as_its_parse_does():
    """The table only saves the parse at import; it must say what the parse says, for every sign.
    Regenerate it with `python -m slurm_diag.diagnose.anchors` after changing a sign."""
    import json

    table = json.loads(anchors.TABLE.read_text())
    for s in signs.all_signs():
        key = anchors._key(s.source, s.flags)
        assert key in table, f"sign {s.id} is not in {anchors.TABLE.name}: run python -m slurm_diag.diagnose.anchors"
        fresh = anchors.of_source(s.source, s.flags)
        assert (set(table[key]) if table[key] is not None else None) == (set(fresh) if fresh is not None else None), s.id
        assert s.anchors == fresh, s.id


def test_a_pattern_the_table_does_not_know_is_parsed():
    assert anchors.cached(r"brand new sign text", re.IGNORECASE) == {"brand new sign text"}


def test_the_candidate_index_finds_exactly_what_every_sign_would():
    """signs.candidates (first three characters of each anchor) against trying every sign on every
    line of the message lists: the same matches, in the same order."""
    import json
    from pathlib import Path

    from slurm_diag.diagnose import signs

    messages = Path(__file__).resolve().parents[1] / "data" / "messages"
    lines = []
    for name in ("catalog.jsonl", "benign.jsonl", "cascades.jsonl"):
        for text in (messages / name).read_text().splitlines():
            doc = json.loads(text)
            lines += (doc.get("line") or doc.get("log", "")).splitlines()
    assert len(lines) > 2500
    for line in lines:
        lowered = line.lower()
        every = [s.id for s in signs.all_signs() if s.search(line, lowered)]
        assert [s.id for s in signs.candidates(lowered) if s.pattern.search(line)] == every, line
