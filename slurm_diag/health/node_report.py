"""Run the registered checks for a level concurrently, each under its own timeout, and fold them
into a HealthReport (schemas/health_report.schema.json). A check that overruns or crashes becomes
UNKNOWN with the reason; the report is still produced, so a caller is never stuck on one check."""

from __future__ import annotations

import datetime
import threading
import time

from slurm_diag.health.registry import checks_for
from slurm_diag.health.result import CheckResult, unknown
from slurm_diag.status import Status


def _worker(spec, ctx, box: dict, done: threading.Event) -> None:
    start = time.monotonic()
    try:
        results = list(spec.run(ctx))
    except Exception as exc:  # a bug in a check must not hide the others
        results = [unknown(spec.name, f"check crashed: {exc!r}", next_step="report this as a slurm-diag bug")]
    for r in results:
        r.duration_s = time.monotonic() - start
    box[spec.name] = results
    done.set()


def run_checks(ctx, only: list[str] | None = None) -> list[CheckResult]:
    specs = [s for s in checks_for(ctx.level) if not only or s.name in only]
    default_timeout = float(ctx.cfg.get("health.check_timeout_s"))
    box: dict[str, list[CheckResult]] = {}
    done = threading.Event()
    start = time.monotonic()
    threads = []
    for spec in specs:
        t = threading.Thread(target=_worker, args=(spec, ctx, box, done), name=f"check-{spec.name}", daemon=True)
        t.start()
        threads.append((spec, t))
    deadlines = {spec.name: start + (spec.timeout_s or default_timeout) for spec in specs}
    while True:
        now = time.monotonic()
        waiting = [s for s, _ in threads if s.name not in box and deadlines[s.name] > now]
        if not waiting:
            break
        done.clear()
        if all(s.name in box or deadlines[s.name] <= now for s, _ in threads):
            break
        done.wait(min(deadlines[s.name] for s in waiting) - now)
    results = []
    for spec, _ in threads:
        if spec.name in box:
            results += box[spec.name]
        else:
            limit = spec.timeout_s or default_timeout
            results.append(unknown(spec.name, f"check did not finish within {limit:g} s",
                                   duration_s=limit, next_step="look for a hung driver or filesystem on the node"))
    return results


def report(ctx, results: list[CheckResult], duration_s: float) -> dict:
    status = Status.worst(r.status for r in results) if results else Status.OK
    return {
        "node": ctx.node,
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "level": ctx.level,
        "context": ctx.context,
        "job_id": ctx.job_id,
        "job_gpus": ctx.job_gpus,          # the GPUs Slurm gave the job here: explain compares a GPU's fault with them
        "status": status.name,
        "duration_s": round(duration_s, 4),
        "checks": [r.to_dict() for r in results],
    }


def check_node(ctx, only: list[str] | None = None) -> dict:
    start = time.monotonic()
    results = run_checks(ctx, only) if ctx.level != "off" else []
    return report(ctx, results, time.monotonic() - start)
