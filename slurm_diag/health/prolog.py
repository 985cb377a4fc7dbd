"""`python -m slurm_diag.health.prolog`: the prolog's checks (see hooks.py); exit 0 or 42 (block)."""

import os
import sys

from slurm_diag.health.hooks import hook_main

if __name__ == "__main__":
    code = hook_main("prolog")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)        # do not wait on a check thread stuck in a hung driver call
