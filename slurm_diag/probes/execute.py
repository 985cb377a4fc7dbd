"""Run one probe in this process: the entry point of the job scripts (``python -m slurm_diag.probes``)
and of ``sdiag-agent probe run``.

Results reach disk only at the end, atomically. SIGTERM or SIGINT (scancel, a time limit) turns
into a result marked ``valid: false`` holding the samples taken so far; SIGKILL leaves no file at
all. Either way nothing partial reads as valid.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

from slurm_diag import probes
from slurm_diag.errors import SdiagError
from slurm_diag.probes import base


@contextmanager
def interruptible(rec: base.Recorder):
    """Turn SIGTERM/SIGINT into ProbeInterrupted in the main thread while the probe runs; the
    recorder keeps the request, so a raise the interpreter swallows stops the next sample."""
    def handler(signum, _frame):
        rec.stop = signal.Signals(signum).name
        raise base.ProbeInterrupted(rec.stop)

    try:
        old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:          # not the main thread: run without the handlers
        yield
        return
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_probe(name: str, given: dict | None = None, out: Path | None = None) -> list[dict]:
    """Run probe `name` with parameters `given`; write the ProbeResults atomically to `out`.
    Returns the documents (empty on MPI ranks other than 0). Interrupted: writes the partial,
    invalid result and re-raises ProbeInterrupted."""
    spec = probes.get(name)
    params = spec.params(given)
    rec = base.Recorder(probe=spec.name, metric=spec.metric, unit=spec.unit)
    try:
        with interruptible(rec):
            docs = spec.run(params, rec)
    except base.ProbeInterrupted as exc:
        if out is not None:
            base.write_atomic(out, [base.partial_result(rec, params, f"interrupted by {exc}")])
        raise
    if out is not None and docs:
        base.write_atomic(out, docs)
    return docs


def parse_params(pairs: list[str]) -> dict:
    given = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            from slurm_diag.errors import UsageError
            raise UsageError(f"parameter {pair!r} is not KEY=VALUE", hint="e.g. --param n=4096")
        given[key] = value
    return given


def default_name(probe: str) -> str:
    """<probe>-<node>-<job>.<step>.json: unique per task of a sweep, sortable by node."""
    job = os.environ.get("SLURM_JOB_ID", "local")
    step = os.environ.get("SLURM_STEP_ID", str(os.getpid()))
    return f"{probe}-{base.node_name()}-{job}.{step}.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m slurm_diag.probes",
                                     description="Run one probe here and write its ProbeResults as JSON.")
    parser.add_argument("probe", choices=probes.names())
    parser.add_argument("--out", type=Path, help="file to write the JSON list to (atomically)")
    parser.add_argument("--out-dir", type=Path,
                        help="write to DIR/<probe>-<node>-<job>.<step>.json instead (one file per task)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--print", action="store_true", help="also print the JSON")
    args = parser.parse_args(argv)
    out = args.out
    if out is None and args.out_dir is not None:
        out = args.out_dir / default_name(args.probe)
    try:
        docs = run_probe(args.probe, parse_params(args.param), out)
    except base.ProbeInterrupted as exc:
        print(f"probe {args.probe}: interrupted by {exc}; stored as invalid", file=sys.stderr)
        return 128 + int(getattr(signal, str(exc), signal.SIGTERM))
    except SdiagError as exc:
        print(f"probe {args.probe}: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.print and docs:
        print(json.dumps(docs, indent=1, default=str))
    return 0
