"""Shared fixtures. The real local Slurm cluster is started once per test session, on demand."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def sdiag(*args: str, env: dict | None = None, timeout: float = 120, input: str | None = None):
    """Run the real CLI in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "slurm_diag", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, input=input)


def script_started(slurm, job_id: str, output: str | Path, timeout: float = 90) -> None:
    """Until the batch script of ``job_id`` has written to ``output``: its prolog is over, so a fault
    injected now (a GPU profile, a slowed node) lands mid-job, not in the prolog's check. Slurm shows
    the job RUNNING while its prolog still runs, so RUNNING alone is too early."""
    deadline = time.monotonic() + timeout
    path = Path(output)
    while not (path.exists() and path.stat().st_size):
        state = slurm.get_job(job_id).state
        if path.exists() and path.stat().st_size:     # it wrote, and ended, between the two looks
            break
        assert state in ("PENDING", "CONFIGURING", "RUNNING"), f"job {job_id} is {state} before its script wrote to {path}"
        assert time.monotonic() < deadline, f"job {job_id} ({state}) wrote nothing to {path} within {timeout:g} s"
        time.sleep(0.2)


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """Invoke `sdiag-agent ARGS` in-process through its real entry point: (exit code, stdout, stderr)."""
    from slurm_diag.cli import main

    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


# the environment the test session started with: the cluster lives where the user's config says,
# whatever a test's monkeypatched SDIAG_HOME says when the cluster is first asked for
_SESSION_ENV = {k: os.environ.get(k) for k in ("SDIAG_HOME", "SDIAG_CONFIG", "SLURM_CONF")}


def _set_env(values: dict) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _outside_tests(fn):
    saved = {k: os.environ.get(k) for k in _SESSION_ENV}
    try:
        _set_env(_SESSION_ENV)
        return fn()
    finally:
        _set_env(saved)


@pytest.fixture(scope="session")
def devcluster():
    """The real local cluster (munge, MariaDB, slurmdbd, slurmctld, 4 slurmd), clean and idle."""
    from slurm_diag import config as config_mod
    from slurm_diag.devcluster import cluster
    from slurm_diag.slurm import CommandClient

    lay = cluster.layout(cfg=_outside_tests(config_mod.load))
    cluster.up(lay, say=lambda m: print(f"devcluster: {m}", file=sys.stderr))
    _settle(lay, CommandClient(conf=str(lay.slurm_conf), timeout=30))   # nothing left from an earlier session
    cluster.up(lay, say=lambda m: None)
    return lay


_LIVE = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING")


def _settle(lay, client) -> None:
    """Every node healthy (profile), with nothing remembered (sticky XIDs, baselines) and undrained;
    no job pending or running (cancelled, and waited for)."""
    from slurm_diag.devcluster import cluster
    from slurm_diag.health import state
    from slurm_diag.slurm.errors import JobNotFound

    def busy() -> list[str]:
        return [j["JobId"] for j in client.queue() if j.get("JobState") in _LIVE]

    healthy = (cluster.PROFILES / f"{cluster.HEALTHY_PROFILE}.json").exists()
    for name in lay.node_names:
        if healthy:
            cluster.set_profile(lay, name, cluster.HEALTHY_PROFILE)
        state.clear(lay.base.parent, name)
    for job_id in busy():
        try:
            client.cancel(job_id)
        except JobNotFound:
            pass
    deadline = time.monotonic() + 90
    while (left := busy()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"jobs of earlier tests still in the queue after 90 s: {left}"
    for node in client.list_nodes():
        if node.drained:
            client.resume_node(node.name)


@pytest.fixture()
def slurm(devcluster):
    from slurm_diag.slurm import CommandClient

    return CommandClient(conf=str(devcluster.slurm_conf), timeout=30)


@pytest.fixture()
def cluster_env(devcluster) -> dict[str, str]:
    """Environment for a CLI subprocess that talks to the local cluster."""
    return {"SLURM_CONF": str(devcluster.slurm_conf), "SDIAG_CONFIG": str(devcluster.base / "etc" / "sdiag.toml"),
            "SDIAG_HOME": str(devcluster.base.parent)}


@pytest.fixture()
def idle_cluster(devcluster, slurm):
    """No job of an earlier test still pending or running, every node healthy, undrained and with
    nothing remembered (sticky XIDs, baselines), no proposal waiting for a decision and the circuit
    breaker closed: a test that reads
    what the hooks or the agent decided, or what ran in a time window, sees its own jobs' doing only."""
    _settle(devcluster, slurm)
    from slurm_diag import config
    from slurm_diag.store import Store

    store = Store(config.load(devcluster.base / "etc" / "sdiag.toml").store_url)
    for p in store.proposals():                   # no decision of an earlier test left pending
        if p["state"] in ("proposed", "approved"):
            store.transition(p["id"], "expired", "test", note="closed before the next test")
    from slurm_diag.actions import breaker
    if breaker.state(store)["tripped"]:           # a test that hit the cap trips it on purpose
        breaker.reset(store, "test", "reset before the next test")
    return devcluster
