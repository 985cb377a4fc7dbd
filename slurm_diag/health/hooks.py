"""The three Slurm entry points (prolog, epilog, HealthCheckProgram) over the same checks.

Exit codes of the prolog/epilog modules: 0 let the job run (or the node go on), BLOCK (42) keep
the job off the node. A drain finding first asks the cap (cap.claim: may slurm-diag hold one more
node drained?); only a held claim blocks, and the node is then already drained with our reason.
Cap reached or Slurm unreachable: the job runs, and what would have been done is logged and
spooled. ``prolog/prolog.sh`` turns 42 into a non-zero exit, so Slurm requeues the job, and treats
anything else (a crash, a timeout) as "fail open": a bug in slurm-diag must not drain the cluster. The hot path imports only the standard library and small
slurm_diag modules (no click, no jsonschema, no numpy).
"""

from __future__ import annotations

import os
import sys
import time

from slurm_diag.health import node_report, policy, spool, state
from slurm_diag.health.context import Context, node_name, parse_gpu_list
from slurm_diag.config import Config, load

BLOCK = 42
LEVELS = ("quick", "full", "off")


def _log(msg: str) -> None:
    print(f"sdiag: {msg}", file=sys.stderr, flush=True)


def job_level(env, cfg: Config) -> str:
    """SPANK's --health-check (SPANK_SDIAG_HEALTH) wins over the config's default."""
    chosen = (env.get("SPANK_SDIAG_HEALTH") or env.get("SDIAG_HEALTH") or "").strip().lower()
    return chosen if chosen in LEVELS else cfg.get("health.level")


def _claim_drain(cfg: Config, report: dict, node: str, client=None):
    """(reason, Claim, seconds) when a finding asks for a drain, else (None, None, 0). Slurm is asked only here,
    with short timeouts (cap.CALL_TIMEOUT_S a call, cap.DEADLINE_S in all)."""
    pol = cfg.get("health.policy")
    findings = policy.drain_findings(report, pol)
    if not findings:
        return None, None, 0.0
    from slurm_diag.health import cap, slurm_calls

    reason = policy.drain_reason(findings)
    client = client or slurm_calls.client(cfg, min(cap.CALL_TIMEOUT_S, pol["slurm_timeout_s"]))
    start = time.monotonic()
    nodes, pct = cap.limits(cfg)
    claim = cap.claim(client, node, reason, nodes, partition_pct=pct)
    return reason, claim, round(time.monotonic() - start, 3)


def _record_action(cfg: Config, ctx: Context, action: str, reason: str | None, note: str,
                   **extra) -> None:
    try:
        spool.write(cfg, "actions", ctx.node, {
            "node": ctx.node, "job_id": ctx.job_id, "context": ctx.context, "action": action,
            "reason": reason, "note": note, "time": time.time(), **extra}, tag=ctx.context)
    except OSError as exc:
        _log(f"cannot spool action: {exc}")


def run_hook(context: str, env=None, cfg: Config | None = None, detach=None, client=None) -> int:
    """Prolog or epilog. Returns 0 or BLOCK; never raises for a node problem. ``client`` is the
    SlurmClient for a drain (default: the real one); ``detach`` starts the drainer."""
    env = dict(os.environ if env is None else env)
    cfg = cfg or load(validate_schema=False)
    level = job_level(env, cfg) if context == "prolog" else "quick"
    if level == "off":
        return 0
    job_gpus = parse_gpu_list(env.get("SLURM_JOB_GPUS")) or parse_gpu_list(env.get("CUDA_VISIBLE_DEVICES"))
    ctx = Context(cfg=cfg, context=context, level=level, node=node_name(env),
                  job_id=env.get("SLURM_JOB_ID"), job_gpus=job_gpus, env=env)
    if context == "epilog":
        record_job_end(cfg, ctx, env)
    report = node_report.check_node(ctx)
    try:
        spool.write(cfg, "health", ctx.node, report, tag=f"{context}-{ctx.job_id or 'nojob'}")
    except OSError as exc:
        _log(f"cannot spool the report: {exc}")
    bad = [c for c in report["checks"] if c["status"] != "OK"]
    _log(f"{context} job {ctx.job_id} on {ctx.node}: {report['status']} in {report['duration_s']:.3f} s"
         + "".join(f"\n  {c['status']} {c['name']}: {c['message']}" for c in bad[:8]))
    reason, claim, took = _claim_drain(cfg, report, ctx.node, client)
    if claim is None:
        return 0
    _record_action(cfg, ctx, "drain" if claim.held else "none", claim.reason or reason, claim.note,
                   claim_s=took, trip_breaker=claim.capped)
    if not claim.held:
        _log(f"WARNING: would drain {ctx.node} ({reason}) but {claim.note}")
        return 0
    _log(f"blocking the job: {claim.reason}; {claim.note}")
    from slurm_diag.health import slurm_calls

    (detach or slurm_calls.drain_detached)(ctx.node, claim.reason)
    return BLOCK


def record_job_end(cfg: Config, ctx: Context, env) -> None:
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
        spool.write(cfg, "jobs", ctx.node, doc, tag=f"end-{ctx.job_id}")
    except OSError as exc:
        _log(f"cannot spool the job end: {exc}")


def run_healthcheck(env=None, cfg: Config | None = None, client=None) -> dict:
    """HealthCheckProgram: check, then drain (through the cap) or resume by itself. Returns what it did."""
    from slurm_diag.health import cap, slurm_calls
    from slurm_diag.slurm.errors import SlurmError

    env = dict(os.environ if env is None else env)
    cfg = cfg or load()
    pol = cfg.get("health.policy")
    client = client or slurm_calls.client(cfg, pol["slurm_timeout_s"])
    ctx = Context(cfg=cfg, context="healthcheck", level="quick", node=node_name(env), env=env)
    report = node_report.check_node(ctx)
    try:
        spool.write(cfg, "health", ctx.node, report, tag="healthcheck")
    except OSError as exc:
        _log(f"cannot spool the report: {exc}")
    remembered = state.read(cfg.home, ctx.node, "healthcheck")
    outcome = {"node": ctx.node, "status": report["status"], "action": "none"}
    try:
        view = client.get_node(ctx.node)
    except SlurmError as exc:
        outcome["note"] = f"Slurm unreachable, nothing done: {exc.message}"
        _log(outcome["note"])
        clean = policy.is_clean(report, pol)
        state.write(cfg.home, ctx.node, "healthcheck",
                    {"clean_runs": remembered.get("clean_runs", 0) + 1 if clean else 0, "time": time.time()})
        return outcome
    decision = policy.healthcheck_decision(report, view, remembered.get("clean_runs", 0), pol)
    action, reason, note = decision.action, decision.reason, decision.note
    capped = False
    if action == "drain":
        nodes, pct = cap.limits(cfg)
        claim = cap.claim(client, ctx.node, reason, nodes, partition_pct=pct)
        action, reason, note = ("drain" if claim.held else "none"), claim.reason or reason, claim.note
        capped = claim.capped
    elif action == "resume":
        outcome_, how = cap.resume_if_reason(client, ctx.node, view.reason)
        action, note = ("resume", note) if outcome_ == "resumed" else ("none", f"not resumed: {how}")
        reason = view.reason
    outcome.update(action=action, reason=reason, note=note)
    state.write(cfg.home, ctx.node, "healthcheck", {"clean_runs": decision.clean_runs, "time": time.time()})
    if decision.action != "none":
        _record_action(cfg, ctx, action, reason, note, trip_breaker=capped)
    _log(f"healthcheck {ctx.node}: {report['status']}; {action}: {note}")
    return outcome


def ingest_detached(cfg: Config) -> None:
    """Move the spooled reports into the store in a detached process: off the job's critical path,
    and the spool stays the buffer when the database cannot be reached."""
    from slurm_diag import process

    log = spool.spool_dir(cfg) / "ingest.log"
    try:
        process.spawn([sys.executable, "-m", "slurm_diag.store.ingest"], log=log)
    except Exception as exc:  # a missing interpreter or an unwritable spool: the reports wait
        _log(f"cannot start the spool ingest: {exc}")


def hook_main(context: str) -> int:
    """Entry for ``python -m slurm_diag.health.prolog|epilog``: fail open on internal errors."""
    try:
        code = run_hook(context)
    except Exception as exc:  # a slurm-diag bug or a broken config: never drain for it
        _log(f"{context} internal error, job allowed: {exc!r}")
        return 0
    if context == "epilog":          # the job is over: its reports can go to the store now
        try:
            ingest_detached(load(validate_schema=False))
        except Exception as exc:
            _log(f"spool ingest not started: {exc!r}")
    return code
