"""`sdiag-agent probe`: run a probe here and judge it (run), run a sweep on the cluster as Slurm jobs
(submit, collect), list stored results (results), judge saved results as a fleet (judge), plot them
(plot), list the probes (list).

Exit status: run and judge: 0 when every verdict is OK, WARN or UNKNOWN; 1 when one is CRITICAL.
submit --wait and collect: 1 when a node is flagged (WARN or CRITICAL after the 2-of-3 rule) or
a probe job failed; 0 otherwise.
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
                    "help": s.help} for s in specs], schema="probe_spec")
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
    from slurm_diag.probes.execute import parse_params, run_probe

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
def judge_files(files, as_json) -> None:
    """Judge saved ProbeResults together (a fleet sweep): model, fleet outliers, 2-of-3 repeats."""
    from slurm_diag import config
    from slurm_diag.perf import annotate

    docs = _load(files)
    annotate.annotate(docs, *annotate.from_config(config.load()))
    _finish(docs, as_json)


@command.command("plot")
@click.argument("files", nargs=-1)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG to write")
@click.option("--node", "nodes", multiple=True, help="only these nodes (repeatable; store only)")
@click.option("--probe", "probe", type=click.Choice(["gemm", "membw", "allreduce"]), help="only this probe")
@click.option("--sweep", "sweep_id", help="this sweep (default: the latest in the store)")
def plot(files, out, nodes, probe, sweep_id) -> None:
    """Plot measured against expected per node: FILES (judged first), or else results from the store."""
    from slurm_diag import config
    from slurm_diag.perf import annotate
    from slurm_diag.perf.plot import plot_results

    if files:
        docs = _load(files)
        annotate.annotate(docs, *annotate.from_config(config.load()))
        title = None
    else:
        from slurm_diag.probes import stored

        docs, sweep_id = stored.for_plot(config.load(), nodes, probe, sweep_id)
        title = f"sweep {sweep_id}" if sweep_id else None
    click.echo(str(plot_results(docs, Path(out), title=title)))


# --- sweeps on the cluster -------------------------------------------------------------------

def _progress(message: str) -> None:
    click.echo(f"probe: {message}", err=True)


def _value(value, unit: str) -> str:
    if value is None:
        return "-"
    div, shown = _SCALE.get(unit, (1.0, unit))
    return f"{value / div:.4g} {shown}"


def _show_outcome(outcome) -> None:
    from slurm_diag.probes import stored

    sweep = outcome.sweep
    click.echo(f"sweep {sweep.sweep_id}: {sweep.probe} on {', '.join(sweep.nodes)}, {sweep.rounds} round(s)")
    summary = stored.node_summary(outcome.docs)
    rows = []
    for v in sorted(outcome.verdicts, key=lambda v: (v.node, v.gpu if v.gpu is not None else -1)):
        entry = summary.get((v.node, v.gpu, v.probe, v.dtype), {})
        rows.append([v.subject, v.probe, v.dtype or "-", f"{entry.get('valid', 0)}/{entry.get('total', 0)}",
                     _value(entry.get("median"), entry.get("unit", "")), _value(entry.get("expected"),
                                                                               entry.get("unit", "")),
                     v.status.name])
    if rows:
        table(rows, ["subject", "probe", "dtype", "valid", "median", "expected", "verdict"])
    for v in outcome.verdicts:
        if v.status.name != "OK":
            click.echo(f"  {v.status.name}: {v.message}")
    for d in outcome.docs:
        if d["probe"] == "allreduce" and d.get("valid"):
            click.echo(f"  allreduce over {', '.join(d.get('nodes') or [d['node']])} "
                       f"({d['params'].get('ranks')} ranks), job {d.get('job_id')}:")
            for s in d.get("samples", []):
                click.echo(f"  {s['bytes']:>12} B  {s['seconds'] * 1e6:10.1f} us  algbw {s['algbw'] / 1e9:8.3f} GB/s"
                           f"  busbw {s['busbw'] / 1e9:8.3f} GB/s")
    for rec in outcome.failures:
        click.echo(f"  FAILED: {rec.planned.label}: job {rec.job_id} {rec.failure}")
    flagged = sorted({v.node for v in outcome.flagged})
    click.echo("flagged: " + (", ".join(flagged) if flagged else "none")
               + (f"; {len(outcome.failures)} job(s) failed" if outcome.failures else ""))


def _finish_outcome(outcome, as_json: bool) -> None:
    if as_json:
        emit_json(outcome.to_dict(), schema="probe_sweep")
    else:
        _show_outcome(outcome)
    if outcome.flagged or outcome.failures:
        sys.exit(EXIT_FAILURE)


@command.command("submit")
@click.argument("probe", type=click.Choice(["gemm", "membw", "allreduce"]))
@click.option("--nodes", "nodelist", required=True, help="Slurm hostlist, e.g. node[1-4]")
@click.option("--rounds", type=click.IntRange(min=1, max=20), default=None,
              help="repeats per node, interleaved (default 3 for gemm/membw, 1 for allreduce)")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="probe parameter, e.g. n=512")
@click.option("--threads", type=click.IntRange(min=0), default=0, show_default=True,
              help="CPU threads per probe (BLAS and membw); 0: every CPU of the allocation")
@click.option("--mem", default="0", show_default=True, help="sbatch --mem per node (0: all of it)")
@click.option("--time-limit", "time_min", type=click.IntRange(min=1), default=15, show_default=True,
              help="minutes per job")
@click.option("--wait/--no-wait", default=False, help="follow the jobs, then judge and store the results")
@click.option("--timeout", "job_timeout", type=float, default=None,
              help="seconds to wait for one job once its turn comes (default: time limit + 2 min)")
@click.option("--dry-run", is_flag=True, help="print the job scripts and sbatch options; submit nothing")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def submit(probe, nodelist, rounds, params, threads, mem, time_min, wait, job_timeout, dry_run, as_json) -> None:
    """Probe every node of NODES as Slurm jobs (one at a time, whole node each), judge and store.

    gemm and membw run one job per node and round; allreduce runs one job over all NODES
    (srun --mpi=pmix, one rank per node) and reports busbw. Results go to <home>/probes/<sweep>/.
    """
    from slurm_diag import config, probes
    from slurm_diag.probes import submit as sub
    from slurm_diag.probes import sweep as sw
    from slurm_diag.probes.execute import parse_params
    from slurm_diag.slurm import CommandClient
    from slurm_diag.slurm.parse import hostlist

    cfg = config.load()
    given = parse_params(list(params))
    probes.get(probe).params(given)                  # unknown or mistyped parameters fail here
    try:
        wanted = hostlist(nodelist)
    except ValueError:
        raise UsageError(f"--nodes {nodelist!r} is not a Slurm hostlist", hint="e.g. node[1-4] or node1,node3") from None
    multi = probe in sw.MULTI_NODE_PROBES
    client = CommandClient.from_config(cfg)
    sweep_id = sw.new_sweep_id(probe)
    sweep = sw.Sweep(sweep_id=sweep_id, probe=probe, nodes=tuple(wanted),
                     rounds=rounds or (1 if multi else 3), params=given, threads=threads, mem=mem,
                     time_min=time_min, python=sub.job_python(),
                     results_dir=str(sub.sweeps_dir(cfg) / sweep_id))
    sw.check(sweep)
    if dry_run:
        logs = str(Path(sweep.results_dir) / "logs")
        for job in sw.plan(sweep):
            after = "<previous job>" if job.index else None
            click.echo(f"# {job.label}: sbatch {' '.join(sw.sbatch_args(sweep, job, logs, after))}")
            click.echo(sw.job_script(sweep, job))
        return
    nodes = sub.usable_nodes(client, sweep.nodes, _progress, allow_skip=not multi)
    if nodes != sweep.nodes:
        sweep = sw.Sweep.from_dict({**sweep.to_dict(), "nodes": list(nodes)})
    records = sub.submit(client, sweep, _progress)
    if not wait:
        doc = {"sweep": sweep.sweep_id, "results_dir": sweep.results_dir,
               "jobs": [r.to_dict() for r in records]}
        if as_json:
            emit_json(doc, schema="probe_submission")
        else:
            click.echo(f"sweep {sweep.sweep_id}: jobs {', '.join(r.job_id for r in records)}")
            click.echo(f"collect with: sdiag-agent probe collect {sweep.sweep_id}")
        return
    from slurm_diag.store import Store

    outcome = sub.finish(client, Store.from_config(cfg), cfg, sweep, records, _progress, job_timeout)
    _finish_outcome(outcome, as_json)


@command.command("collect")
@click.argument("sweep_id")
@click.option("--timeout", "job_timeout", type=float, default=None,
              help="seconds to wait for one job once its turn comes (default: time limit + 2 min)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def collect(sweep_id, job_timeout, as_json) -> None:
    """Wait for a sweep submitted without --wait, then judge and store its results."""
    from slurm_diag import config
    from slurm_diag.probes import submit as sub
    from slurm_diag.slurm import CommandClient
    from slurm_diag.store import Store

    cfg = config.load()
    sweep, records, collected = sub.read_manifest(cfg, sweep_id)
    if collected:
        raise UsageError(f"sweep {sweep_id} is already collected",
                         hint=f"see `sdiag-agent probe results --sweep {sweep_id}`")
    outcome = sub.finish(CommandClient.from_config(cfg), Store.from_config(cfg), cfg, sweep, records,
                         _progress, job_timeout)
    _finish_outcome(outcome, as_json)


@command.command("results")
@click.option("--node", "nodes", multiple=True, help="only this node (repeatable)")
@click.option("--probe", type=click.Choice(["gemm", "membw", "allreduce"]), help="only this probe")
@click.option("--sweep", "sweep_id", help="only this sweep")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="newest first")
@click.option("--json", "as_json", is_flag=True, help="print ProbeResult JSON")
def results(nodes, probe, sweep_id, limit, as_json) -> None:
    """List stored probe results with their verdicts, newest first."""
    from slurm_diag import config
    from slurm_diag.probes import stored

    docs = stored.query(config.load(), nodes, probe, sweep_id, limit)
    if as_json:
        emit_json(docs, schema="probe_result")
        return
    if not docs:
        click.echo("no probe results stored" + (" for that selection" if nodes or probe or sweep_id else ""))
        return
    rows = []
    for d in docs:
        rows.append([(d.get("time") or "-").replace("+00:00", "Z"),
                     d["node"] + (f"/gpu{d['gpu']}" if d.get("gpu") is not None else ""), d["probe"],
                     str((d.get("params") or {}).get("round", "-")), _value(d["value"], d["unit"]),
                     _value((d.get("expected") or {}).get("value"), d["unit"]),
                     (d.get("verdict") or {}).get("status", "-"), "yes" if d["valid"] else "NO",
                     stored.sweep_of(d) or "-"])
    table(rows, ["time", "subject", "probe", "round", "value", "expected", "verdict", "valid", "sweep"])
    shown = set()
    for d in docs:
        verdict = d.get("verdict") or {}
        key = (d["node"], d.get("gpu"), d["probe"], stored.sweep_of(d))
        if verdict.get("status") not in (None, "OK") and key not in shown:
            shown.add(key)
            click.echo(f"  {verdict['status']}: {verdict.get('message', '')}")
