"""Every line of the message catalog (tests/data/messages) gets the catalog's label and scope, or,
where the team's convention differs, the answer recorded with its reason; and every line healthy
jobs print (benign.jsonl) names no cause; and every multi-line cascade (cascades.jsonl) is named for
its root cause, not its symptoms, or for the recorded convention."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slurm_diag.diagnose import engine, logfile
from slurm_diag.kb.entries import content_dir, load_dir

MESSAGES = Path(__file__).resolve().parents[1] / "data" / "messages"
LINES = [json.loads(text) for text in (MESSAGES / "catalog.jsonl").read_text().splitlines() if text.strip()]
CASCADES = [json.loads(text) for text in (MESSAGES / "cascades.jsonl").read_text().splitlines() if text.strip()]
BENIGN = [json.loads(text) for text in (MESSAGES / "benign.jsonl").read_text().splitlines() if text.strip()]
_KB: list = []


def kb():
    if not _KB:
        _KB.extend(load_dir(content_dir()))
    return _KB


def test_the_catalog_is_whole_and_every_difference_says_why():
    assert len(LINES) >= 1300
    labels = {r["label"] for r in LINES}
    assert {"gpu_hardware", "network", "filesystem", "host_oom", "node_failure", "scheduler"} <= labels
    for r in LINES:
        assert r["line"].strip() and r["source"].strip() and r["scope"] in ("user", "infra")
        if "engine" in r:
            assert len(r["engine"]["why"]) > 20 and (r["engine"]["label"], r["engine"]["scope"]) != (r["label"], r["scope"])


@pytest.mark.parametrize("entry", LINES, ids=[f"{r['family']}-{n}" for n, r in enumerate(LINES)])
def test_each_message(entry):
    want = entry.get("engine") or entry
    a = engine.diagnose_log(logfile.from_text(entry["line"]), kb_entries=kb).attribution
    assert a["label"] == want["label"], (entry["line"], a["explanation"])
    if want["label"] != "unknown":
        assert a["scope"] == want["scope"], (entry["line"], a["explanation"])


@pytest.mark.parametrize("entry", BENIGN, ids=[f"{r['family']}-{n}" for n, r in enumerate(BENIGN)])
def test_a_healthy_line_names_no_cause(entry):
    assert len(BENIGN) >= 200 and entry["why_benign"].strip()
    a = engine.diagnose_log(logfile.from_text(entry["line"]), kb_entries=kb).attribution
    assert a["label"] == "unknown", (entry["line"], a["explanation"])


@pytest.mark.parametrize("entry", CASCADES, ids=[f"cascade-{n}" for n in range(len(CASCADES))])
def test_each_cascade_is_named_for_its_root(entry):
    assert len(CASCADES) >= 160 and 3 <= len(entry["log"].splitlines()) <= 12
    assert entry["root_line"] in entry["log"] and (entry["root_line"] or entry["label"] == "unknown")
    want = entry.get("engine") or entry
    if "engine" in entry:
        assert len(entry["engine"]["why"]) > 20
    a = engine.diagnose_log(logfile.from_text(entry["log"]), kb_entries=kb).attribution
    assert a["label"] == want["label"], (entry["pattern"], a["explanation"])
    if want["label"] != "unknown":
        assert a["scope"] == want["scope"], (entry["pattern"], a["explanation"])
