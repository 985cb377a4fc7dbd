"""`probe submit --dry-run`, `probe results` and `probe plot` without a cluster: what they print
and how they refuse bad input (exit 2, no traceback)."""

import json

import pytest

from slurm_diag.store import Store

from tests.conftest import run_main


@pytest.fixture
def run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SDIAG_STORE_URL", f"sqlite:///{tmp_path}/store.db")

    def invoke(*args):
        return run_main(capsys, *args)
    return invoke


def test_dry_run_prints_the_chain(run):
    code, out, err = run("probe", "submit", "gemm", "--nodes", "node[1-2]", "--rounds", "2", "--threads", "1",
                         "--param", "n=128", "--dry-run")
    assert code == 0, err
    headers = [ln for ln in out.splitlines() if ln.startswith("# node")]
    assert [h.split(":")[0] for h in headers] == ["# node1 round 0", "# node2 round 0", "# node2 round 1",
                                                  "# node1 round 1"]
    assert out.count("--dependency=afterany:") == 3 and out.count("exec ") == 4


@pytest.mark.parametrize("args, message", [
    (["gemm", "--nodes", "node[1-2]", "--param", "size=3"], "has no parameter 'size'"),
    (["gemm", "--nodes", "node[1-2]", "--param", "n=big"], "n='big' is not a int"),
    (["allreduce", "--nodes", "node1"], "needs at least 2 nodes"),
    (["gemm", "--nodes", "node[1-2]", "--mem", "lots"], "not an sbatch memory size"),
])
def test_submit_refuses_bad_input(run, args, message):
    code, out, err = run("probe", "submit", *args, "--dry-run")
    assert code == 2 and message in err and "Traceback" not in err


def _result(node, sweep, value, status):
    return {"probe": "gemm", "node": node, "metric": "flops", "value": value, "unit": "FLOP/s", "dtype": "fp64",
            "valid": True, "gpu": None, "time": "2025-01-01T00:00:00+00:00", "params": {"sweep": sweep, "round": 0},
            "expected": None, "verdict": {"status": status, "message": f"{node} gemm fp64 {status}"}}


def test_results_and_plot_from_the_store(run, tmp_path):
    code, out, _ = run("probe", "results")
    assert code == 0 and "no probe results stored" in out
    code, _, err = run("probe", "plot", "--out", str(tmp_path / "x.png"))
    assert code == 2 and "holds no probe results" in err
    store = Store(f"sqlite:///{tmp_path}/store.db")
    for i, node in enumerate(("node1", "node2", "node3", "node4")):
        store.add_probe_result(_result(node, "s1", 6e10 if node != "node3" else 2e10,
                                       "CRITICAL" if node == "node3" else "OK"))
    store.add_probe_result(_result("node1", "s0", 1e10, "OK") | {"time": "2024-01-01T00:00:00+00:00"})
    code, out, _ = run("probe", "results", "--node", "node3")
    assert code == 0 and "CRITICAL: node3 gemm fp64 CRITICAL" in out and "20 GFLOP/s" in out
    code, out, _ = run("probe", "results", "--sweep", "s1", "--json")
    assert sorted(d["node"] for d in json.loads(out)) == ["node1", "node2", "node3", "node4"]
    code, out, err = run("probe", "plot", "--out", str(tmp_path / "p.png"), "--node", "node1", "--node", "node3")
    assert code == 0, err
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
