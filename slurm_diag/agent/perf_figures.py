"""The performance model's view of one job, for the prompt's <model> block.

The paper retrieves from two sources: the knowledge base and a performance model. Ours gives the
model, per node, GPU and probe, the latest probe result around the job measured against what the
performance model expects (site override, calibration or datasheet x efficiency; perf/expect.py),
with the verdict the fleet comparison gave; and the job's own pace: its node-seconds against its
earlier runs and a fall in the throughput it printed. Healthy results are listed too: a node that
measured at its expectation is evidence against blaming it. Pure: the caller reads the store.
"""

from __future__ import annotations

from datetime import timedelta

from slurm_diag.diagnose import node_facts
from slurm_diag.probes.stored import newest

MAX_FIGURES = 12
FORMULAS = ("the model: gemm expects efficiency x the GPU's datasheet peak for the dtype, scaled by SM clock / "
            "max clock; membw expects efficiency x peak memory bandwidth; allreduce bus bandwidth expects "
            "efficiency x the link's one-way bandwidth (ring: 2(n-1)/n of the data per rank); a result under "
            "the fail ratio of its expectation, or far under the fleet's median, is flagged")
PACE_IDS = ("sacct:earlier-runs",)
PACE_SUFFIX = ":throughput-drop"
_AROUND = timedelta(days=1)


def _number(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "?"
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}"
    return f"{value:.3g} "


def _latest(job, results: list[dict]) -> list[dict]:
    """The newest valid result per (node, gpu, probe, dtype) on the job's nodes, a day either side."""
    span = node_facts.window(job)
    if span is None:
        return []
    start, end = span[0] - _AROUND, span[1] + _AROUND
    around = [r for r in results if r.get("node") in job.nodes
              and (at := node_facts.when(r.get("time"))) is not None and start <= at <= end]
    latest = [r for _, r in newest(around, node_facts.when).values()]
    return sorted(latest, key=lambda r: (r["node"], str(r.get("gpu")), str(r.get("probe"))))


def probe_line(r: dict) -> str:
    where = r["node"] + (f" GPU {r['gpu']}" if r.get("gpu") is not None else "")
    unit = r.get("unit") or ""
    text = f"probe {r.get('probe')}{' ' + r['dtype'] if r.get('dtype') else ''} on {where} at {r.get('time')}: " \
           f"{_number(r.get('value'))}{unit}"
    expected = r.get("expected") or {}
    if expected.get("value"):
        ratio = float(r.get("value") or 0) / float(expected["value"])
        text += f"; the model expects {_number(expected['value'])}{unit} ({expected.get('source', 'model')}), " \
                f"{ratio:.2f}x of it"
    else:
        text += "; no model expectation for this hardware (judged against the fleet only)"
    verdict = r.get("verdict") or {}
    if verdict.get("status"):
        text += f"; verdict {verdict['status']}: {verdict.get('message', '')}".rstrip(": ")
    return text


def figures(diagnosis: dict, job=None, probe_results: list[dict] = ()) -> list[str]:
    """Lines for <model>: the job's pace findings first, then one line per latest probe result."""
    lines = [f"{f['id']}: {f['summary']}" for f in diagnosis.get("findings", [])
             if f.get("id") in PACE_IDS or str(f.get("id", "")).endswith(PACE_SUFFIX)]
    probes = [probe_line(r) for r in _latest(job, list(probe_results))] if job is not None else []
    if probes:
        lines += [FORMULAS, *probes]
    return lines[:MAX_FIGURES]
