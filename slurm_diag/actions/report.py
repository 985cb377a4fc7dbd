"""What an approver reads before deciding: the target as Slurm shows it now, the jobs on it, the
GPUs and the share of each partition the action takes offline, and the proposal's audit trail."""

from __future__ import annotations

from slurm_diag.health.cap import partition_sizes
from slurm_diag.slurm.errors import SlurmError
from slurm_diag.slurm.parse import hostlist


def target_now(client, doc: dict) -> dict:
    try:
        if doc["action"] == "requeue":
            from slurm_diag.actions.executor import job_record

            rec = job_record(client, doc["target"])
            return {"known": True, "error": None, "state": (rec or {}).get("JobState", "not held by slurmctld"),
                    "reason": (rec or {}).get("Reason"), "gpus": None, "jobs": [doc["target"]] if rec else [],
                    "partitions": []}
        nodes = client.list_nodes()
        node = next((n for n in nodes if n.name == doc["target"]), None)
        if node is None:
            return {"known": True, "error": f"{doc['target']} is not a node Slurm knows", "jobs": [], "partitions": []}
        queue = client.queue() if hasattr(client, "queue") else []
        running = [rec["JobId"] for rec in queue if rec.get("JobState") == "RUNNING"
                   and node.name in hostlist(rec.get("NodeList") or "")]
        members = partition_sizes(nodes)
        parts = [{"name": p, "nodes": len(members[p]), "share_pct": round(100 / len(members[p]), 1)}
                 for p in node.partitions if p in members]
        return {"known": True, "error": None, "state": "+".join([node.state, *node.flags]), "reason": node.reason,
                "gpus": node.gpus, "jobs": running, "partitions": parts}
    except SlurmError as exc:
        return {"known": False, "error": exc.message, "jobs": [], "partitions": []}


def audit_rows(store, proposal_id: str) -> list[dict]:
    return [{**row, "time": row["time"].isoformat()} for row in store.audit_log(subject=proposal_id)]


def details(ctx, doc: dict) -> dict:
    return {"proposal": doc, "command": doc.get("command") or [], "target_now": target_now(ctx.client, doc),
            "audit": audit_rows(ctx.store, doc["id"])}
