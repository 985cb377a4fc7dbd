"""Every Slurm call the health code makes, in one place, until the Slurm adapter
(``slurm_diag.slurm.SlurmClient``: drain_node, resume_node, get_node) replaces ``_scontrol``:
argv lists, a timeout on each call, no shell, a typed error."""

from __future__ import annotations

import os
import subprocess
import sys

from slurm_diag.errors import EnvironmentProblem
from slurm_diag.health.policy import NodeView, is_sdiag_reason


class SlurmCallError(EnvironmentProblem):
    pass


def _binary() -> str:
    """scontrol from config slurm.bin_dir when set, else from PATH."""
    from slurm_diag.health.settings import load

    bin_dir = load().slurm_bin_dir
    return os.path.join(bin_dir, "scontrol") if bin_dir else "scontrol"


def _scontrol(args: list[str], timeout_s: float) -> str:
    argv = [_binary(), *args]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError:
        raise SlurmCallError(f"{argv[0]} not found", hint="install slurm-client, fix PATH or slurm.bin_dir") from None
    except subprocess.TimeoutExpired:
        raise SlurmCallError(f"{' '.join(argv)} did not answer within {timeout_s:g} s",
                             hint="check slurmctld and SLURM_CONF") from None
    if out.returncode != 0:
        raise SlurmCallError(f"{' '.join(argv)} failed (rc {out.returncode}): {out.stderr.strip()}",
                             hint="check slurmctld, SLURM_CONF and that this runs as root or SlurmUser")
    return out.stdout


def parse_node_line(line: str) -> NodeView:
    """One line of ``scontrol show node -o``. Reason is free text and comes last."""
    head, _, reason = line.partition(" Reason=")
    fields = dict(kv.split("=", 1) for kv in head.split() if "=" in kv)
    if reason:
        reason = reason.strip()
        if reason.endswith("]") and " [" in reason:
            reason = reason[: reason.rindex(" [")]
    state = fields.get("State", "UNKNOWN")
    base, *flags = state.split("+")
    return NodeView(name=fields.get("NodeName", ""), state=base, flags=tuple(flags), reason=reason or None)


def get_node(name: str, timeout_s: float = 10.0) -> NodeView:
    lines = [ln for ln in _scontrol(["show", "node", name, "-o"], timeout_s).splitlines() if ln.strip()]
    if not lines:
        raise SlurmCallError(f"scontrol knows no node {name!r}")
    return parse_node_line(lines[0])


def drain_node(name: str, reason: str, timeout_s: float = 10.0) -> None:
    _scontrol(["update", f"nodename={name}", "state=drain", f"reason={reason}"], timeout_s)


def resume_node(name: str, timeout_s: float = 10.0) -> None:
    _scontrol(["update", f"nodename={name}", "state=resume"], timeout_s)


def sdiag_drained_nodes(timeout_s: float = 10.0) -> list[str]:
    nodes = [parse_node_line(ln) for ln in _scontrol(["show", "node", "-o"], timeout_s).splitlines() if ln.strip()]
    return sorted(n.name for n in nodes if n.drained and is_sdiag_reason(n.reason))


def drain_detached(name: str, reason: str, settle_s: float = 15.0) -> int | None:
    """Start the drainer in its own session and return at once (never waited on): the prolog and
    epilog exit non-zero right after, and the drainer makes the reason read ``sdiag: ...``."""
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "slurm_diag.health.drainer", name, reason, str(settle_s)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True, env=dict(os.environ))
    except OSError:
        return None
    return proc.pid
