"""`sdiag-agent probe`: run a probe here and judge it (run), judge saved results as a fleet (judge),
plot them (plot), list the probes (list).

Exit status: 0 when every verdict is OK, WARN or UNKNOWN; 1 when one is CRITICAL.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from slurm_diag.cli.output import emit_json, table
from slurm_diag.errors import EXIT_FAILURE, UsageError

_SCALE = {"FLOP/s": (1e9, "GFLOP/s"), "B/s": (1e9, "GB/s")}


def _show(docs: list[dict]) -> None:
    rows = []
    for d in docs:
        div, unit = _SCALE.get(d["unit"], (1.0, d["unit"]))
        exp = (d.get("expected") or {}).get("value")
        verdict = d.get("verdict") or {}
        rows.append([d["node"] + (f"/gpu{d['gpu']}" if d.get("gpu") is not None else ""), d["probe"],
                     d.get("dtype") or "-", f"{d['value'] / div:.4g} {unit}",
                     f"{exp / div:.4g}" if exp else "-", verdict.get("status", "-"),
                     "yes" if d["valid"] else "NO"])
    table(rows, ["subject", "probe", "dtype", "value", "expected", "verdict", "valid"])
    for d in docs:
        message = (d.get("verdict") or {}).get("message")
        if message and (d.get("verdict") or {}).get("status") != "OK":
            click.echo(f"  {message}")
    for d in docs:
        if d["probe"] == "membw" and d.get("params", {}).get("kernels_Bps"):
            kernels = d["params"]["kernels_Bps"]
            click.echo("  STREAM " + ", ".join(f"{k} {v / 1e9:.2f} GB/s" for k, v in kernels.items()))
        if d["probe"] == "allreduce":
            for s in d.get("samples", []):
                click.echo(f"  {s['bytes']:>12} B  {s['seconds'] * 1e6:10.1f} us  algbw {s['algbw'] / 1e9:8.3f} GB/s"
                           f"  busbw {s['busbw'] / 1e9:8.3f} GB/s")


def _finish(docs: list[dict], as_json: bool) -> None:
    if as_json:
        emit_json(docs, schema="probe_result")
    else:
        _show(docs)
    if any((d.get("verdict") or {}).get("status") == "CRITICAL" for d in docs):
        # sys.exit, not click's Exit: cli.main runs with standalone_mode=False, which turns Exit
        # into a return value that the entry point does not pass on
        sys.exit(EXIT_FAILURE)


def _load(files: tuple[str, ...]) -> list[dict]:
    from slurm_diag import schemas

    docs = []
    for name in files:
        try:
            loaded = json.loads(Path(name).read_text())
        except OSError as exc:
            raise UsageError(f"cannot read {name}: {exc.strerror}", hint="give ProbeResult JSON files") from None
        except ValueError as exc:
            raise UsageError(f"{name} is not JSON: {exc}", hint="give files written by a probe") from None
        for i, doc in enumerate(loaded if isinstance(loaded, list) else [loaded]):
            problems = schemas.errors("probe_result", doc)
            if problems:
                raise UsageError(f"{name}[{i}] is not a ProbeResult: {problems[0]}",
                                 hint="give files written by `python -m slurm_diag.probes` or `probe run --out`")
            docs.append(doc)
    return docs


@click.group("probe")
def command() -> None:
    """Microbenchmarks (gemm, membw, allreduce) and their verdicts."""


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def list_probes(as_json) -> None:
    """List the probes and their parameters."""
    from slurm_diag import probes

    specs = [probes.get(n) for n in probes.names()]
    if as_json:
        emit_json([{"probe": s.name, "metric": s.metric, "unit": s.unit, "defaults": s.defaults,
                    "help": s.help} for s in specs])
        return
    table([[s.name, s.unit, s.help] for s in specs], ["probe", "unit", "what"])


@command.command("run")
@click.argument("probe", type=click.Choice(["gemm", "membw", "allreduce"]))
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="probe parameter (see `probe list --json`), e.g. n=4096, dtype=fp32")
@click.option("--ranks", type=click.IntRange(min=2), default=2, show_default=True,
              help="allreduce: local MPI ranks started through mpirun (ignored under srun/mpirun)")
@click.option("--timeout", "timeout_s", type=float, default=600.0, show_default=True,
              help="allreduce: seconds before the mpirun launch is stopped")
@click.option("--out", type=click.Path(dir_okay=False), help="also write the results here (atomically)")
@click.option("--json", "as_json", is_flag=True, help="print ProbeResult JSON")
def run(probe, params, ranks, timeout_s, out, as_json) -> None:
    """Run PROBE on this node now, compare with the model, and print the ProbeResults."""
    from slurm_diag import config
    from slurm_diag.perf import annotate
    from slurm_diag.probes import base, launch
    from slurm_diag.probes.runner import parse_params, run_probe

    given = parse_params(list(params))
    cfg = config.load()
    if probe == "allreduce" and not launch.under_mpi():
        docs = launch.run_mpi(probe, ranks, given, timeout_s)
    else:
        docs = run_probe(probe, given)
        if not docs:           # a non-zero MPI rank: rank 0 reports
            return
    site, thresholds, mem_bw = annotate.from_config(cfg)
    annotate.annotate(docs, site, thresholds, mem_bw)
    if out:
        base.write_atomic(Path(out), docs)
    _finish(docs, as_json)


@command.command("judge")
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="print the judged ProbeResults as JSON")
def judge(files, as_json) -> None:
    """Judge saved ProbeResults together (a fleet sweep): model, fleet outliers, 2-of-3 repeats."""
    from slurm_diag import config
    from slurm_diag.perf import annotate

    docs = _load(files)
    annotate.annotate(docs, *annotate.from_config(config.load()))
    _finish(docs, as_json)


@command.command("plot")
@click.argument("files", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG to write")
def plot(files, out) -> None:
    """Plot saved ProbeResults (judged first) to a PNG."""
    from slurm_diag import config
    from slurm_diag.perf import annotate
    from slurm_diag.perf.plot import plot_results

    docs = _load(files)
    annotate.annotate(docs, *annotate.from_config(config.load()))
    click.echo(str(plot_results(docs, Path(out))))
