"""The Slurm boundary: the only package that runs Slurm commands."""

from slurm_diag.slurm.client import CommandClient, SlurmClient, default_client
from slurm_diag.slurm.errors import (
    JobNotFound, NodeNotFound, SlurmCommandError, SlurmTimeout, SlurmUnavailable,
)
from slurm_diag.slurm.models import Job, JobStep, Node, NodeReason

__all__ = ["CommandClient", "SlurmClient", "default_client", "Job", "JobStep", "Node", "NodeReason",
           "JobNotFound", "NodeNotFound", "SlurmCommandError", "SlurmTimeout", "SlurmUnavailable"]
