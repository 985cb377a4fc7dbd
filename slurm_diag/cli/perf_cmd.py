"""`sdiag-agent perf`: what the performance model predicts (expect, allreduce), the hardware table
(skus), and calibration of a node's own expectation (calibrate)."""

from __future__ import annotations

import re

import click

from slurm_diag.cli.output import emit_json, table
from slurm_diag.errors import UsageError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)


def parse_bytes(text: str) -> float:
    """'256M' -> 268435456 (binary suffixes, as nccl-tests' -b/-e), '1e6' or '4096' plain bytes."""
    try:
        return float(text)
    except ValueError:
        pass
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"--bytes {text!r} is not a size", hint="e.g. 4096, 1e9, 256M, 1G")
    number, unit, _ = match.groups()
    return float(number) * 1024 ** " kmgt".index((unit or " ").lower())


def _context():
    from slurm_diag import config
    from slurm_diag.perf import annotate

    cfg = config.load()
    return cfg, *annotate.from_config(cfg)


def _sku(name: str, mem_bw: float, fma: int):
    from slurm_diag.perf import hardware

    if name.lower() == hardware.CPU_SKU:
        return hardware.cpu_sku(hardware.detect_cpu(), mem_bw, fma)
    return hardware.get_sku(name)


@click.group("perf")
def command() -> None:
    """Performance model: predictions, the hardware table, calibration."""


@command.command("expect")
@click.option("--sku", required=True, help="hardware SKU (see `perf skus`), or 'cpu' for this CPU node")
@click.option("--probe", required=True, type=click.Choice(["gemm", "membw", "allreduce"]))
@click.option("--dtype", default=None, help="fp64, fp32, tf32, bf16, fp16, fp8 (gemm)")
@click.option("--sm-clock", type=float, default=None, help="current SM clock, MHz: scales gemm")
@click.option("--multi-node", is_flag=True, help="allreduce across nodes (link = network)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def expect(sku, probe, dtype, sm_clock, multi_node, as_json) -> None:
    """Print the expected figure of PROBE on SKU, its band and where it comes from."""
    from slurm_diag.perf import expect as expect_mod

    cfg, site, _th, mem_bw = _context()
    dev = _sku(sku, mem_bw, cfg.get("perf.cpu.fma_units"))
    if probe == "gemm" and not dtype:
        dtype = "bf16" if dev.kind == "gpu" else "fp64"
    exp = expect_mod.expected(probe, dev, dtype, site=site, sm_clock_mhz=sm_clock, multi_node=multi_node)
    peak = dev.peak(dtype or "") if probe == "gemm" else (dev.mem_bw if probe == "membw" else None)
    doc = {"probe": probe, "sku": dev.name, "dtype": dtype, "sm_clock_mhz": sm_clock,
           "value": exp.value if exp else None, "lower": exp.lower if exp else None,
           "upper": exp.upper if exp else None, "unit": expect_mod.UNITS[probe],
           "source": exp.source if exp else None, "peak": peak,
           "efficiency": exp.efficiency if exp else None,
           "note": None if exp else (
               f"no model figure for {probe} on {dev.name}{' ' + dtype if dtype else ''}: set "
               f"perf.expected.{probe}.{dev.name}.{dtype or '*'} in the config or run "
               f"`sdiag-agent perf calibrate {probe}`; until then the fleet judges alone")}
    if as_json:
        emit_json(doc, schema="perf_prediction")
        return
    unit = doc["unit"]
    div, shown = (1e12, "TFLOP/s") if unit == "FLOP/s" else (1e9, "GB/s")
    if exp is None:
        click.echo(doc["note"])
        if peak:
            click.echo(f"(descriptive peak {peak / div:.4g} {shown}: {dev.source('peak_tflops')})")
        return
    click.echo(f"{probe} on {dev.name}{' ' + dtype if dtype else ''}: expected {exp.value / div:.4g} {shown} "
               f"(FAIL under {exp.lower / div:.4g}"
               + (f", peak {exp.upper / div:.4g}" if exp.upper else "") + ")")
    click.echo(f"source: {exp.source}")


@command.command("allreduce")
@click.option("--ranks", required=True, type=click.IntRange(min=1))
@click.option("--bytes", "size", required=True, help="message size: 4096, 256M, 1G")
@click.option("--sku", required=True, help="hardware SKU whose link carries the allreduce")
@click.option("--multi-node", is_flag=True, help="ranks span nodes: link = perf.network_GBps")
@click.option("--alpha-us", type=float, default=None, help="per-step latency (default perf.allreduce_alpha_us)")
@click.option("--beta-GBps", "beta", type=float, default=None,
              help="effective per-rank bandwidth, one direction (default: the model's link x efficiency)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def allreduce(ranks, size, sku, multi_node, alpha_us, beta, as_json) -> None:
    """Ring allreduce prediction: T = 2(n-1) alpha + 2(n-1)/n S/beta, with algbw and busbw."""
    from slurm_diag.perf import expect as expect_mod
    from slurm_diag.perf import model

    cfg, site, _th, mem_bw = _context()
    dev = _sku(sku, mem_bw, cfg.get("perf.cpu.fma_units"))
    nbytes = parse_bytes(size)
    alpha = (alpha_us * 1e-6) if alpha_us is not None else site.alpha_s
    source = "--beta-GBps"
    if beta is None:
        exp = expect_mod.expected("allreduce", dev, None, site=site, multi_node=multi_node)
        if exp is None:
            raise UsageError(f"no link bandwidth for allreduce on {dev.name}"
                             + (" across nodes" if multi_node else ""),
                             hint="pass --beta-GBps, or set perf.network_GBps / perf.expected.allreduce")
        beta_Bps, source = exp.value, exp.source
    else:
        beta_Bps = beta * 1e9
    pred = model.predict_allreduce(ranks, nbytes, alpha, beta_Bps)
    doc = {"ranks": ranks, "bytes": nbytes, "alpha_s": alpha, "beta_Bps": beta_Bps, "time_s": pred.time_s,
           "algbw_Bps": pred.algbw if ranks > 1 else None, "busbw_Bps": pred.busbw if ranks > 1 else None,
           "sku": dev.name, "multi_node": multi_node, "source": source}
    if as_json:
        emit_json(doc, schema="perf_allreduce")
        return
    if ranks == 1:
        click.echo("1 rank: nothing to reduce (time 0)")
        return
    click.echo(f"allreduce of {nbytes:.0f} B over {ranks} ranks: {pred.time_s * 1e6:.1f} us, "
               f"algbw {pred.algbw / 1e9:.2f} GB/s, busbw {pred.busbw / 1e9:.2f} GB/s")
    click.echo(f"alpha {alpha * 1e6:.2f} us, beta {beta_Bps / 1e9:.1f} GB/s ({source})")


@command.command("skus")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def skus(as_json) -> None:
    """List the hardware table: peaks per dtype, memory and link bandwidth, max SM clock."""
    from slurm_diag.perf import hardware

    rows = []
    for sku in hardware.gpu_skus().values():
        rows.append({"sku": sku.name, "description": sku.description,
                     "peak_tflops": {k: v / 1e12 for k, v in sku.peak_flops.items()},
                     "mem_bw_GBps": sku.mem_bw / 1e9, "nvlink_GBps": sku.nvlink_bw / 1e9,
                     "pcie_GBps": sku.pcie_bw / 1e9, "max_sm_clock_mhz": sku.max_sm_clock_mhz,
                     "sources": dict(sku.sources)})
    if as_json:
        emit_json(rows, schema="perf_sku")
        return
    table([[r["sku"], f"{r['peak_tflops'].get('fp64', 0):g}", f"{r['peak_tflops'].get('bf16', 0):g}",
            f"{r['peak_tflops'].get('fp8', 0) or '-'}", f"{r['mem_bw_GBps']:g}", f"{r['nvlink_GBps']:g}",
            f"{r['max_sm_clock_mhz']:g}"] for r in rows],
          ["sku", "fp64 TF", "bf16 TF", "fp8 TF", "mem GB/s", "nvlink GB/s", "max SM MHz"])


def _sweep_values(cfg, probe: str, sweep_id: str) -> tuple[list[float], dict, str]:
    """Valid results of a stored sweep, refused when the sweep flagged a node (it would lower the bar)."""
    from slurm_diag.probes import stored

    docs = stored.query(cfg, probe=probe, sweep=sweep_id, limit=100_000)
    valid = [d for d in docs if d.get("valid")]
    if not valid:
        raise UsageError(f"the store holds no valid {probe} results of sweep {sweep_id!r}",
                         hint=f"`sdiag-agent probe results --probe {probe}` lists the sweeps")
    flagged = sorted({d["node"] for d in valid if (d.get("verdict") or {}).get("status") in ("WARN", "CRITICAL")})
    if flagged:
        raise UsageError(f"sweep {sweep_id} flagged {', '.join(flagged)}: calibrating on it would lower the bar",
                         hint="calibrate on a sweep of a healthy fleet")
    keys = {((d.get("params") or {}).get("sku") or "cpu", d.get("dtype")) for d in valid}
    if len(keys) > 1:
        raise UsageError(f"sweep {sweep_id} mixes SKUs or dtypes: {sorted(map(str, keys))}",
                         hint="calibrate one SKU and dtype at a time")
    params = {k: v for k, v in (valid[0].get("params") or {}).items()
              if k in ("n", "threads", "blas_threads", "inner", "repeats")}
    note = (f" of sweep {sweep_id}, {len({d['node'] for d in valid})} nodes"
            + (f", params {params}" if params else "") + " (judge later sweeps with the same params)")
    return [d["value"] for d in valid], valid[0], note


@command.command("calibrate")
@click.argument("probe", type=click.Choice(["gemm", "membw"]))
@click.option("--runs", type=click.IntRange(min=1, max=10), default=3, show_default=True)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="probe parameter")
@click.option("--from-sweep", "sweep_id", help="use the stored results of this (healthy) sweep instead of running")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def calibrate(probe, runs, params, sweep_id, as_json) -> None:
    """Measure PROBE here RUNS times, or take a stored fleet sweep, and store the median as this
    SKU's expectation (the way CPU nodes, which have no datasheet figure, get one)."""
    from pathlib import Path

    from slurm_diag.perf import expect as expect_mod
    from slurm_diag.probes.execute import parse_params, run_probe

    cfg, site, th, _mem_bw = _context()
    values, last = [], None
    if sweep_id:
        values, last, note = _sweep_values(cfg, probe, sweep_id)
    else:
        given = parse_params(list(params))
        for _ in range(runs):
            docs = run_probe(probe, given)
            values += [d["value"] for d in docs if d.get("valid")]
            last = docs[0]
        note = f" of {probe} on {last['node']}"
    sku = (last.get("params") or {}).get("sku") or "cpu"
    if sku == "unknown":
        raise UsageError("this GPU is not in the hardware table", hint="add it to slurm_diag/perf/hardware.toml")
    entry = expect_mod.calibration_entry(values, last["unit"], th.fail_ratio, note)
    path = Path(site.calibration_path)
    expect_mod.save_calibration(path, probe, sku, last.get("dtype"), entry)
    doc = {"probe": probe, "sku": sku, "dtype": last.get("dtype"), "path": str(path), **entry}
    if as_json:
        emit_json(doc, schema="perf_calibration")
        return
    div, shown = (1e9, "GFLOP/s") if entry["unit"] == "FLOP/s" else (1e9, "GB/s")
    click.echo(f"{probe} {sku} {last.get('dtype') or '*'}: expected {entry['value'] / div:.4g} {shown} "
               f"(median of {len(values)}) written to {path}")
