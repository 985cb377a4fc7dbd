"""What an approver reads: the jobs running on the target now, its GPUs, the share of each
partition the drain takes, and `actions list --state` keeping to one state. Over the fake Slurm
with slurmctld's job records; the real cluster shows the same in test_cluster_actions.py."""

from __future__ import annotations

import json

from click.testing import CliRunner

from slurm_diag.actions import propose, reject
from slurm_diag.actions.report import details
from slurm_diag.cli import actions_cmd
from tests.actions.helpers import AGENT, as_caller, attribution, health_finding, make


def _drain(ctx, node):
    found = [health_finding(node, f"health:{node}:clocks:3")]
    return propose(as_caller(ctx, AGENT), "drain", node, reason=f"gpu3 SM clock 200 MHz on {node}",
                   attribution=dict(attribution(found), suspect_nodes=[node]), findings=found)


def test_show_names_the_jobs_on_the_target_its_gpus_and_the_partition_share(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    ctx.client.records.update({
        "7": {"JobId": "7", "JobState": "RUNNING", "NodeList": "node[2-3]"},
        "8": {"JobId": "8", "JobState": "PENDING", "NodeList": ""},
        "9": {"JobId": "9", "JobState": "RUNNING", "NodeList": "node1"},
        "10": {"JobId": "10", "JobState": "RUNNING", "NodeList": "node3"}})
    doc = _drain(ctx, "node3")
    now = details(ctx, doc)["target_now"]
    assert now["known"] and now["jobs"] == ["7", "10"] and now["gpus"] == 8
    assert now["partitions"] == [{"name": "debug", "nodes": 4, "share_pct": 25.0}]
    assert now["state"] == "IDLE" and details(ctx, doc)["command"][:2] == ["scontrol", "update"]


def test_list_keeps_to_the_state_asked_for(tmp_path, monkeypatch):
    ctx = make(tmp_path, monkeypatch)
    kept, dropped = _drain(ctx, "node3"), _drain(ctx, "node2")
    reject(ctx, dropped["id"], "the node is fine")
    monkeypatch.setattr(actions_cmd, "_ctx", lambda: ctx)
    runner = CliRunner()
    for state, expected in (("proposed", [kept["id"]]), ("rejected", [dropped["id"]]), (None, None)):
        args = ["list", "--json"] + (["--state", state] if state else [])
        out = runner.invoke(actions_cmd.command, args)
        assert out.exit_code == 0, out.output
        ids = [p["id"] for p in json.loads(out.output)["proposals"]]
        assert ids == expected if expected else sorted(ids) == sorted([kept["id"], dropped["id"]])
    text = runner.invoke(actions_cmd.command, ["list", "--state", "done"])
    assert text.exit_code == 0 and "no proposals in state done" in text.output
