"""slurm-diag: keep a GPU Slurm cluster healthy and explain failed or slow jobs."""

__version__ = "0.1.0"
