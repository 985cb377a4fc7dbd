"""Every shipped entry validates; malformed lines fail with file:line and the field."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from slurm_diag import schemas
from slurm_diag.kb import entries
from slurm_diag.kb.entries import EntryError, load_dir, load_file

GOOD = {"id": "t-1", "problemkey": ["xid", "test"], "rawtext": "NVRM: Xid 79 fallen off the bus",
        "function": "health.xid", "result": "drain the node and reseat", "label": "gpu_hardware",
        "scope": "infra", "component": "gpu", "severity": "critical", "signatures": ["fallen off the bus"],
        "action": "drain"}


def test_every_shipped_entry_matches_the_schema():
    """Every line as written (explain loads shipped lines without jsonschema: this is their check)."""
    shipped = load_dir(entries.SHIPPED_DIR)
    assert len(shipped) >= 150
    lines = [(f"{path.name}:{n}", line) for path in sorted(entries.SHIPPED_DIR.glob("*.jsonl"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if entries.is_entry_line(line)]
    assert len(lines) == len(shipped)
    for where, line in lines:
        assert schemas.errors("kb_entry", json.loads(line)) == [], where
    entries.check_unique(shipped)


def test_a_site_entry_is_held_to_the_schema_and_a_shipped_one_still_has_its_fields_and_patterns_checked(tmp_path):
    bad = {**GOOD, "label": "not-a-label"}
    site = tmp_path / "site.jsonl"
    site.write_text(json.dumps(bad) + "\n")
    with pytest.raises(EntryError, match="label"):
        load_file(site)
    missing = {k: v for k, v in GOOD.items() if k != "rawtext"}
    with pytest.raises(EntryError, match="a field is missing"):
        entries.parse_line(json.dumps(missing), "shipped.jsonl:1", shipped=True)
    with pytest.raises(EntryError, match="signatures/0"):
        entries.parse_line(json.dumps({**GOOD, "signatures": ["(a+)+$"]}), "shipped.jsonl:2", shipped=True)


def test_content_covers_every_label_and_the_operator_xids():
    shipped = load_dir(entries.SHIPPED_DIR)
    labels = Counter(e.label for e in shipped)
    assert set(labels) == set(schemas.ATTRIBUTION_LABELS)
    ids = {e.id for e in shipped}
    for xid in (13, 31, 43, 45, 48, 61, 62, 63, 64, 68, 74, 79, 92, 94, 95, 109, 119, 120):
        assert f"xid-{xid}" in ids
    topics = {p.stem for p in entries.SHIPPED_DIR.glob("*.jsonl")}
    assert {"xid", "nccl", "infiniband", "slurm", "filesystem", "perf_model"} <= topics


def test_each_xid_signature_matches_its_own_rawtext_and_not_another_number():
    for e in load_dir(entries.SHIPPED_DIR):
        if re.fullmatch(r"xid-\d+", e.id):
            rx = re.compile(e.signatures[0])
            assert rx.search(e.rawtext), e.id
            assert not rx.search(e.rawtext.replace(f": {e.id[4:]},", ": 999,")), e.id


def _write(tmp_path, *lines):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_json_names_file_and_line(tmp_path):
    path = _write(tmp_path, json.dumps(GOOD), "{not json")
    with pytest.raises(EntryError, match=re.escape(f"{path}:2") + ".*not valid JSON"):
        load_file(path)


def test_missing_field_names_file_line_and_field(tmp_path):
    bad = {k: v for k, v in GOOD.items() if k != "result"}
    path = _write(tmp_path, json.dumps(GOOD), "", json.dumps({**bad, "id": "t-2"}))
    with pytest.raises(EntryError) as info:
        load_file(path)
    assert f"{path}:3" in str(info.value) and "'result' is a required property" in str(info.value)


def test_wrong_label_names_the_field(tmp_path):
    path = _write(tmp_path, json.dumps({**GOOD, "label": "cosmic_rays"}))
    with pytest.raises(EntryError, match=re.escape(f"{path}:1") + ": label: 'cosmic_rays' is not one of"):
        load_file(path)


@pytest.mark.parametrize("pattern, reason", [
    ("(a+)+$", "nested quantifier"), (r"(\d+\s)*x", "nested quantifier"), ("([a-z", "invalid regex"),
    (r"(a)\1", "backreference"), ("x" * 301, "too long"),
])
def test_unsafe_signature_is_refused_with_its_index(tmp_path, pattern, reason):
    path = _write(tmp_path, json.dumps({**GOOD, "signatures": ["fine", pattern]}))
    with pytest.raises(EntryError, match=re.escape(f"{path}:1") + ".*signatures/1.*" + reason):
        load_file(path)


def test_duplicate_id_names_both_places(tmp_path):
    path = _write(tmp_path, json.dumps(GOOD), json.dumps(GOOD))
    with pytest.raises(EntryError, match="already used at .*bad.jsonl:1"):
        entries.check_unique(load_file(path))
