"""`make demo`: the toolkit on the built-in local cluster, step by step, as an admin would see it."""

from __future__ import annotations

import sys

from slurm_diag import config as config_mod
from slurm_diag.devcluster import cluster
from slurm_diag.errors import SdiagError
from slurm_diag.slurm import CommandClient

FAILING_JOB = """#!/bin/sh
#SBATCH -J demo-fails
echo "loading model"
echo "RuntimeError: CUDA error: an illegal memory access was encountered" >&2
exit 3
"""


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def main() -> int:
    cfg = config_mod.load()
    lay = cluster.layout(cfg=cfg)
    step(f"local Slurm cluster under {lay.base}")
    cluster.up(lay, say=lambda m: print(f"  {m}", flush=True))
    slurm = CommandClient(conf=str(lay.slurm_conf), timeout=30)
    for node in slurm.list_nodes():
        print(f"  {node.name:6} {'+'.join([node.state, *node.flags]):14} gpus {node.gpus_used}/{node.gpus}"
              f"  {node.reason or ''}")

    step("submitting a job that fails (exit 3)")
    job_id = slurm.submit(FAILING_JOB, ["-o", "/tmp/sdiag-demo-%j.out", "--gres=gpu:1"], workdir="/tmp")
    print(f"  job {job_id} submitted; waiting for it to end", flush=True)
    job = slurm.wait(job_id, timeout=60)

    step(f"what the Slurm adapter knows about job {job_id}  (sdiag-agent job {job_id})")
    print(f"  state      {job.state_detail}   exit code {job.exit_code}, signal {job.signal}")
    print(f"  nodes      {job.node_list}   GPUs {job.gpus}   elapsed {job.elapsed_s} s")
    print(f"  stdout     {job.stdout}")
    for s in job.steps:
        print(f"  step {s.step_id:6} {s.state:10} exit {s.exit_code}:{s.signal}")
    print(f"\nSLURM_CONF={lay.slurm_conf}   (eval $(sdiag-agent devcluster env) to use sinfo/sacct yourself)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SdiagError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
