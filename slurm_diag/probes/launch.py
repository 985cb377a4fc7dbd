"""Start a multi-rank probe on this machine through mpirun (local runs only; on the cluster the job
scripts use `srun --mpi=pmix`). One gateway: argv list, a timeout, the process group killed on it."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from slurm_diag import process
from slurm_diag.errors import EnvironmentProblem

MPI_ENV_MARKERS = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "MPI_LOCALNRANKS")


def under_mpi(env: dict | None = None) -> bool:
    """True when this process is already one rank of an MPI or srun launch."""
    env = os.environ if env is None else env
    if any(k in env for k in MPI_ENV_MARKERS):
        return True
    return int(env.get("SLURM_NTASKS", "1") or 1) > 1 and "SLURM_PROCID" in env


def mpirun_argv(mpirun: str, ranks: int, probe: str, out: Path, params: dict) -> list[str]:
    argv = [mpirun, "-n", str(ranks), "--oversubscribe", sys.executable, "-m", "slurm_diag.probes",
            probe, "--out", str(out)]
    for key, value in params.items():
        argv += ["--param", f"{key}={value}"]
    return argv


def run_mpi(probe: str, ranks: int, params: dict, timeout_s: float = 600.0) -> list[dict]:
    """Run `probe` over `ranks` local MPI ranks; return rank 0's ProbeResults."""
    import json

    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise EnvironmentProblem("mpirun is not on PATH", hint="install Open MPI (apt install openmpi-bin)")
    env = {}
    if os.geteuid() == 0:   # Open MPI refuses root unless told twice
        env = {k: os.environ.get(k, "1") for k in ("OMPI_ALLOW_RUN_AS_ROOT", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM")}
    with tempfile.TemporaryDirectory(prefix="sdiag-probe-") as tmp:
        out = Path(tmp) / "result.json"
        try:
            done = process.run(mpirun_argv(mpirun, ranks, probe, out, params), timeout=timeout_s, env=env)
        except process.ProcessTimeout:
            raise EnvironmentProblem(f"mpirun -n {ranks} {probe} ran past {timeout_s:.0f} s and was stopped",
                                     hint="lower max_bytes or raise the timeout") from None
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout or "").strip().splitlines()[-5:]
            raise EnvironmentProblem(f"mpirun -n {ranks} {probe} exited {done.returncode}: " + " | ".join(tail),
                                     hint="check that mpi4py imports and mpirun works on this node")
        return json.loads(out.read_text())
