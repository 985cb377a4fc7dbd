"""Available host memory: too little before a job means the job will be OOM-killed."""

from __future__ import annotations

from slurm_diag.health import host
from slurm_diag.health.registry import check
from slurm_diag.health.result import CheckResult, critical, ok, unknown

NAME = "host_memory"


def evaluate(info: dict, min_mb: float, min_pct: float) -> CheckResult:
    if "MemAvailable" not in info or "MemTotal" not in info:
        return unknown(NAME, "MemAvailable missing from /proc/meminfo", next_step="check the kernel (≥ 3.14)")
    avail_mb, total_mb = info["MemAvailable"] / 1024, info["MemTotal"] / 1024
    pct = 100 * avail_mb / total_mb if total_mb else 0.0
    observed = {"available_mb": round(avail_mb), "available_pct": round(pct, 1)}
    if avail_mb < min_mb or pct < min_pct:
        return critical(NAME, f"{avail_mb:.0f} MB host memory available ({pct:.1f}%), expected ≥ {min_mb:g} MB "
                              f"and ≥ {min_pct:g}%: find what holds it",
                        observed=observed, expected={"available_mb": min_mb, "available_pct": min_pct},
                        next_step="look for leftover processes (ps aux --sort=-rss) or a full tmpfs")
    return ok(NAME, f"{avail_mb:.0f} MB host memory available ({pct:.0f}%)", observed=observed)


@check(NAME)
def run(ctx) -> list[CheckResult]:
    try:
        info = host.meminfo()
    except OSError as exc:
        return [unknown(NAME, f"cannot read /proc/meminfo: {exc.strerror}")]
    return [evaluate(info, ctx.threshold("host_memory_min_available_mb"),
                     ctx.threshold("host_memory_min_available_pct"))]
