"""Tell a site about each new proposal and each decision: the configured argv (``actions.notify``,
never a shell) runs with the proposal's JSON on stdin, e.g. a script that posts to chat or opens a
ticket. A failing notifier is audited and said, never blocks the decision it reports."""

from __future__ import annotations

import json
import sys

from slurm_diag import process
from slurm_diag.errors import SdiagError


def send(cfg, store, proposal: dict, event: str, actor: str) -> str | None:
    """Run the notifier; returns None when it succeeded (or none is configured), else what went wrong."""
    argv = list(cfg.get("actions.notify") or [])
    if not argv:
        return None
    doc = json.dumps({"event": event, "proposal": proposal}, sort_keys=True)
    try:
        done = process.run(argv, timeout=float(cfg.get("actions.notify_timeout_s")), input=doc,
                           env={"SDIAG_EVENT": event, "SDIAG_PROPOSAL": proposal["id"]})
        problem = None if done.returncode == 0 else (
            f"exit {done.returncode}: {(done.stderr or done.stdout).strip().splitlines()[-1:] or ''}")
    except SdiagError as exc:
        problem = exc.message
    if problem:
        store.audit(actor, "notify.failed", proposal["id"], {"event": event, "argv": argv, "error": problem})
        print(f"sdiag-agent: warning: the notifier {argv[0]} failed for {event} of {proposal['id']}: {problem}",
              file=sys.stderr)
    return problem
