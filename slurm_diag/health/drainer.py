"""Detached helper started by the prolog/epilog after cap.claim drained the node: keep our reason.

The hook exits non-zero right after starting this, and slurmctld then drains the node with
"Prolog error"/"Epilog error", which may land after our claim and overwrite its reason; so this
puts our reason back whenever it sees one of those during a short settle window. It never drains a
node that is not drained (someone resumed it: left alone) and never touches another drain reason.
Every scontrol call has a timeout and the whole helper a deadline; nobody waits on it.

    python -m slurm_diag.health.drainer NODE REASON [SETTLE_S]
"""

from __future__ import annotations

import sys
import time

from slurm_diag.health.cap import HOOK_REASONS
from slurm_diag.slurm.errors import NodeNotFound, SlurmError


def settle(client, node: str, reason: str, settle_s: float, poll_s: float = 1.0,
           clock=time.monotonic, sleep=time.sleep) -> str:
    """Restore ``reason`` over Slurm's hook-error reason until ``settle_s`` passes; says what happened."""
    deadline = clock() + settle_s
    last = "reason already ours"
    while True:
        try:
            view = client.get_node(node)
            current = (view.reason or "").strip()
            if not view.drained:
                return "resumed by someone meanwhile: left alone"
            if current in HOOK_REASONS:
                client.drain_node(node, reason)
                last = f"reason restored over {current!r}"
            elif current != reason:
                return f"drained by someone else meanwhile ({current!r}): left alone"
        except NodeNotFound as exc:
            return f"node unknown to Slurm, nothing to keep: {exc.message}"
        except SlurmError as exc:
            last = f"scontrol failed: {exc.message}"
        if clock() >= deadline:
            return last
        sleep(poll_s)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    from slurm_diag.health import slurm_calls
    from slurm_diag.config import load

    settle_s = float(argv[2]) if len(argv) > 2 else 15.0
    client = slurm_calls.client(load(), 5.0)
    print(f"sdiag drainer {argv[0]}: {settle(client, argv[0], argv[1], settle_s)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
