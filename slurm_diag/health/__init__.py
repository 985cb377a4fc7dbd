"""Node health: checks registered one family per module (``slurm_diag/health/checks/``), each a pure
decision over an observation plus thresholds from the ``health`` config section, run concurrently
with per-check timeouts by the prolog, the epilog, the HealthCheckProgram and ``sdiag-agent health``.
"""
