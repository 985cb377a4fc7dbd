"""Detached helper started by the prolog/epilog: drain the node with an ``sdiag:`` reason.

The hook exits non-zero right after starting this, and slurmctld then drains the node with
"Prolog error"/"Epilog error", which may land after ours and overwrite it; so this re-applies our
reason whenever it sees one of those during a short settle window. Every scontrol call has a
timeout and the whole helper a deadline; nobody waits on it.

    python -m slurm_diag.health.drainer NODE REASON [SETTLE_S]
"""

from __future__ import annotations

import sys
import time

from slurm_diag.health import slurm_calls

HOOK_REASONS = ("Prolog error", "Epilog error")


def settle(node: str, reason: str, settle_s: float, timeout_s: float = 5.0, poll_s: float = 1.0,
           calls=slurm_calls) -> str:
    deadline = time.monotonic() + settle_s
    try:
        calls.drain_node(node, reason, timeout_s)
    except slurm_calls.SlurmCallError as exc:
        if "not found" in exc.message:
            return f"drain impossible: {exc.message}"
        last = f"drain failed: {exc}"
    else:
        last = "drained"
    seen_ours = False
    while time.monotonic() < deadline:
        time.sleep(poll_s)
        try:
            view = calls.get_node(node, timeout_s)
            current = (view.reason or "").strip()
            if view.drained and current == reason:
                seen_ours = True
            elif view.drained and current in HOOK_REASONS:
                calls.drain_node(node, reason, timeout_s)
                last = "reason restored"
            elif not view.drained:
                if seen_ours:
                    return "resumed by someone meanwhile: left alone"
                calls.drain_node(node, reason, timeout_s)
                last = "drained (was not)"
        except slurm_calls.SlurmCallError as exc:
            last = f"scontrol failed: {exc}"
    return last


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    settle_s = float(argv[2]) if len(argv) > 2 else 15.0
    print(f"sdiag drainer {argv[0]}: {settle(argv[0], argv[1], settle_s)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
