"""The agent's follow-up pass shares the scheduled agent's name (singleton), so a probe sweep stuck
behind a drained node must not hold it forever. On the local cluster: a sweep pinned to a node an
admin drained ends as DEADLINE (its deadline is deadline_min plus its time limit), and the
follow-up pass chained behind it (afterany) then runs. About 90 s of waiting: marked slow."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_a_sweep_stuck_on_a_drained_node_ends_at_its_deadline_and_the_follow_up_runs(
        idle_cluster, devcluster, cluster_env, slurm, monkeypatch):
    from slurm_diag import config
    from slurm_diag.actions import Context
    from slurm_diag.agent import probing

    for key, value in {**cluster_env, "PYTHONPATH": str(ROOT), "SDIAG_PYTHON": sys.executable}.items():
        monkeypatch.setenv(key, value)                      # what the follow-up job inherits from sbatch
    done = slurm.submit("#!/bin/sh\necho fine\n", ["-w", "node1", "-o", "/dev/null"])
    assert slurm.wait(done, timeout=60, poll=0.5).state == "COMPLETED"
    slurm.drain_node("node4", "admin: reseating a DIMM")
    try:
        ctx = Context.from_config(config.load(devcluster.base / "etc" / "sdiag.toml"), client=slurm)
        settings = probing.Settings(per_run=1, fleet=1, max_nodes=1, rounds=1, time_min=1, deadline_min=1,
                                    params={"n": 64})
        began = time.monotonic()
        doc = probing.submit(ctx, [done], ["node4"], settings)
        [sweep_job] = doc["jobs"]
        ended = slurm.wait(sweep_job, timeout=200, poll=2)
        assert ended.state == "DEADLINE", ended.state
        follow = slurm.wait(doc["follow_up"], timeout=120, poll=2)
        assert follow.state == "COMPLETED", follow.state
        print(f"sweep ended {ended.state} and the follow-up {follow.state} after {time.monotonic() - began:.0f} s")
    finally:
        slurm.resume_node("node4")
