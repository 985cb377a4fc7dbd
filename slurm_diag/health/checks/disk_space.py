"""Free space on configured paths (scratch, /tmp): a full disk fails jobs in confusing ways."""

from __future__ import annotations

from slurm_diag.health import host
from slurm_diag.health.registry import check
from slurm_diag.health.result import CheckResult, critical, ok, unknown

NAME = "disk_space"


def evaluate(disks, min_free_gb: float, min_free_pct: float) -> list[CheckResult]:
    results = []
    for d in disks:
        if d.error:
            results.append(unknown(NAME, f"{d.path}: cannot stat ({d.error})",
                                   next_step=f"check that {d.path} exists and is mounted"))
            continue
        pct = 100 * d.free_gb / d.total_gb if d.total_gb else 0.0
        if d.free_gb < min_free_gb or pct < min_free_pct:
            results.append(critical(NAME, f"{d.path} has {d.free_gb:.1f} GB free ({pct:.1f}%), expected ≥ "
                                          f"{min_free_gb:g} GB and ≥ {min_free_pct:g}%: clean it up",
                                    observed={"path": d.path, "free_gb": round(d.free_gb, 2), "free_pct": round(pct, 1)},
                                    expected={"free_gb": min_free_gb, "free_pct": min_free_pct},
                                    next_step=f"remove old files under {d.path} (leftover job scratch)"))
    return results or [ok(NAME, "enough free space on " + ", ".join(d.path for d in disks),
                          data={d.path: round(d.free_gb, 1) for d in disks})]


@check(NAME)
def run(ctx) -> list[CheckResult]:
    return evaluate([host.disk_free(p) for p in ctx.threshold("disk_paths")],
                    ctx.threshold("disk_min_free_gb"), ctx.threshold("disk_min_free_pct"))
