"""The pure parts of a sweep: the chain's order, the job script, sbatch options, what a finished
job means for its results, and selections over stored results."""

import shlex

import pytest

from slurm_diag.errors import UsageError
from slurm_diag.probes import names, stored
from slurm_diag.probes import sweep as sw


def _sweep(**kw):
    base = dict(sweep_id="gemm-x", probe="gemm", nodes=("node1", "node2", "node3", "node4"), rounds=3,
                params={"n": "256"}, threads=1, python="/venv/bin/python", results_dir="/h/probes/gemm-x")
    base.update(kw)
    return sw.Sweep(**base)


def test_helper_modules_are_not_probes():
    assert names() == ["allreduce", "gemm", "membw"]


def test_rounds_are_interleaved_and_rotated_one_node_at_a_time():
    jobs = sw.plan(_sweep())
    order = [(j.nodes[0], j.round) for j in jobs]
    assert order[:4] == [("node1", 0), ("node2", 0), ("node3", 0), ("node4", 0)]
    assert order[4:8] == [("node2", 1), ("node3", 1), ("node4", 1), ("node1", 1)]
    assert order[8:] == [("node3", 2), ("node4", 2), ("node1", 2), ("node2", 2)]
    assert [j.index for j in jobs] == list(range(12))


def test_a_multi_node_probe_is_one_job_per_round_over_all_nodes():
    jobs = sw.plan(_sweep(probe="allreduce", nodes=("node1", "node2"), rounds=2))
    assert [(j.nodes, j.round) for j in jobs] == [(("node1", "node2"), 0), (("node1", "node2"), 1)]


def test_job_script_runs_the_probe_with_the_round_and_threads():
    script = sw.job_script(_sweep(params={"n": "256", "dtype": "fp32"}), sw.plan(_sweep())[5])
    assert script.startswith("#!/bin/bash\n") and "set -euo pipefail" in script
    assert "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1" in script
    last = shlex.split(script.strip().splitlines()[-1])
    assert last[:6] == ["exec", "/venv/bin/python", "-m", "slurm_diag.probes", "gemm", "--out-dir"]
    assert ["--param", "round=1"] == last[7:9] and "n=256" in last and "dtype=fp32" in last


def test_allreduce_script_launches_ranks_through_pmix():
    s = _sweep(probe="allreduce", nodes=("node1", "node2"), rounds=1, params={}, threads=0)
    script = sw.job_script(s, sw.plan(s)[0])
    assert "exec srun --mpi=pmix --kill-on-bad-exit=1 /venv/bin/python -m slurm_diag.probes allreduce" in script
    assert "OMP_NUM_THREADS" not in script


def test_membw_gets_the_thread_count_as_a_parameter():
    s = _sweep(probe="membw", params={})
    assert "threads=1" in sw.job_script(s, sw.plan(s)[0])


def test_paths_with_spaces_are_quoted():
    s = _sweep(results_dir="/h/my probes/x")
    assert "'/h/my probes/x'" in sw.job_script(s, sw.plan(s)[0])


def test_sbatch_args_chain_each_job_after_the_previous_one():
    s = _sweep()
    first, second = sw.plan(s)[:2]
    args = sw.sbatch_args(s, first, "/h/logs", None)
    assert "--exclusive" in args and "--nodelist=node1" in args and "--mem=0" in args
    assert "--output=/h/logs/node1-r0-%j.out" in args and not any(a.startswith("--dependency") for a in args)
    args = sw.sbatch_args(s, second, "/h/logs", "41")
    assert "--dependency=afterany:41" in args and not any(a.startswith("--deadline") for a in args)
    s = _sweep(deadline_min=30)              # the second job of the chain: room for two at their limit
    assert f"--deadline=now+{30 + 2 * s.time_min}minutes" in sw.sbatch_args(s, second, "/h/logs", "41")
    assert sw.log_path("/h/logs", second, "42") == "/h/logs/node2-r0-42.out"


@pytest.mark.parametrize("change, message", [
    (dict(probe="stream"), "unknown probe"),
    (dict(nodes=()), "names no node"),
    (dict(nodes=("node1", "node1")), "names a node twice"),
    (dict(probe="allreduce", nodes=("node1",)), "needs at least 2 nodes"),
    (dict(rounds=0), "need at least 1"),
    (dict(mem="lots"), "not an sbatch memory size"),
    (dict(params={"round": "2"}), "set by the sweep itself"),
    (dict(deadline_min=-5), "need 0"),
])
def test_check_refuses_what_cannot_work(change, message):
    with pytest.raises(UsageError, match=message):
        sw.check(_sweep(**change))


def test_failure_reason_of_a_finished_job():
    assert sw.failure_reason("COMPLETED", 0, 0, 1, 1) is None
    assert sw.failure_reason("OUT_OF_MEMORY", 0, 125, 0, 0) == "OUT_OF_MEMORY, exit code 0, signal 125"
    assert sw.failure_reason("FAILED", 2, 0, 0, 0) == "FAILED, exit code 2"
    assert sw.failure_reason("COMPLETED", 0, 0, 0, 0) == "COMPLETED but wrote no result file"
    assert sw.failure_reason("COMPLETED", 0, 0, 1, 0) == "COMPLETED but its result is marked invalid"
    assert sw.failure_reason(None, None, None, 0, 0) == "never reached accounting"


def test_results_of_a_failed_job_never_count():
    docs = sw.invalidate([{"valid": True, "conditions": {}}, {"valid": True}], "job 7 CANCELLED")
    assert [d["valid"] for d in docs] == [False, False]
    assert docs[0]["conditions"]["interrupted"] == "job 7 CANCELLED"


def test_log_tail_is_one_clean_line():
    assert sw.log_tail("a\n\nb\x1b[31m\nc\nd\n") == "b [31m | c | d"


def test_manifest_round_trip():
    s = _sweep()
    assert sw.Sweep.from_dict(s.to_dict()) == s


def test_a_manifest_written_before_deadlines_existed_still_loads():
    doc = _sweep().to_dict()
    del doc["deadline_min"]
    assert sw.Sweep.from_dict(doc).deadline_min == 0


def _doc(node, sweep, time, value=1.0, valid=True):
    return {"node": node, "probe": "gemm", "gpu": None, "dtype": "fp64", "unit": "FLOP/s", "value": value,
            "valid": valid, "time": time, "params": {"sweep": sweep}, "expected": None}


def test_store_selections():
    docs = [_doc("node1", "a", "2025-01-01T00:00:01"), _doc("node2", "b", "2025-01-01T00:00:03"),
            _doc("node1", "b", "2025-01-01T00:00:02"), {**_doc("node3", None, "2025-01-01T00:00:09")}]
    assert stored.latest_sweep(docs) == "b"
    assert [d["node"] for d in stored.select(docs, ["node1"])] == ["node1", "node1"]
    assert [d["node"] for d in stored.select(docs, (), "b")] == ["node2", "node1"]
    assert stored.latest_sweep([_doc("n", None, "x")]) is None


def test_node_summary_takes_the_median_of_valid_results():
    docs = [_doc("node1", "a", "t", 1.0), _doc("node1", "a", "t", 3.0), _doc("node1", "a", "t", 2.0),
            _doc("node1", "a", "t", 0.1, valid=False)]
    entry = stored.node_summary(docs)[("node1", None, "gemm", "fp64")]
    assert (entry["median"], entry["valid"], entry["total"]) == (2.0, 3, 4)
