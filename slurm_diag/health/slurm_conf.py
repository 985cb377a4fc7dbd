"""How many GPUs Slurm thinks this node has, read from slurm.conf's ``NodeName=... Gres=gpu:N``.

A file read instead of ``scontrol show node``: the prolog must not wait on the controller. Pure
parsing; hostlists like ``node[1-4,7]`` are expanded.
"""

from __future__ import annotations

import re

from slurm_diag.slurm.parse import hostlist


def expand_hostlist(expr: str) -> list[str]:
    return list(hostlist(expr))


def gres_gpus(gres: str) -> int:
    """'gpu:8', 'gpu:h100:8,nic:2', 'gpu:h100:4(S:0),gpu:a100:4' -> total GPUs."""
    total = 0
    for item in re.split(r",(?![^(]*\))", gres):
        fields = item.split("(")[0].split(":")
        if fields[0] != "gpu":
            continue
        count = fields[-1] if len(fields) > 1 else "1"
        total += int(count) if count.isdigit() else 1
    return total


def node_gpus(text: str, node: str) -> int | None:
    """GPUs the config gives ``node``; None when the node is not named in the file."""
    found = None
    defaults = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.lower().startswith("nodename="):
            continue
        fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        fields = {k.lower(): v for k, v in fields.items()}
        names = fields.get("nodename", "")
        if names == "DEFAULT":
            defaults.update(fields)
            continue
        if node in expand_hostlist(names):
            merged = {**defaults, **fields}
            found = gres_gpus(merged.get("gres", ""))
    return found


def expected_gpus(conf_path: str, node: str) -> int | None:
    try:
        with open(conf_path) as fh:
            return node_gpus(fh.read(), node)
    except OSError:
        return None
