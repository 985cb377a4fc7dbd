#!/bin/sh
# Slurm Prolog: quick node health checks before every job (level from `--health-check`, the SPANK
# option, seen here as SPANK_SDIAG_HEALTH; else config health.level).
# Exit 0: the job runs. Exit 1: the node is already drained by slurm-diag (within the cap
# health.policy.max_drained_nodes, see slurm_diag/health/cap.py) and Slurm requeues the job; a
# detached helper keeps the reason "sdiag: <check>: <gpu> ..." over Slurm's "Prolog error".
# A crash or timeout of slurm-diag itself fails open (exit 0, logged to the slurmd log).
SDIAG_HOOK=prolog
. "$(dirname -- "$0")/_common.sh"

case "${SPANK_SDIAG_HEALTH:-}" in
    off|OFF) exit 0 ;;
esac

sdiag_run slurm_diag.health.prolog
rc=$?
case $rc in
    0) exit 0 ;;
    42) exit 1 ;;
    124|137) sdiag_log "checks exceeded ${SDIAG_HOOK_TIMEOUT}s; job allowed (fail open)"; exit 0 ;;
    *) sdiag_log "internal error (rc $rc); job allowed (fail open)"; exit 0 ;;
esac
