"""Turning a confirmed attribution into an entry: derived signature, validation, de-duplication."""

from __future__ import annotations

import json
import re

import pytest

from slurm_diag.errors import UsageError
from slurm_diag.kb.add import entry_from_attribution, signature_from_excerpt
from slurm_diag.kb.entries import parse_line

ATTR = {"label": "network", "scope": "infra", "component": "infiniband", "confidence": 0.8,
        "supporting": [], "contradicting": [], "explanation": "cable fault on rail 3", "next_steps": ["replace cable"]}


def test_signature_generalises_numbers_and_drops_timestamp():
    sig = signature_from_excerpt("[Mon Mar  3 10:00:01 2025] mlx5_core 0000:c5:00.0: rail3 lost carrier 17 times\nother")
    assert re.search(sig, "mlx5_core 0000:a1:00.0: rail3 lost carrier 2 times")
    assert "Mon Mar" not in sig


def test_signature_drops_sruns_task_label_so_every_task_and_an_unlabelled_line_match():
    sig = signature_from_excerpt("31: slurmstepd: error: TaskProlog failed status=1")
    assert re.search(sig, "slurmstepd: error: TaskProlog failed status=1")
    assert re.search(sig, " 7: slurmstepd: error: TaskProlog failed status=2")


def test_entry_validates_and_carries_source():
    import json

    doc = entry_from_attribution({**ATTR, "job_id": "9"}, "ERROR rail3 lost carrier 17 times")
    entry = parse_line(json.dumps(doc), "test")
    assert entry.label == "network" and entry.action == "drain" and entry.source["job_id"] == "9"


def test_an_entry_keeps_only_the_lines_its_signature_matches_not_the_rest_of_the_jobs_log():
    excerpt = ("loading /home/alice/projects/secret-model/config.yaml\n"
               "epoch 3 loss 0.412 on /home/alice/data/patients.csv\n"
               "ERROR rail3 lost carrier 17 times\n"
               "ERROR rail3 lost carrier 18 times\n"
               "bye from alice")
    doc = entry_from_attribution(ATTR, excerpt)
    assert doc["rawtext"] == "ERROR rail3 lost carrier 17 times\nERROR rail3 lost carrier 18 times"
    assert "alice" not in json.dumps(doc)        # every user can read the site's entries


def test_an_entry_keeps_an_engines_explanation_without_the_log_line_it_quotes():
    engine_said = {**ATTR, "explanation": "the job ran out of host memory (OOM killer): slurmstepd: error: Detected "
                                         "1 oom-kill event in /home/alice/secret-run (stdout line 2)"}
    doc = entry_from_attribution(engine_said, "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=9.batch")
    assert doc["result"].startswith("the job ran out of host memory (OOM killer) Next:") and "alice" not in doc["result"]
    mine = entry_from_attribution(engine_said, "ERROR rail3 lost carrier 17 times", own_words=True)
    assert "alice" in mine["result"]                 # a person's own words are theirs to choose


def test_the_key_line_is_an_error_not_the_warning_before_it():
    sig = signature_from_excerpt("UserWarning: TypedStorage is deprecated\n"
                                 "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
    assert "OutOfMemoryError" in sig and "TypedStorage" not in sig


def test_a_line_with_a_literal_backslash_n_gets_a_signature_that_matches_it():
    line = 'ValueError: bad value "a\\nb" in /etc/app.conf'          # the two characters \ and n
    sig = signature_from_excerpt(line)
    assert re.search(sig, line)


def test_an_entry_from_a_signature_alone_says_what_it_is():
    doc = entry_from_attribution(ATTR, "", signature=r"rail\d+ lost carrier")
    assert doc["rawtext"] == r"rail\d+ lost carrier (network)"


def test_signature_must_match_the_excerpt():
    with pytest.raises(UsageError, match="does not match the excerpt"):
        entry_from_attribution(ATTR, "ERROR rail3 lost carrier", signature="something else")


def test_unsafe_signature_refused():
    with pytest.raises(UsageError, match="nested quantifier"):
        entry_from_attribution(ATTR, "aaaa", signature="(a+)+")


@pytest.mark.parametrize("excerpt,why", [
    ("ERROR rail3 \x00\x01\x02 lost carrier", "NUL byte"),
    ("ERROR rail3 lost carrier \udcff\udcfe", "not UTF-8"),
    ("ERROR rail3 lost carrier \ufffd\ufffd", "not UTF-8"),
    ("".join(chr(c) for c in range(1, 32) if c not in (9, 10, 13)) * 8 + "ERROR rail3", "control characters"),
])
def test_binary_excerpt_refused(excerpt, why):
    """A binary excerpt would become an entry with a binary regex that ranks first for unrelated
    searches: refuse it before anything is written."""
    with pytest.raises(UsageError, match=why):
        entry_from_attribution(ATTR, excerpt)


def test_kb_add_cli_refuses_a_binary_file_and_writes_nothing(tmp_path, kb_home):
    import json

    from .conftest import run_cli

    added = kb_home / "kb" / "added.jsonl"
    before = added.read_bytes() if added.exists() else b""
    (tmp_path / "attr.json").write_text(json.dumps(ATTR))
    (tmp_path / "core").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 16)
    res = run_cli("kb", "add", "--attribution", str(tmp_path / "attr.json"), "--excerpt", str(tmp_path / "core"),
                  home=kb_home)
    assert res.returncode == 2 and "expected a UTF-8 text log excerpt" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert (added.read_bytes() if added.exists() else b"") == before


def test_forget_changes_nothing_while_another_line_is_malformed_and_keeps_the_files_mode(tmp_path, monkeypatch):
    import json

    from slurm_diag import config
    from slurm_diag.kb.add import forget

    monkeypatch.setenv("SDIAG_HOME", str(tmp_path))
    cfg = config.load()
    one = entry_from_attribution(ATTR, "ERROR rail3 lost carrier 17 times")
    two = entry_from_attribution({**ATTR, "label": "filesystem", "scope": "infra"}, "gpfs0: fileset proj is full now")
    added = tmp_path / "kb" / "added.jsonl"
    added.parent.mkdir()
    broken = json.dumps(one) + "\n" + '{"id": "x", "signatures": 5}\n' + json.dumps(two) + "\n"
    added.write_text(broken)
    with pytest.raises(UsageError, match=r"added.jsonl:2"):
        forget(one["id"], cfg)
    assert added.read_text() == broken                                  # nothing changed

    added.write_text(json.dumps(one) + "\n" + json.dumps(two) + "\n")
    added.chmod(0o640)
    assert forget(one["id"], cfg) == {"forgotten": one["id"], "label": "network", "signature": one["signatures"][0]}
    assert added.read_text() == json.dumps(two) + "\n" and (added.stat().st_mode & 0o777) == 0o640
    with pytest.raises(UsageError, match="not among the entries this site added"):
        forget(one["id"], cfg)
