"""The Slurm client the health code uses (a ``SlurmClient``: the real one here, the in-memory
``slurm_diag.slurm.fake.FakeSlurmClient`` in unit tests), built lazily so the prolog's quick path
never loads the adapter unless it must drain; and the detached drainer."""

from __future__ import annotations

import sys


def client(cfg, timeout_s: float):
    """The real SlurmClient for the hooks: the config's slurm.conf and bin_dir, ``timeout_s`` a call."""
    from slurm_diag.slurm.client import CommandClient

    return CommandClient(conf=cfg.slurm_conf or None, timeout=timeout_s,
                         bin_dir=cfg.slurm_bin_dir or None)


def drain_detached(name: str, reason: str, settle_s: float = 15.0) -> int | None:
    """Start the drainer in its own session and return at once (never waited on): the prolog and
    epilog exit non-zero right after, Slurm drains with "Prolog error", and the drainer puts back
    ``reason`` (the claim cap.claim already made)."""
    from slurm_diag import process

    try:
        proc = process.spawn([sys.executable, "-m", "slurm_diag.health.drainer", name, reason, str(settle_s)])
    except (process.ProgramNotFound, OSError):
        return None
    return proc.pid
