"""`python -m slurm_diag.health.healthcheck`: the HealthCheckProgram (see hooks.py). Drains and
resumes by itself, then starts the spool ingest (detached), so every report on the node reaches the
store within one HealthCheckInterval; always exits 0 unless it could not run at all (Slurm ignores
the code)."""

import os
import sys

from slurm_diag.health.hooks import _log, ingest_detached, run_healthcheck
from slurm_diag.config import load

if __name__ == "__main__":
    try:
        run_healthcheck()
        ingest_detached(load(validate_schema=False))    # every report spooled on this node since the last run
        code = 0
    except Exception as exc:  # report, never crash slurmd's health check with a traceback
        _log(f"healthcheck failed: {exc}")
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
