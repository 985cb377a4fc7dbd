"""`sdiag-agent devcluster inject` validates a profile before installing it (the real CLI, in a
subprocess). The refusal happens before anything touches the cluster, so no cluster is needed."""

import json

from slurm_diag.gpu import profile as profile_mod
from tests.conftest import sdiag
from tests.gpu.conftest import tweak


def test_inject_validates_the_profile_before_installing_it(tmp_path, healthy_doc, write_profile):
    home = tmp_path / "home"
    installed = home / "devcluster" / "profiles" / "node2.json"
    installed.parent.mkdir(parents=True)      # where inject would install it: a copy would succeed
    bad = write_profile(tweak(healthy_doc, 3, hang_s=-2, clocks={"sm": "fast"}), "bad.json")
    out = sdiag("devcluster", "inject", "node2", str(bad), env={"SDIAG_HOME": str(home), "SDIAG_CONFIG": ""})
    assert out.returncode == 2, out.stderr
    assert "gpus[3].hang_s: expected a number of seconds >= 0, found -2" in out.stderr
    assert "gpus[3].clocks.sm: expected integer, found string 'fast'" in out.stderr
    assert "Traceback" not in out.stderr
    assert not installed.exists() and list(installed.parent.iterdir()) == []

    good = write_profile(tweak(healthy_doc, 3, temperature_c=71), "good.json")
    out = sdiag("devcluster", "inject", "node2", str(good), env={"SDIAG_HOME": str(home), "SDIAG_CONFIG": ""})
    assert out.returncode == 0, out.stderr
    assert profile_mod.load(installed).gpus[3]["temperature_c"] == 71
    assert json.loads(installed.read_text()) == json.loads(good.read_text())
