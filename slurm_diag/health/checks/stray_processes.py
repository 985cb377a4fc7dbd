"""Processes holding GPU memory before a job starts (leftovers of an earlier job): the new job
would run out of memory or share the GPU. Judged on the job's own GPUs in the prolog and epilog;
elsewhere GPU processes may belong to running jobs, so they are only listed."""

from __future__ import annotations

from slurm_diag.health.checks._gpu import unreadable
from slurm_diag.health.registry import check
from slurm_diag.health.result import CheckResult, critical, ok, unknown

NAME = "stray_processes"


def evaluate(gpus, job_gpus: list[int] | None, context: str, min_mib: float) -> list[CheckResult]:
    judged = context in ("prolog", "epilog")
    scope = [g for g in gpus if job_gpus is None or g.index in job_gpus]
    results, listed = [], []
    for g in scope:
        if g.processes is None:
            if "processes" in g.errors and judged:
                results.append(unknown(NAME, f"gpu{g.index} processes unknown: {g.errors['processes']}",
                                       gpu=g.index, next_step="check nvidia-smi on the node"))
            continue
        holding = [p for p in g.processes if (p.used_memory_mib or 0) >= min_mib]
        if not holding:
            continue
        desc = ", ".join(f"pid {p.pid} ({p.used_memory_mib:.0f} MiB)" if p.used_memory_mib is not None
                         else f"pid {p.pid}" for p in holding)
        listed.append({"gpu": g.index, "pids": [p.pid for p in holding]})
        if judged:
            when = "before the job starts" if context == "prolog" else "after the job ended"
            results.append(critical(NAME, f"gpu{g.index} held by {desc} {when}, expected no processes: "
                                          "kill them or drain", gpu=g.index,
                                    observed=[{"pid": p.pid, "used_mib": p.used_memory_mib} for p in holding],
                                    expected=[], next_step="kill the stray processes (fuser -v /dev/nvidia*), "
                                                           "then resume; drain if they cannot be killed"))
    if not results:
        if listed and not judged:
            results.append(ok(NAME, f"GPU processes present ({context}: they may belong to running jobs)",
                              data={"processes": listed}))
        else:
            results.append(ok(NAME, f"no stray processes on {'the job' if job_gpus is not None else 'any'} GPU"
                                    f"{'s' if job_gpus is None or len(job_gpus) != 1 else ''}"))
    return results


@check(NAME, needs_gpus=True)
def run(ctx) -> list[CheckResult]:
    reading = ctx.gpus()
    if reading.error:
        expected, source = ctx.expected_gpus()
        return [unreadable(NAME, reading, expected, source)]
    return evaluate(reading.gpus, ctx.job_gpus, ctx.context, ctx.threshold("stray_process_min_mib"))
