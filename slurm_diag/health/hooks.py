"""The three Slurm entry points (prolog, epilog, HealthCheckProgram) over the same checks.

Exit codes of the prolog/epilog modules: 0 let the job run (or the node go on), BLOCK (42) keep
the job off the node. ``prolog/prolog.sh`` turns 42 into a non-zero exit, so Slurm drains the node
and requeues the job, and treats anything else (a crash, a timeout) as "fail open": a bug in
slurm-diag must not drain the cluster. The hot path imports only the standard library and small
slurm_diag modules (no click, no jsonschema, no numpy).
"""

from __future__ import annotations

import os
import sys
import time

from slurm_diag.health import policy, runner, spool, state
from slurm_diag.health.context import Context, node_name, parse_gpu_list
from slurm_diag.health.settings import Settings, load

BLOCK = 42
LEVELS = ("quick", "full", "off")
CACHE_TTL_S = 600


def _log(msg: str) -> None:
    print(f"sdiag: {msg}", file=sys.stderr, flush=True)


def job_level(env, settings: Settings) -> str:
    """SPANK's --health-check (SPANK_SDIAG_HEALTH) wins over the config's default."""
    chosen = (env.get("SPANK_SDIAG_HEALTH") or env.get("SDIAG_HEALTH") or "").strip().lower()
    return chosen if chosen in LEVELS else settings.get("level")


def _drained_cache(settings: Settings) -> dict:
    return state.read(settings.home, "_cluster", "sdiag-drained")


def remember_drained(settings: Settings, nodes: list[str]) -> None:
    try:
        state.write(settings.home, "_cluster", "sdiag-drained", {"time": time.time(), "nodes": nodes})
    except OSError:
        pass


def sdiag_drained_for_cap(settings: Settings) -> list[str] | None:
    """Nodes slurm-diag holds drained: the HealthCheckProgram's recent answer, else one bounded
    scontrol call (only on the path that is about to drain). None when nobody can tell."""
    cached = _drained_cache(settings)
    if cached and time.time() - cached.get("time", 0) < CACHE_TTL_S:
        return list(cached.get("nodes", []))
    from slurm_diag.health import slurm_calls

    try:
        nodes = slurm_calls.sdiag_drained_nodes(min(3.0, settings.get("policy.slurm_timeout_s")))
    except slurm_calls.SlurmCallError:
        return None
    remember_drained(settings, nodes)
    return nodes


def _decide_block(settings: Settings, report: dict, node: str) -> tuple[bool, str | None, str]:
    pol = settings.get("policy")
    findings = policy.drain_findings(report, pol)
    if not findings:
        return False, None, "no drain finding"
    reason = policy.drain_reason(findings)
    drained = sdiag_drained_for_cap(settings)
    if drained is not None and not policy.under_cap(node, drained, pol["max_drained_nodes"]):
        return False, reason, (f"cap reached: slurm-diag already holds {len(drained)} nodes drained "
                               f"(health.policy.max_drained_nodes={pol['max_drained_nodes']}); job allowed")
    return True, reason, "drain" if drained is not None else "drain (drained count unknown)"


def _record_action(settings: Settings, ctx: Context, action: str, reason: str | None, note: str) -> None:
    try:
        spool.write(settings, "actions", ctx.node, {
            "node": ctx.node, "job_id": ctx.job_id, "context": ctx.context, "action": action,
            "reason": reason, "note": note, "time": time.time()}, tag=ctx.context)
    except OSError as exc:
        _log(f"cannot spool action: {exc}")


def run_hook(context: str, env=None, settings: Settings | None = None, detach=None) -> int:
    """Prolog or epilog. Returns 0 or BLOCK; never raises for a node problem."""
    env = dict(os.environ if env is None else env)
    settings = settings or load(validate=False)
    level = job_level(env, settings) if context == "prolog" else "quick"
    if level == "off":
        return 0
    job_gpus = parse_gpu_list(env.get("SLURM_JOB_GPUS")) or parse_gpu_list(env.get("CUDA_VISIBLE_DEVICES"))
    ctx = Context(settings=settings, context=context, level=level, node=node_name(env),
                  job_id=env.get("SLURM_JOB_ID"), job_gpus=job_gpus, env=env)
    if context == "epilog":
        record_job_end(settings, ctx, env)
    report = runner.check_node(ctx)
    try:
        spool.write(settings, "health", ctx.node, report, tag=f"{context}-{ctx.job_id or 'nojob'}")
    except OSError as exc:
        _log(f"cannot spool the report: {exc}")
    block, reason, note = _decide_block(settings, report, ctx.node)
    bad = [c for c in report["checks"] if c["status"] != "OK"]
    _log(f"{context} job {ctx.job_id} on {ctx.node}: {report['status']} in {report['duration_s']:.3f} s"
         + "".join(f"\n  {c['status']} {c['name']}: {c['message']}" for c in bad[:8]))
    if reason:
        _record_action(settings, ctx, "drain" if block else "none", reason, note)
    if not block:
        if reason:
            _log(note)
        return 0
    _log(f"blocking the job: {reason}")
    from slurm_diag.health import slurm_calls

    (detach or slurm_calls.drain_detached)(ctx.node, reason)
    return BLOCK


def record_job_end(settings: Settings, ctx: Context, env) -> None:
    """What the epilog knows about the job's end: exit code (wait status decoded), signal, state."""
    raw = env.get("SLURM_JOB_EXIT_CODE")
    code = signal = None
    if raw and raw.lstrip("-").isdigit():
        status = int(raw)
        code, signal = (status >> 8) & 0xFF, status & 0x7F
    derived = env.get("SLURM_JOB_DERIVED_EC")
    if code is None:
        guess = "UNKNOWN"
    elif signal:
        guess = "CANCELLED" if signal in (9, 15) else "FAILED"
    else:
        guess = "COMPLETED" if code == 0 else "FAILED"
    doc = {"job_id": ctx.job_id, "node": ctx.node, "time": time.time(), "exit_code": code,
           "signal": signal, "raw_exit_status": raw, "derived_exit_code": derived,
           "exit_code2": env.get("SLURM_JOB_EXIT_CODE2"), "state": guess,
           "state_source": "epilog guess from the wait status; sacct has the final state",
           "partition": env.get("SLURM_JOB_PARTITION"), "user": env.get("SLURM_JOB_USER"),
           "gpus": env.get("SLURM_JOB_GPUS")}
    try:
        spool.write(settings, "jobs", ctx.node, doc, tag=f"end-{ctx.job_id}")
    except OSError as exc:
        _log(f"cannot spool the job end: {exc}")


def run_healthcheck(env=None, settings: Settings | None = None, calls=None) -> dict:
    """HealthCheckProgram: check, then drain / resume by itself. Returns what it did."""
    from slurm_diag.health import slurm_calls

    calls = calls or slurm_calls
    env = dict(os.environ if env is None else env)
    settings = settings or load(validate=True)
    pol = settings.get("policy")
    ctx = Context(settings=settings, context="healthcheck", level="quick", node=node_name(env), env=env)
    report = runner.check_node(ctx)
    try:
        spool.write(settings, "health", ctx.node, report, tag="healthcheck")
    except OSError as exc:
        _log(f"cannot spool the report: {exc}")
    remembered = state.read(settings.home, ctx.node, "healthcheck")
    timeout = pol["slurm_timeout_s"]
    outcome = {"node": ctx.node, "status": report["status"], "action": "none"}
    try:
        view = calls.get_node(ctx.node, timeout)
        drained = calls.sdiag_drained_nodes(timeout)
    except slurm_calls.SlurmCallError as exc:
        outcome["note"] = f"Slurm unreachable, nothing done: {exc}"
        _log(outcome["note"])
        clean = policy.is_clean(report, pol)
        state.write(settings.home, ctx.node, "healthcheck",
                    {"clean_runs": remembered.get("clean_runs", 0) + 1 if clean else 0, "time": time.time()})
        return outcome
    remember_drained(settings, drained)
    decision = policy.healthcheck_decision(report, view, remembered.get("clean_runs", 0), pol, drained)
    outcome.update(action=decision.action, reason=decision.reason, note=decision.note)
    try:
        if decision.action == "drain":
            calls.drain_node(ctx.node, decision.reason, timeout)
            remember_drained(settings, sorted(set(drained) | {ctx.node}))
        elif decision.action == "resume":
            calls.resume_node(ctx.node, timeout)
            remember_drained(settings, [n for n in drained if n != ctx.node])
    except slurm_calls.SlurmCallError as exc:
        outcome["note"] = f"{decision.action} failed: {exc}"
    state.write(settings.home, ctx.node, "healthcheck", {"clean_runs": decision.clean_runs, "time": time.time()})
    if decision.action != "none":
        _record_action(settings, ctx, decision.action, decision.reason, outcome["note"])
    _log(f"healthcheck {ctx.node}: {report['status']}; {decision.action}: {outcome['note']}")
    return outcome


def hook_main(context: str) -> int:
    """Entry for ``python -m slurm_diag.health.prolog|epilog``: fail open on internal errors."""
    try:
        return run_hook(context)
    except Exception as exc:  # a slurm-diag bug or a broken config: never drain for it
        _log(f"{context} internal error, job allowed: {exc!r}")
        return 0
