"""`agent run --llm transformers` for real: the loop on the local cluster with SmolLM2-135M behind
it. The model cannot diagnose; what must hold is the plumbing: its answer (or its budget overrun) is
recorded with the model and prompt version in the job's transcript, and the stored attribution is the
engine's unless the verifier accepted the model's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]


def sdiag(env, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "slurm_diag", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **env, "PYTHONPATH": str(ROOT)})


def test_agent_run_with_the_local_model_records_its_answer_and_keeps_the_engines_facts(
        devcluster, cluster_env, slurm, tmp_path):
    from slurm_diag import config
    from slurm_diag.store import Store

    conf = tmp_path / "sdiag.toml"
    conf.write_text(Path(cluster_env["SDIAG_CONFIG"]).read_text()
                    + "\n[llm]\njob_tokens = 160\njob_seconds = 45\n")
    env = {**cluster_env, "SDIAG_CONFIG": str(conf)}
    job_id = slurm.submit("#!/bin/sh\necho 'Traceback (most recent call last):'\necho '  File \"train.py\", line 3, "
                          "in <module>'\necho 'ZeroDivisionError: division by zero'\nexit 1\n",
                          ["-o", "/tmp/sdiag-agent-llm-%j.out"], workdir="/tmp")
    assert slurm.wait(job_id, timeout=120, poll=0.5).state == "FAILED"

    done = sdiag(env, "agent", "run", "--jobs", job_id, "--llm", "transformers", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["llm"] == "transformers"
    [a] = [a for a in report["attributions"] if a["job_id"] == job_id]

    store = Store(config.load(conf).store_url)
    [row] = [r for r in store.audit_log(subject=job_id) if r["event"] == "agent.attribution"]
    llm = row["detail"]["transcript"]["orient"]["llm"]
    assert llm["model"] == "SmolLM2-135M-Instruct", llm
    assert llm["prompt_version"] and llm["status"] in ("accepted", "rejected", "budget"), llm
    assert llm["tokens"] > 0 and llm["transcript"], llm
    explained = json.loads(sdiag(env, "explain", job_id, "--json").stdout)
    engine = explained["attribution"]
    if llm["status"] != "accepted":                 # the engine's attribution stands, the reason is kept
        assert (a["label"], a["scope"]) == (engine["label"], engine["scope"]) and llm["reasons"], (a, llm)
    assert a["scope"] == "user"                     # a ZeroDivisionError is the job's, whatever the model says
    print(f"llm: {llm['status']}, {llm['tokens']} tokens in {llm['seconds']} s; reasons: {llm.get('reasons')}")
