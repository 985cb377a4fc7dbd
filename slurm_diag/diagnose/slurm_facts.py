"""Slurm's own verdicts as evidence: the job's state, exit code and signal.

These are hard facts (a TIMEOUT is a TIMEOUT); the log can only name a deeper root cause (a GPU
that died and hung the job until its limit). Exit codes follow the shell's convention: 128+N is
"killed by signal N"."""

from __future__ import annotations

from slurm_diag.diagnose.evidence import Evidence, finding

# state -> (label, scope, component, tier, summary)
STATES = {
    "OUT_OF_MEMORY": ("host_oom", "user", "memory", 0, "Slurm ended the job OUT_OF_MEMORY (the cgroup's OOM killer)"),
    "NODE_FAIL": ("node_failure", "infra", "node", 0, "Slurm ended the job NODE_FAIL: a node failed under it"),
    "TIMEOUT": ("time_limit", "user", "slurm", 1, "Slurm ended the job TIMEOUT: it reached its time limit"),
    "DEADLINE": ("time_limit", "user", "slurm", 1, "Slurm ended the job at its deadline"),
    "PREEMPTED": ("scheduler", "infra", "slurm", 1, "Slurm preempted the job"),
    "BOOT_FAIL": ("node_failure", "infra", "node", 0, "Slurm could not boot the job's node (BOOT_FAIL)"),
    "REVOKED": ("scheduler", "infra", "slurm", 1, "the job was revoked (federation)"),
}
OUTSIDE = ": terminated from outside (cancel, preemption or time limit)"    # what a bare SIGTERM may mean
SIGNALS = {9: "SIGKILL", 6: "SIGABRT", 7: "SIGBUS", 11: "SIGSEGV", 15: "SIGTERM", 8: "SIGFPE", 4: "SIGILL"}


def evidence(state: str | None, exit_code: int | None = None, signal: int | None = None,
             job_id: str | None = None, where: str = "sacct", cancelled_by_owner: bool | None = None) -> list[Evidence]:
    out: list[Evidence] = []
    source = "given" if where == "given" else "sacct"
    state = (state or "").upper().split()[0] if state else ""
    raw = {"state": state or None, "exit_code": exit_code, "signal": signal}
    if state in STATES:
        label, scope, component, tier, summary = STATES[state]
        out.append(Evidence(finding(f"{where}:state", source, "CRITICAL", summary, job_id=job_id, raw=raw),
                            label, scope, component, tier))
    elif state == "CANCELLED":
        by_owner = cancelled_by_owner is not False
        out.append(Evidence(finding(f"{where}:state", source, "WARN",
                                    "the job was cancelled" + (" by its owner" if cancelled_by_owner else
                                                               " by an administrator" if cancelled_by_owner is False else ""),
                                    job_id=job_id, raw=raw),
                            "scheduler", "user" if by_owner else "infra", "slurm", 2 if by_owner else 1))
    if signal is None and exit_code is not None and exit_code > 128:
        signal = exit_code - 128
    if signal:
        out += _signal(signal, state, job_id, where, raw, source)
    elif exit_code in (126, 127):
        out.append(Evidence(finding(f"{where}:exit", source, "WARN",
                                    f"exit code {exit_code}: a command was not found or not executable",
                                    job_id=job_id, raw=raw), "software_env", "user", "shell", 2))
    elif exit_code:
        out.append(Evidence(finding(f"{where}:exit", source, "WARN", f"the job exited with code {exit_code}",
                                    job_id=job_id, raw=raw), "user_code", "user", "process", 4))
    return out


def _signal(signal: int, state: str, job_id, where, raw, source: str) -> list[Evidence]:
    name = SIGNALS.get(signal, f"signal {signal}")
    summary = f"the job's process was killed by {name} (exit code {128 + signal})"
    if signal == 9 and state not in STATES:
        return [Evidence(finding(f"{where}:signal", source, "WARN", summary + ": the OOM killer, a time limit "
                                 "or an administrator sends SIGKILL", job_id=job_id, raw=raw),
                         "host_oom", "user", "memory", 3)]
    if signal in (11, 7, 6, 8, 4):
        return [Evidence(finding(f"{where}:signal", source, "WARN", summary, job_id=job_id, raw=raw),
                         "user_code", "user", "process", 3)]
    if signal == 15 and state not in STATES:
        return [Evidence(finding(f"{where}:signal", source, "WARN", summary + OUTSIDE, job_id=job_id, raw=raw),
                         "scheduler", "user", "slurm", 3)]
    return [Evidence(finding(f"{where}:signal", source, "WARN", summary, job_id=job_id, raw=raw))]
