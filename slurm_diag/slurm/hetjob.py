"""A heterogeneous job (sbatch's ``#SBATCH hetjob`` separator) as one job.

Slurm keeps a heterogeneous job as one record per component: 123+0 (the leader, which runs the
batch script and writes its output) and 123+1, ... (raw ids 124, ...), each with its own nodes,
steps and state. squeue and sacct print the components; a user asks about the job. Pure: the
client reads the components, this puts them together.
"""

from __future__ import annotations

from dataclasses import replace

from slurm_diag.slurm.records import HetComponent, Job, JobStep


def offset(job: Job) -> int:
    """A component's place in its job: 0 for the leader (123+0)."""
    _, _, after = job.job_id.partition("+")
    return int(after) if after.isdigit() else 0


def _step(step: JobStep, k: int) -> JobStep:
    # a later component's steps are named as sacct names them after the job id: 123+1.0 -> "+1.0"
    return step if k == 0 else replace(step, step_id=f"+{k}.{step.step_id}")


def _tres(components: list[Job]) -> tuple[tuple[str, str], ...]:
    """The components' allocations added up (memory in kilobytes, counts as counts); a value that
    is neither is the leader's."""
    from slurm_diag.slurm.parse import size_kb

    total: dict[str, str] = {}
    for job in components:
        for key, value in job.alloc_tres:
            if key not in total:
                total[key] = value
            elif key == "mem":
                total[key] = _size((size_kb(total[key]) or 0) + (size_kb(value) or 0))
            elif total[key].isdigit() and value.isdigit():
                total[key] = str(int(total[key]) + int(value))
    return tuple(sorted(total.items()))


def _size(kb: int) -> str:
    """Kilobytes as Slurm prints a size: 409600 -> "400M"."""
    for unit, scale in (("T", 1024 ** 3), ("G", 1024 ** 2), ("M", 1024)):
        if kb and kb % scale == 0:
            return f"{kb // scale}{unit}"
    return f"{kb}K"


def _sum(values) -> float | None:
    found = [v for v in values if v is not None]
    return sum(found) if found else None


def whole(base: str, components: list[Job]) -> Job:
    """The job ``base`` from its components: the leader's name, paths and times, every component's
    nodes, steps and allocation, and the memory they used together (they run side by side), against
    the memory they had together. Its state and exit code are the leader's, or the first
    component's that failed where the leader did not."""
    parts = sorted(components, key=offset)
    leader = parts[0]
    ended = next((c for c in parts if c.failed), leader) if not leader.failed else leader
    ends = [c.end for c in parts]
    nodes = tuple(dict.fromkeys(n for c in parts for n in c.nodes))
    return replace(
        leader, job_id=base, job_id_raw=base, het_job_id=base,
        het_components=tuple(HetComponent(c.job_id, c.job_id_raw, c.state, c.nodes, c.mem_alloc_kb) for c in parts),
        state=ended.state, state_detail=ended.state_detail, exit_code=ended.exit_code, signal=ended.signal,
        reason=ended.reason or leader.reason, end=max(ends) if all(ends) else None,
        elapsed_s=max((c.elapsed_s for c in parts if c.elapsed_s is not None), default=None),
        nodes=nodes, node_list=",".join(c.node_list for c in parts if c.node_list),
        alloc_tres=_tres(parts), alloc_cpus=_sum(c.alloc_cpus for c in parts),
        steps=tuple(_step(s, offset(c)) for c in parts for s in c.steps),
        max_rss_kb=max((c.max_rss_kb for c in parts if c.max_rss_kb is not None), default=None),
        mem_used_kb=_sum(c.mem_used_kb for c in parts),       # the components run side by side
        total_cpu_s=_sum(c.total_cpu_s for c in parts), polled_cpu_s=_sum(c.polled_cpu_s for c in parts),
        sources=tuple(dict.fromkeys(s for c in parts for s in c.sources)))


def component_of(job: Job, step: JobStep) -> HetComponent | None:
    """The component of heterogeneous ``job`` that ran ``step`` ("+1.0" ran in 123+1, "batch" in
    the leader); None for any other job."""
    if not job.het_components:
        return None
    k = int(step.step_id[1:].split(".", 1)[0]) if step.step_id.startswith("+") else 0
    return next((c for c in job.het_components if c.job_id.endswith(f"+{k}")), None)


def describe(component: dict) -> str:
    """A component (HetComponent.to_dict()) in a few words: "123+1 on node2 (60 MiB) OUT_OF_MEMORY"."""
    mem = f" ({component['mem_alloc_kb'] // 1024} MiB)" if component["mem_alloc_kb"] else ""
    return f"{component['job_id']} on {','.join(component['nodes']) or '-'}{mem} {component['state']}"


def collapse(jobs: list[Job]) -> list[Job]:
    """``jobs`` with each heterogeneous job's components as one job, where its first component was.
    Components listed without their leader (a listing by state or time that left it out) stay as
    they are: the job's name, paths and batch script are the leader's."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        if job.het_job_id:
            groups.setdefault(job.het_job_id, []).append(job)
    out = []
    for job in jobs:
        group = groups.get(job.het_job_id or "")
        if not group or not any(offset(c) == 0 for c in group):
            out.append(job)
        elif job is group[0]:
            out.append(whole(job.het_job_id, group))
    return out
