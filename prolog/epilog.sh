#!/bin/sh
# Slurm Epilog: records the job's end (exit code, signal, guessed state) in the spool and re-checks
# the node at the quick level. A new critical XID or uncorrectable ECC error during the job drains
# the node within the cap (exit 1; Slurm's "Epilog error" is replaced by our "sdiag: ..." reason).
SDIAG_HOOK=epilog
. "$(dirname -- "$0")/_common.sh"

sdiag_run slurm_diag.health.epilog
rc=$?
case $rc in
    0) exit 0 ;;
    42) exit 1 ;;
    *) sdiag_log "internal error or timeout (rc $rc); node left as is (fail open)"; exit 0 ;;
esac
