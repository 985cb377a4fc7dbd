"""Did the job ask Slurm for what its code needed? A log line saying the process found no GPU is
the same line whether the job asked for none or the node lost its GPUs: a log alone leaves it
open (explain --log says unknown). The job's record decides the first case: a job whose AllocTRES
holds no GPU ran where Slurm gave it none, and the fix is in its own request."""

from __future__ import annotations

import re

from slurm_diag.diagnose.evidence import Evidence, finding

# a program that wanted a GPU and found none (CUDA, its driver API, PyTorch, ROCm/HIP, NCCL's process
# group, Kokkos); not nvidia-smi's "No devices were found", which scripts print for the record
NO_GPU = re.compile(
    r"No CUDA GPUs are available|no CUDA-capable device is detected|\bcudaErrorNoDevice\b|\bCUDA_ERROR_NO_DEVICE\b|"
    r"Found no NVIDIA driver on your system|CUDA driver initialization failed, you might not have a CUDA gpu|"
    r"No HIP GPUs are available|\bhipErrorNoDevice\b|no ROCm-capable device is detected|"
    r"ProcessGroupNCCL is only supported with GPUs, no GPUs found|"
    r"compiled with GPU-enabled backend but no GPUs are requested")
FIX = ("ask Slurm for the GPUs the code uses: #SBATCH --gres=gpu:N (or --gpus=N), in a partition whose nodes "
       "have GPUs (sinfo -o '%P %G' lists them); a job that asks for none is kept from the node's GPUs")


def gpus(job, found: list[Evidence], logs) -> None:
    """When the job's code looked for a GPU and found none: if the job asked for none, that is the
    cause (the job's, tier 1, first among Slurm's facts), and the log's own reading of the same line
    as the node's driver or runtime drops to context; if it had GPUs, the line is what the process
    saw of them, which this module does not settle. ``logs``: (stream, LogText) as read."""
    hits = _lines(logs)
    if not hits or not job.alloc_tres or job.gpus:
        return
    where, line_no, text = hits[0]
    tres = ",".join(f"{k}={v}" for k, v in job.alloc_tres)
    found.insert(0, Evidence(finding(
        "sacct:no-gpu-asked", "sacct", "CRITICAL",
        f"the job asked Slurm for no GPU (AllocTRES {tres}), yet its code looked for one: {text[:200]}",
        job_id=job.job_id, raw={"where": where, "line": line_no, "text": text[:300], "alloc_tres": tres}),
        "user_code", "user", "gres", 1))
    at = {(w, n) for w, n, _ in hits}
    for ev in found[1:]:
        raw = ev.finding.get("raw") or {}
        if ev.finding.get("source") == "log" and ev.scope == "infra" and ev.tier < 5 and ev.lines \
                and isinstance(raw, dict) and all((raw.get("where"), n) in at for n in ev.lines):
            ev.tier = 5
            ev.finding["summary"] += " (the job asked for no GPU: see sacct:no-gpu-asked)"


def _lines(logs) -> list[tuple[str, int, str]]:
    """(stream, line number, text) of every line saying the process found no GPU."""
    return [(where, n, line.strip()) for where, log in logs for n, line in enumerate(log.lines, 1)
            if NO_GPU.search(line)]
