"""Did the job ask Slurm for what it could have, and use it? What a log alone cannot judge:

- GPUs: a line saying the process found no GPU is the same line whether the job asked for none or
  the node lost its GPUs (explain --log says unknown). The job's record decides the first case: a
  job whose AllocTRES holds no GPU ran where Slurm gave it none, and the fix is in its own request.
- Its output file: when slurmstepd cannot create the --output or --error file (a directory that
  does not exist, or one the user cannot write), the job ends before its script runs, with no log
  at all, and Slurm records it as signal 53 (the batch step's return code 4021, masked to a signal
  number), which reads like a cancel.
- Its memory: a SIGKILL is most often the OOM killer, but a time limit, a cancel or an
  administrator send it too. What the job used of the memory it asked for (seff's efficiency)
  tells them apart: near all of it is the memory limit; under half of it is not.
- Its time: a job that reached its limit while its CPUs sat idle was waiting (for input, a lock, a
  file, a peer), not computing, and more time will not help it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from slurm_diag.diagnose import logfile
from slurm_diag.diagnose.evidence import CONTEXT_TIER, SYMPTOM_TIER, Evidence, finding

# a program that wanted a GPU and found none (CUDA, its driver API, PyTorch, ROCm/HIP, NCCL's process
# group, Kokkos); not nvidia-smi's "No devices were found", which scripts print for the record
NO_GPU = re.compile(
    r"No CUDA GPUs are available|no CUDA-capable device is detected|\bcudaErrorNoDevice\b|\bCUDA_ERROR_NO_DEVICE\b|"
    r"Found no NVIDIA driver on your system|CUDA driver initialization failed, you might not have a CUDA gpu|"
    r"No HIP GPUs are available|\bhipErrorNoDevice\b|no ROCm-capable device is detected|"
    r"ProcessGroupNCCL is only supported with GPUs, no GPUs found|"
    r"compiled with GPU-enabled backend but no GPUs are requested")
# the same words printed on the way to running on the CPU: torch's UserWarning, TensorFlow's cuInit log line
_WARNING = re.compile(r"warn|failed call to cuInit|falling back", re.IGNORECASE)
OUTPUT_FIX = ("create the directory of --output/--error before sbatch (mkdir -p DIR; Slurm does not create it), "
              "or point them at a directory the job's user can write on every node")
GPU_FIX = ("ask Slurm for the GPUs the code uses: #SBATCH --gres=gpu:N (or --gpus=N), in a partition whose nodes "
           "have GPUs (sinfo -o '%P %G' lists them); a job that asks for none is kept from the node's GPUs")


def gave_no_gpu(job) -> bool:
    """Slurm's record says the job had no GPU (its AllocTRES is known and holds none)."""
    return bool(job.alloc_tres) and not job.gpus


def gpus(job, found: list[Evidence], logs) -> None:
    """Lines saying the process found no GPU, in a job whose AllocTRES holds none: the log's
    reading of them as the node's driver or runtime (infra) drops to context, whatever else the job
    shows. Where the job failed on such an error, that is the cause (the job's request, tier 1,
    first among Slurm's facts); many CPU jobs print such a line as a warning and go on, so only a
    failed job counts, only an error (not a warning), and never over another cause the log or
    Slurm names (a missing module, an OOM). A job that had GPUs and saw none is not settled here.
    ``logs``: (stream, LogText) as read."""
    hits = _lines(logs)
    if not hits or not gave_no_gpu(job):
        return
    at = {(w, n) for w, n, _ in hits}

    def on_these(ev) -> bool:
        raw = ev.finding.get("raw") or {}
        return ev.finding.get("source") == "log" and bool(ev.lines) and isinstance(raw, dict) \
            and all((raw.get("where"), n) in at for n in ev.lines)

    # whatever else is decided: a job that asked for no GPU cannot blame the node for not showing one
    for ev in found:
        if ev.scope == "infra" and ev.tier < CONTEXT_TIER and on_these(ev):
            ev.tier = CONTEXT_TIER
            ev.finding["summary"] += " (the job asked Slurm for no GPU)"
    errors = [hit for hit in hits if not _WARNING.search(hit[2])]
    if not errors or job.state != "FAILED" \
            or any(ev.label and ev.tier <= 2 and not on_these(ev) for ev in found):
        return
    where, line_no, text = errors[0]
    tres = ",".join(f"{k}={v}" for k, v in job.alloc_tres)
    found.insert(0, Evidence(finding(
        "sacct:no-gpu-asked", "sacct", "CRITICAL",
        f"the job asked Slurm for no GPU (AllocTRES {tres}), yet its code looked for one: {text[:200]}",
        job_id=job.job_id, raw={"where": where, "line": line_no, "text": text[:300], "alloc_tres": tres}),
        "user_code", "user", "gres", 1))


def _lines(logs) -> list[tuple[str, int, str]]:
    """(stream, line number, text) of every line saying the process found no GPU, warnings too."""
    return [(where, n, line.strip()) for where, log in logs for n, line in enumerate(log.lines, 1)
            if NO_GPU.search(line)]


OUTPUT_SIGNAL = 53


def output_file(job, found: list[Evidence], paths: list[tuple[str, str]]) -> None:
    """A job whose batch step ended with signal 53: Slurm could not create its output file. Where
    the file's directory does not exist here either, or the job's own user runs this and may not
    write the file or in its directory, that is the cause (tier 1); otherwise the directory may be
    missing on the node (a filesystem not mounted there) or not writable by the job's user (tier 2,
    the filesystem also ranked). ``paths``: job_facts.log_paths(job)."""
    batch = next((s for s in job.steps if s.step_id == "batch"), None)
    if OUTPUT_SIGNAL not in (job.signal, batch.signal if batch else None):
        return
    paths = [(stream, os.path.join(job.work_dir or "", path)) for stream, path in paths]
    known = bool(job.stdout or job.stderr)          # else the path is Slurm's default, a guess
    own = _own(job)

    def look() -> tuple[list, list]:
        gone = [(stream, path) for stream, path in paths if known and _no_dir(os.path.dirname(path) or ".")]
        return gone, [(stream, path, why) for stream, path in paths if known and (stream, path) not in gone
                      and own and (why := _unwritable(path))]
    try:
        looked, unanswered = logfile.within(look, [path for _, path in paths]) if known else ([], []), None
    except logfile.Unanswered as exc:
        looked, unanswered = ([], []), str(exc)
    missing, closed = [tuple(m) for m in looked[0]], [tuple(c) for c in looked[1]]
    if closed and not missing:
        where = "; ".join(f"{stream} {path}: {job.user} {why}" for stream, path, why in closed)
        summary = (f"Slurm could not create the job's output file, so the job ended before its script ran "
                   f"(signal {OUTPUT_SIGNAL}): {where}")
        tier, also = 1, ()
    elif missing:
        where = "; ".join(f"{stream} {path}: its directory {os.path.dirname(path)} does not exist"
                          for stream, path in missing)
        summary = (f"Slurm could not create the job's output file, so the job ended before its script ran "
                   f"(signal {OUTPUT_SIGNAL}): {where}. Slurm does not create the directories of --output and --error")
        tier, also = 1, ()
    else:
        named = (f"{', '.join(path for _, path in paths)}; whether its directory exists could not be checked "
                 f"here: {unanswered}" if unanswered else
                 f"{', '.join(path for _, path in paths)}; its directory exists here, so on the node it may be "
                 f"missing (a filesystem not mounted there) or {job.user or 'the job user'} may not write to it"
                 if known else "the paths are no longer known (slurmctld has forgotten the job)")
        summary = (f"Slurm could not open the job's files (its --output or --error, or an --input file that is "
                   f"missing), so the job ended before its script ran (signal {OUTPUT_SIGNAL}): {named}")
        tier, also = 2, ("filesystem",)
    found.insert(0, Evidence(finding("sacct:output-file", "sacct", "CRITICAL", summary, job_id=job.job_id,
                                     raw={"signal": OUTPUT_SIGNAL, "paths": [p for _, p in paths],
                                          "missing_dirs": sorted({os.path.dirname(p) for _, p in missing})}),
                             "user_code", "user", "slurm-output", tier, also=also))
    for ev in found[1:]:             # the batch step's CANCELLED is how Slurm ends such a job, not a cancel
        if ev.id in ("sacct-step-batch:state", "sacct:state") and ev.label == "scheduler":
            ev.label = None
            ev.finding["summary"] += " (how Slurm ends a job whose output file it could not create)"


def _no_dir(where: str) -> bool:
    """Whether ``where`` is known not to be a directory: missing, or a file. One this process may not
    look into (a 0700 home, an NFS export that squashes root) is not known to be missing."""
    try:
        return not stat.S_ISDIR(os.stat(where).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False


def _unwritable(path: str) -> str | None:
    """Why this process may not open ``path`` to write and create, as slurmstepd does for the job's
    user: an existing file it may not write, one the kernel refuses (fs.protected_regular: another
    user's file in a sticky, world-writable directory such as /tmp), or a directory it may not
    create the file in; None if it may."""
    where = os.path.dirname(path) or "."
    if os.path.isfile(path):
        if not os.access(path, os.W_OK):
            return f"may not write {path} (the file exists and its permissions do not let them)"
        refused = _protected(path, where)
        return f"may not open {path}: {refused}" if refused else None
    return None if os.access(where, os.W_OK | os.X_OK) else f"may not write in {where}"


PROTECTED_REGULAR = Path("/proc/sys/fs/protected_regular")


def _protected(path: str, where: str) -> str | None:
    """The kernel's fs.protected_regular refusal of an O_CREAT open, or None."""
    try:
        level = int(PROTECTED_REGULAR.read_text())
        f, d = os.stat(path), os.stat(where)
    except (OSError, ValueError):
        return None
    shared = stat.S_IWOTH if level == 1 else stat.S_IWOTH | stat.S_IWGRP      # 2: group-writable ones too
    if level and d.st_mode & stat.S_ISVTX and d.st_mode & shared and f.st_uid not in (os.getuid(), d.st_uid):
        return (f"another user's file in a sticky, shared directory, which the kernel refuses to open for writing "
                f"(fs.protected_regular={level})")
    return None


def _own(job) -> bool:
    """Whether this process runs as the job's user, so that what it may write is what the job may."""
    import pwd

    try:
        return pwd.getpwnam(job.user).pw_uid == os.getuid() != 0
    except (KeyError, TypeError):
        return False


MEMORY_FULL = 0.9       # of the memory asked for, used at the peak Slurm sampled: the limit
MEMORY_LOW = 0.5        # under this, a SIGKILL was not the memory limit
MEMORY_LOW_ID = "sacct:memory-low"
_SIGKILL = (":signal", ":host-oom-sigkill")      # Slurm's signal 9, a log's "killed by signal 9"


def memory(job, found: list[Evidence]) -> None:
    """A job whose only word on memory is a SIGKILL (Slurm's signal, a log's "killed by signal 9"; not
    Slurm's own word that a step hit its limit, which sampling may miss):
    with its peak near the memory it asked for, the kill was its limit (tier 2, decides); far under
    it, the SIGKILL argues for nothing more than a symptom. Slurm samples memory (every
    JobAcctGatherFrequency seconds), so an unsampled job, or one Slurm already called
    OUT_OF_MEMORY, is left as it is; so is a cancelled job (its owner's SIGKILL), and a job on
    several nodes, whose limit is per node while the figures are the job's total."""
    share = job.mem_efficiency
    kills = [ev for ev in found if ev.label == "host_oom" and ev.id.endswith(_SIGKILL)]
    if share is None or job.state in ("OUT_OF_MEMORY", "CANCELLED") or len(job.nodes) > 1 or not kills \
            or any(ev.label == "host_oom" and ev.tier < SYMPTOM_TIER and not ev.id.endswith(_SIGKILL) for ev in found):
        return
    used, asked = job.mem_used_kb / 1024, job.mem_alloc_kb / 1024
    figures = f"{used:.0f} MiB of the {asked:.0f} MiB it asked for ({share:.0%})"
    raw = {"mem_used_kb": job.mem_used_kb, "mem_alloc_kb": job.mem_alloc_kb, "share": round(share, 3)}
    if share >= MEMORY_FULL:
        found.insert(0, Evidence(finding("sacct:memory-full", "sacct", "CRITICAL",
                                         f"the job was killed by SIGKILL at its memory limit: it used {figures}",
                                         job_id=job.job_id, raw=raw), "host_oom", "user", "memory", 2))
    elif share < MEMORY_LOW:
        for ev in kills:
            ev.tier = max(ev.tier, SYMPTOM_TIER)
            if ev.finding["source"] == "sacct":
                ev.finding["summary"] = (f"killed by SIGKILL after using at most {figures}: probably not its memory "
                                         f"limit (a cancel, a time limit, an administrator or the job itself)")
            else:               # the figures first: an explanation quotes a summary's first 160 characters
                ev.finding["summary"] = (f"a process was killed by SIGKILL, but the job used at most {figures}: "
                                         f"probably not its memory limit: {ev.finding['raw']['text'].strip()[:300]}")
        found.append(Evidence(finding(MEMORY_LOW_ID, "sacct", "OK",
                                      f"the job used at most {figures}: its SIGKILL was probably not the memory "
                                      f"limit (a cancel, a time limit, an administrator or the job itself)",
                                      job_id=job.job_id, raw=raw)))


STEP_WAIT_FIX = ("give each step its share of the job, so steps started together do not wait on each other: "
                 "srun --exact with -n/-c, --mem and --gres per step (Slurm 21.08 and later), or start fewer steps "
                 "at once; or ask the job for enough for all of them (#SBATCH -n, --mem, --gres)")
IDLE_SHARE = 0.05       # of one core over the whole run: a job under it was waiting, not computing
IDLE_FIX = ("more time will not help: the job sat waiting, not computing. Its output's last lines show where it "
            "stopped; look for a prompt for input (a batch job has none), a lock, a file or a peer that never came, "
            "or a filesystem that hung")


def idle_cpu_s(job) -> float | None:
    """The CPU seconds of a job without GPUs that reached its time limit having used under 5% of one
    core, or None. The CPU time is the larger of what the processes reported (TotalCPU) and what
    accounting polled, so a kill that lost the processes' own count cannot make a busy job look
    idle. A GPU job is left out: a busy GPU can leave its CPU idle."""
    counted = [c for c in (job.total_cpu_s, job.polled_cpu_s) if c is not None]
    if job.state != "TIMEOUT" or job.gpus or not counted or not job.elapsed_s or job.elapsed_s < 60:
        return None
    cpu = max(counted)
    return cpu if cpu < IDLE_SHARE * job.elapsed_s else None


def time_limit(job, found: list[Evidence]) -> None:
    """A job idle at its time limit (idle_cpu_s) was waiting, and the time limit is only how it
    ended: tier 1, first among Slurm's facts, so it heads the time limit's evidence and its step
    replaces the --time advice. Where the job's nodes show a fault of their own (a node down, a
    filesystem, a critical health check), that is what it waited on: the time limit ranks after it."""
    cpu = idle_cpu_s(job)
    if cpu is None:
        return
    faults = [ev.tier for ev in found if ev.scope == "infra" and ev.label and ev.tier <= 2
              and ev.finding.get("source") != "log"]
    if faults:                      # what it waited on: the time limit ranks after the node's fault
        for ev in found:
            if ev.label == "time_limit":
                ev.tier = max(ev.tier, min(faults) + 1)
        return
    waited = next((ev for ev in found if ev.id.endswith(":step-wait") and ev.finding["raw"].get("still_waiting")),
                  None)
    on_what = "" if waited is None else (f": srun waited to start a step the job's other steps left no room for "
                                        f"({waited.finding['raw']['where']} line {waited.lines[0]})")
    found.insert(0, Evidence(finding(
        "sacct:idle-step-wait" if waited else "sacct:idle-at-limit", "sacct", "CRITICAL",
        f"the job reached its time limit having used {cpu:.0f} s of CPU in {job.elapsed_s} s (under "
        f"{IDLE_SHARE:.0%} of one core): it was waiting, not computing{on_what}",
        job_id=job.job_id, raw={"cpu_s": cpu, "elapsed_s": job.elapsed_s}), "time_limit", "user", "slurm", 1))
