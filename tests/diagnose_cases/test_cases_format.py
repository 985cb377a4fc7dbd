"""Format of the team's evaluation set (tests/data/cases/): every case file is well formed, its label is
in the fixed taxonomy, and its split follows the rule fixed in the README, so nobody can move a case
between dev and test by hand."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from slurm_diag.schemas import ATTRIBUTION_LABELS

CASES = Path(__file__).resolve().parents[1] / "data" / "cases"
FILES = sorted(CASES.glob("*/*.json"))
FIELDS = {"source", "url", "log", "label", "scope", "suspects", "confirmation", "scheduler", "tags", "split"}
SOURCE = re.compile(r"(?P<owner>[A-Za-z0-9][\w.-]*)/(?P<repo>[\w.-]+)#(?P<number>[0-9]+)")
NAME = re.compile(r"(?P<owner>[\w.-]+)__(?P<repo>[\w.-]+)__(?P<number>[0-9]+)(_[0-9]+)?\.json")


def split_for(source: str) -> str:
    """The split rule: sha256 of the source string, first byte even -> dev, odd -> test."""
    return "dev" if hashlib.sha256(source.encode()).digest()[0] % 2 == 0 else "test"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_are_enough_cases_for_every_label():
    counts = {label: 0 for label in ATTRIBUTION_LABELS}
    for path in FILES:
        counts[load(path)["label"]] += 1
    assert len(FILES) >= 120, f"expected at least 120 cases, found {len(FILES)}"
    thin = {label: n for label, n in counts.items() if n < 6}
    assert not thin, f"every label needs at least 6 cases; these have fewer: {thin}"


def test_both_splits_are_used():
    splits = {load(path)["split"] for path in FILES}
    assert splits == {"dev", "test"}, f"expected both splits, found {sorted(splits)}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_case_file_is_well_formed(path: Path):
    case = load(path)
    assert set(case) == FIELDS, f"fields differ from the format: missing {FIELDS - set(case)}, extra {set(case) - FIELDS}"
    assert case["label"] in ATTRIBUTION_LABELS, f"label {case['label']!r} is not in ATTRIBUTION_LABELS"
    assert path.parent.name == case["label"], f"file sits under {path.parent.name}/ but is labelled {case['label']}"
    assert case["scope"] in ("infra", "user"), f"scope must be infra or user, found {case['scope']!r}"
    source = SOURCE.fullmatch(case["source"])
    assert source, f"source must look like owner/repo#N, found {case['source']!r}"
    name = NAME.fullmatch(path.name)
    assert name and (name["owner"], name["repo"], name["number"]) == (source["owner"], source["repo"], source["number"]), \
        f"file name {path.name} does not match source {case['source']}"
    assert case["url"].startswith(f"https://github.com/{source['owner']}/{source['repo']}/"), \
        f"url {case['url']!r} does not point at {case['source']}"
    assert isinstance(case["log"], str) and case["log"].strip(), "log must be a non-empty string"
    assert isinstance(case["confirmation"], str) and len(case["confirmation"].split()) >= 5, \
        "confirmation must be a sentence saying what in the thread confirms the cause"
    assert isinstance(case["scheduler"], str) and case["scheduler"], "scheduler must be a non-empty string"
    assert isinstance(case["tags"], list) and all(isinstance(t, str) for t in case["tags"]), "tags must be a list of strings"
    suspects = case["suspects"]
    assert set(suspects) == {"nodes", "gpus", "xids"}, f"suspects must hold nodes, gpus and xids, found {sorted(suspects)}"
    assert all(isinstance(n, str) and n for n in suspects["nodes"]), "suspect nodes must be non-empty strings"
    for key in ("gpus", "xids"):
        assert all(type(v) is int and v >= 0 for v in suspects[key]), f"suspect {key} must be non-negative integers"
    for node in suspects["nodes"]:
        assert node in case["log"], f"suspect node {node!r} does not appear in the log"
    assert case["split"] == split_for(case["source"]), \
        f"split is {case['split']!r} but the rule (sha256 of the source, first byte even -> dev) gives {split_for(case['source'])!r}"


def test_no_case_is_duplicated():
    seen: dict[tuple[str, str], Path] = {}
    for path in FILES:
        case = load(path)
        key = (case["source"], " ".join(case["log"].split()))
        assert key not in seen, f"{path} repeats the source and log of {seen[key]}"
        seen[key] = path
