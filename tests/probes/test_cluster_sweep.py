"""`probe submit` on the real local cluster: one node slowed for real (a CPU quota on its slurmd's
cgroup) is the only one flagged, a healthy fleet flags nothing, a 2-node allreduce over
`srun --mpi=pmix` reports busbw, and a job that fails or is cancelled stores nothing valid.

Probes are small (GEMM n=256 on one thread, samples of 0.3 s: three CPU-quota periods, so a quota
shows as what it is, and a busy moment averages out) so a 12-job sweep takes about half a minute.
"""

import json
import time
from pathlib import Path

import pytest

from slurm_diag.devcluster import cluster
from slurm_diag.slurm import JobNotFound
from slurm_diag.store import Store
from tests.conftest import sdiag

pytestmark = pytest.mark.cluster
SMALL_GEMM = ["--threads", "1", "--param", "n=256", "--param", "repeats=3", "--param", "min_sample_s=0.3"]


@pytest.fixture(scope="module")
def env(devcluster, tmp_path_factory):
    """CLI environment: the local cluster, a temp home (results dir) and a temp SQLite store."""
    home = tmp_path_factory.mktemp("sweep-home")
    return {"SLURM_CONF": str(devcluster.slurm_conf), "SDIAG_CONFIG": str(devcluster.base / "etc" / "sdiag.toml"),
            "SDIAG_HOME": str(home), "SDIAG_STORE_URL": f"sqlite:///{home}/store.db", "OPENBLAS_NUM_THREADS": "1"}


def _state(slurm, job_id):
    try:
        return slurm.get_job(job_id).state
    except JobNotFound:                  # accounting learns of a new job a moment later
        return None


def _json(res):
    assert res.stdout.strip(), res.stderr
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def healthy_sweep(devcluster, env):
    return sdiag("probe", "submit", "gemm", "--nodes", "node[1-4]", "--wait", "--json", *SMALL_GEMM,
                 env=env, timeout=240)


@pytest.fixture(scope="module")
def calibrated(healthy_sweep, env):
    """The site's CPU expectation, from the healthy sweep (no datasheet applies to these nodes)."""
    sweep = _json(healthy_sweep)["sweep"]
    res = sdiag("perf", "calibrate", "gemm", "--from-sweep", sweep, "--json", env=env)
    assert res.returncode == 0, res.stderr
    return _json(res)


@pytest.fixture(scope="module")
def slowed_sweep(devcluster, env, calibrated):
    cluster.slow(devcluster, "node3", 0.3)
    try:
        res = sdiag("probe", "submit", "gemm", "--nodes", "node[1-4]", "--wait", "--json", *SMALL_GEMM,
                    env=env, timeout=240)
    finally:
        cluster.unslow(devcluster, "node3")
    return res


def test_the_slowed_node_and_only_it_is_flagged(slowed_sweep):
    res = slowed_sweep
    assert res.returncode == 1, res.stderr
    doc = _json(res)
    assert doc["flagged"] == ["node3"]
    verdicts = {v["node"]: v for v in doc["verdicts"]}
    assert verdicts["node3"]["status"] == "CRITICAL" and verdicts["node3"]["cause"] == "cpu-quota"
    assert verdicts["node3"]["rounds_flagged"] >= 2 and verdicts["node3"]["ratio_fleet"] < 0.6
    assert "CPU quota limited (0.3 of 2 CPUs)" in verdicts["node3"]["message"]
    # judged against the site calibration taken from the healthy sweep, and against the fleet
    assert verdicts["node3"]["basis"] == "model+fleet" and verdicts["node3"]["ratio_expected"] < 0.6
    assert all(r["expected"]["source"].startswith("calibration") for r in doc["results"])
    assert all(verdicts[n]["status"] == "OK" for n in ("node1", "node2", "node4")), doc["verdicts"]
    assert len(doc["results"]) == 12 and all(r["valid"] for r in doc["results"])
    assert all(j["state"] == "COMPLETED" and j["failure"] is None for j in doc["jobs"])
    # one node at a time: the chain's jobs never overlap
    assert "job " in res.stderr and "COMPLETED" in res.stderr


def test_results_and_plot_read_the_store(slowed_sweep, env, tmp_path):
    sweep = _json(slowed_sweep)["sweep"]
    stored = Store(env["SDIAG_STORE_URL"]).probe_results(node="node3", probe="gemm")
    assert [r["verdict"]["status"] for r in stored if r["params"]["sweep"] == sweep] == ["CRITICAL"] * 3
    res = sdiag("probe", "results", "--sweep", sweep, "--json", env=env)
    assert res.returncode == 0, res.stderr
    listed = _json(res)
    assert {r["node"] for r in listed} == {"node1", "node2", "node3", "node4"} and len(listed) == 12
    res = sdiag("probe", "results", "--node", "node3", env=env)
    assert "CRITICAL: node3 gemm fp64" in res.stdout and "CPU quota limited" in res.stdout
    png = tmp_path / "sweep.png"
    res = sdiag("probe", "plot", "--out", str(png), "--probe", "gemm", "--sweep", sweep, env=env)
    assert res.returncode == 0, res.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_a_healthy_fleet_flags_nothing(healthy_sweep):
    res = healthy_sweep
    assert res.returncode == 0, res.stdout + res.stderr
    doc = _json(res)
    assert doc["flagged"] == [] and [v["status"] for v in doc["verdicts"]] == ["OK"] * 4
    assert {v["basis"] for v in doc["verdicts"]} == {"fleet"}       # no CPU expectation yet: peers decide


def test_allreduce_over_two_nodes_with_pmix_reports_busbw(devcluster, env):
    res = sdiag("probe", "submit", "allreduce", "--nodes", "node[1-2]", "--wait",
                "--param", "max_bytes=262144", "--param", "target_s=0.01", env=env, timeout=180)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "allreduce over node1, node2 (2 ranks)" in res.stdout and "busbw" in res.stdout
    [doc] = Store(env["SDIAG_STORE_URL"]).probe_results(probe="allreduce")
    assert doc["valid"] and doc["metric"] == "busbw" and doc["value"] > 0
    assert doc["nodes"] == ["node1", "node2"] and doc["params"]["ranks"] == 2
    assert doc["samples"][-1]["bytes"] == 262144 and doc["samples"][-1]["busbw"] == doc["value"]


def test_a_job_killed_by_the_memory_limit_stores_nothing_valid(devcluster, env):
    res = sdiag("probe", "submit", "gemm", "--nodes", "node2", "--rounds", "1", "--mem", "100M", "--wait",
                "--threads", "1", "--param", "n=3000", env=env, timeout=180)
    assert res.returncode == 1
    line = next(ln for ln in res.stdout.splitlines() if "FAILED" in ln)
    assert "node2 round 0" in line and "OUT_OF_MEMORY" in line and "exit code" in line
    log = line.split("; log ", 1)[1].split(":", 1)[0]
    assert Path(log).exists() and "oom" in Path(log).read_text().lower()
    sweep = res.stdout.split()[1].rstrip(":")
    assert not [r for r in Store(env["SDIAG_STORE_URL"]).probe_results(node="node2")
                if r["params"].get("sweep") == sweep and r["valid"]]


def test_a_cancelled_job_is_stored_as_invalid(devcluster, env, slurm):
    res = sdiag("probe", "submit", "gemm", "--nodes", "node4", "--rounds", "1", "--no-wait", "--json",
                "--threads", "1", "--param", "n=256", "--param", "repeats=100", "--param", "min_sample_s=0.1",
                env=env)
    assert res.returncode == 0, res.stderr
    submitted = _json(res)
    job_id = submitted["jobs"][0]["job_id"]
    deadline = time.monotonic() + 60
    while _state(slurm, job_id) != "RUNNING" or not list(Path(submitted["results_dir"], "logs").glob("*")):
        assert time.monotonic() < deadline, "probe job did not start"
        time.sleep(0.2)
    time.sleep(1.5)                      # let it take a few samples
    slurm.cancel(job_id)
    res = sdiag("probe", "collect", submitted["sweep"], "--json", env=env, timeout=120)
    assert res.returncode == 1
    doc = _json(res)
    [job] = doc["jobs"]
    assert job["state"] == "CANCELLED" and job["failure"].startswith("CANCELLED") and job["log"] in job["failure"]
    [result] = doc["results"]
    assert result["valid"] is False and result["verdict"]["status"] == "UNKNOWN"
    assert "interrupted" in result["conditions"] and result["samples"]
    res = sdiag("probe", "collect", submitted["sweep"], env=env)
    assert res.returncode == 2 and "already collected" in res.stderr
