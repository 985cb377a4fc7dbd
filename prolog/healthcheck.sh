#!/bin/sh
# Slurm HealthCheckProgram: quick checks; drains the node itself (scontrol) on a critical finding,
# resumes it only when slurm-diag drained it ("sdiag:" reason) and N consecutive runs were clean,
# never touches a drain someone else set. Slurm runs it with only SLURMD_NODENAME set.
SDIAG_HOOK=healthcheck
. "$(dirname -- "$0")/_common.sh"

sdiag_run slurm_diag.health.healthcheck
rc=$?
[ $rc -eq 0 ] || sdiag_log "healthcheck did not complete (rc $rc)"
exit 0
