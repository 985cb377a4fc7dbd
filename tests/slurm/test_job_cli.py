"""`sdiag-agent job` refuses what is not a job id before asking Slurm: exit 2, naming the forms."""

from __future__ import annotations

import pytest

from tests.conftest import run_main


@pytest.mark.parametrize("text", ["_", ".", "1..2", "1_", "_1", "12.batch", "1_[1-3]", "0", "; rm -rf /"])
@pytest.mark.parametrize("as_json", [False, True])
def test_not_a_job_id_is_bad_input(capsys, monkeypatch, tmp_path, text, as_json):
    # a slurm.conf that points nowhere: the id must be refused before any Slurm command runs
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "absent.conf"))
    code, out, err = run_main(capsys, "job", text, *(["--json"] if as_json else []))
    assert code == 2, err
    assert f"{text!r} is not a job id" in err and "1234_5 for task 5 of array 1234" in err
    assert out == "" and "Traceback" not in err
