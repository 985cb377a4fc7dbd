"""The index on disk: reopened by a new process, and a long-lived reader sees another process's write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from .conftest import run_cli

ATTRIBUTION = {"label": "filesystem", "scope": "infra", "component": "beegfs", "confidence": 0.9,
               "supporting": ["f1"], "contradicting": [], "explanation": "BeeGFS client lost its management daemon",
               "next_steps": ["restart beegfs-client on the node", "drain until the mount is back"],
               "job_id": "4242"}
EXCERPT = "2025-03-01T10:00:00 beegfs: ERROR: Communication with mgmtd node zz-mgmt-17 failed: timeout 42000"


def test_search_from_a_new_process_reads_the_built_index(kb_home):
    res = run_cli("kb", "search", "OSError: [Errno 116] Stale file handle: '/home/a'", "--json", "--top", "2",
                  home=kb_home)
    assert res.returncode == 0, res.stderr
    hits = json.loads(res.stdout)
    assert hits[0]["id"] == "nfs-stale-handle" and hits[0]["matched_signatures"]


def test_reader_in_second_process_sees_writers_addition(kb_home):
    reader = textwrap.dedent("""
        import sys
        from slurm_diag import config
        from slurm_diag.kb import api
        cfg = config.load(); store = api.open_store(cfg)
        for line in sys.stdin:
            hits = api.search(line.strip(), top=3, cfg=cfg, store=store)
            print(hits[0].id if hits else "-", flush=True)
    """)
    env = {**os.environ, "SDIAG_HOME": str(kb_home), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", reader], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        proc.stdin.write(EXCERPT + "\n")
        proc.stdin.flush()
        before = proc.stdout.readline().strip()
        assert not before.startswith("added-")

        from slurm_diag.kb.add import add
        info = add(ATTRIBUTION, EXCERPT)
        assert info["added"], info

        proc.stdin.write(EXCERPT + "\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == info["id"]
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)

    again = run_cli("kb", "add", "--attribution", "-", "--text", EXCERPT, "--json",
                    home=kb_home, stdin=json.dumps(ATTRIBUTION))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"added": False, "duplicate_of": info["id"], "signature": info["signature"]}
