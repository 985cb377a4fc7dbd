"""Probe results as the store holds them: selections for `probe results` and `probe plot`, and the
per-node summary of a judged sweep. The store is read through `slurm_diag.store.Store` only."""

from __future__ import annotations

from typing import Iterable

from slurm_diag.errors import UsageError
from slurm_diag.stats import median


def sweep_of(doc: dict) -> str | None:
    return (doc.get("params") or {}).get("sweep")


def select(docs: Iterable[dict], nodes: Iterable[str] = (), sweep: str | None = None) -> list[dict]:
    """Filter stored results by node(s) and sweep id (pure)."""
    nodes = set(nodes)
    return [d for d in docs if (not nodes or d["node"] in nodes) and (not sweep or sweep_of(d) == sweep)]


def newest(docs: Iterable[dict], when) -> dict[tuple, tuple]:
    """(node, probe, gpu, dtype) -> (time, result) of the newest valid result of each, in the order
    each subject first appears; ``when`` reads a stamp, results without one are left out (pure)."""
    out: dict[tuple, tuple] = {}
    for d in docs:
        at = when(d.get("time"))
        if at is None or not d.get("valid", True):
            continue
        key = (d.get("node"), d.get("probe"), d.get("gpu"), d.get("dtype"))
        if key not in out or at > out[key][0]:
            out[key] = (at, d)
    return out


def latest_sweep(docs: Iterable[dict]) -> str | None:
    """The sweep of the most recent result that belongs to one (pure)."""
    best = max(((d.get("time") or "", sweep_of(d)) for d in docs if sweep_of(d)), default=None)
    return best[1] if best else None


def query(cfg, nodes: Iterable[str] = (), probe: str | None = None, sweep: str | None = None,
          limit: int = 1000) -> list[dict]:
    from slurm_diag.store import Store

    nodes = list(nodes)
    store = Store.from_config(cfg)
    docs = store.probe_results(node=nodes[0] if len(nodes) == 1 else None, probe=probe,
                               limit=limit if not (sweep or len(nodes) > 1) else 100_000)
    return select(docs, nodes, sweep)[:limit]


def for_plot(cfg, nodes: Iterable[str], probe: str | None, sweep: str | None) -> tuple[list[dict], str | None]:
    """Results to draw: one sweep (the given one, else the latest) so each bar is one measurement
    campaign; results that belong to no sweep are drawn when no sweep is in the store at all."""
    nodes = list(nodes)
    docs = query(cfg, nodes, probe, sweep, limit=100_000)
    if not sweep:
        sweep = latest_sweep(docs)
        if sweep:
            docs = select(docs, (), sweep)
    if not docs:
        what = " ".join(filter(None, [probe, ", ".join(nodes), f"sweep {sweep}" if sweep else ""]))
        raise UsageError(f"the store holds no probe results{' for ' + what if what else ''}",
                         hint="run `sdiag-agent probe submit gemm --nodes ... --wait` first")
    return docs, sweep


def node_summary(docs: Iterable[dict]) -> dict[tuple, dict]:
    """(node, gpu, probe, dtype) -> {median, expected, valid, total} over a sweep's results (pure)."""
    out: dict[tuple, dict] = {}
    for d in docs:
        key = (d["node"], d.get("gpu"), d["probe"], d.get("dtype"))
        entry = out.setdefault(key, {"values": [], "expected": None, "valid": 0, "total": 0, "unit": d["unit"]})
        entry["total"] += 1
        if d.get("valid"):
            entry["valid"] += 1
            entry["values"].append(d["value"])
            entry["expected"] = (d.get("expected") or {}).get("value") or entry["expected"]
    for entry in out.values():
        entry["median"] = median(entry["values"])
    return out
