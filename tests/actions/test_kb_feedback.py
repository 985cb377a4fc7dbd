"""`actions kb-add ID`: an executed proposal's infra attribution goes into the knowledge base
through the existing `kb add` path, once."""

from __future__ import annotations

import pytest

from slurm_diag.actions import approve, propose

from tests.actions.helpers import AGENT, as_caller, attribution, health_finding, make
from tests.conftest import run_main


def test_kb_add_from_an_executed_proposal(tmp_path, monkeypatch, capsys):
    pytest.importorskip("chromadb", reason="the kb extra is not installed")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ctx = make(tmp_path, monkeypatch)
    found = [health_finding()]
    doc = propose(as_caller(ctx, AGENT), "drain", "node3", reason="gpu3 SM clock 200 MHz",
                  attribution=attribution(found), findings=found)
    code, out, err = run_main(capsys, "actions", "kb-add", doc["id"])
    assert code == 1 and "refused (state)" in err, err                  # not executed yet
    approve(ctx, doc["id"])
    code, out, err = run_main(capsys, "actions", "kb-add", doc["id"])
    assert code == 0 and out.startswith("added added-gpu-throttle-"), (out, err)
    assert "every user can read it" in out and "gpu3 SM clock 200 MHz" in out
    code, out, err = run_main(capsys, "actions", "kb-add", doc["id"])
    assert code == 0 and '"duplicate_of"' in out, out                    # the same signature once
    added = (tmp_path / "home" / "kb" / "added.jsonl").read_text()
    assert "gpu3 on node3 held at 200 MHz" in added
