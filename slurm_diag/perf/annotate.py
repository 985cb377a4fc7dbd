"""Glue between ProbeResult documents and the model: find each result's SKU and expectation, judge
a batch, and write `expected` and `verdict` into the documents (what the store and the CLI show)."""

from __future__ import annotations

from typing import Any, Mapping

from slurm_diag.perf import hardware
from slurm_diag.perf.expect import Expectation, Site, expected
from slurm_diag.perf.verdict import Thresholds, Verdict, judge, measurements_from_results


def sku_of(doc: Mapping[str, Any], cpu_mem_bw_GBps: float = 0.0) -> hardware.Sku | None:
    """The Sku a result ran on: params.sku names a table GPU, or 'cpu' for a CPU node."""
    name = (doc.get("params") or {}).get("sku") or ""
    if name == hardware.CPU_SKU:
        return hardware.cpu_sku(hardware.detect_cpu(), cpu_mem_bw_GBps)
    try:
        return hardware.get_sku(name) if name else None
    except Exception:     # an unknown GPU: no model figure, the fleet judges alone
        return None


def expectation_for(doc: Mapping[str, Any], site: Site, cpu_mem_bw_GBps: float = 0.0) -> Expectation | None:
    """Expected figure at full clock (the verdict scales for clock itself, to explain it)."""
    sku = sku_of(doc, cpu_mem_bw_GBps)
    if sku is None:
        return None
    params = doc.get("params") or {}
    if doc["probe"] == "allreduce":
        samples = doc.get("samples") or []
        size = max((s.get("bytes", 0) for s in samples), default=0) or None
        return expected("allreduce", sku, doc.get("dtype"), site=site,
                        multi_node=params.get("nodes_count", 1) > 1, size_bytes=size,
                        ranks=params.get("ranks"))
    return expected(doc["probe"], sku, doc.get("dtype"), site=site)


def annotate(docs: list[dict], site: Site | None = None, thresholds: Thresholds | None = None,
             cpu_mem_bw_GBps: float = 0.0) -> list[Verdict]:
    """Judge `docs` together (a fleet sweep, or one node's GPUs) and fill in expected/verdict."""
    site = site or Site()
    cache: dict[int, Expectation | None] = {}

    def lookup(doc: Mapping[str, Any]) -> Expectation | None:
        if id(doc) not in cache:
            cache[id(doc)] = expectation_for(doc, site, cpu_mem_bw_GBps)
        return cache[id(doc)]

    verdicts = judge(measurements_from_results(docs, lookup), thresholds)
    by_subject = {(v.node, v.gpu, v.probe, v.dtype): v for v in verdicts}
    for doc in docs:
        exp = lookup(doc) if doc.get("valid") else None
        doc["expected"] = exp.as_dict() if exp else None
        verdict = by_subject.get((doc["node"], doc.get("gpu"), doc["probe"], doc.get("dtype")))
        doc["verdict"] = verdict.as_dict() if verdict else (
            {"status": "UNKNOWN", "message": "invalid (partial) result: not judged"} if not doc.get("valid") else None)
    return verdicts


def from_config(cfg) -> tuple[Site, Thresholds, float]:
    """(site, thresholds, CPU memory bandwidth) from the loaded config."""
    return Site.from_config(cfg), Thresholds.from_config(cfg), float(cfg.get("perf.cpu.mem_bw_GBps"))
