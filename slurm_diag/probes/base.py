"""What every probe shares: timing by repeats with a median, a recorder that keeps samples as they
come (so an interrupted run can still say what it saw, marked invalid), ProbeResult documents,
and atomic writes so a killed probe never leaves a file that reads as a valid result.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from slurm_diag.errors import UsageError
from slurm_diag.health.context import node_name
from slurm_diag.stats import median


class ProbeInterrupted(BaseException):
    """Raised in the main thread on SIGTERM/SIGINT so the runner can store a partial result."""


@dataclass(frozen=True)
class ProbeSpec:
    """A probe as registered: its name, defaults, and run(params, recorder) -> [ProbeResult]."""

    name: str
    metric: str
    unit: str
    defaults: dict
    run: Callable[[dict, "Recorder"], list[dict]]
    help: str = ""

    def params(self, given: dict | None = None) -> dict:
        """Defaults overlaid with `given`, values coerced to the defaults' types."""
        out = dict(self.defaults)
        for key, value in (given or {}).items():
            if key not in self.defaults:
                raise UsageError(f"probe {self.name} has no parameter {key!r}",
                                 hint=f"parameters: {', '.join(sorted(self.defaults))}")
            default = self.defaults[key]
            try:
                if isinstance(default, bool):
                    out[key] = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
                elif isinstance(default, int) and not isinstance(value, int):
                    out[key] = int(float(value))
                elif isinstance(default, float) and not isinstance(value, float):
                    out[key] = float(value)
                else:
                    out[key] = value
            except (TypeError, ValueError):
                raise UsageError(f"probe {self.name}: {key}={value!r} is not a {type(default).__name__}",
                                 hint=f"default is {default!r}") from None
        return out


@dataclass
class Recorder:
    """Samples as they are taken (thread-safe), plus what a partial result needs."""

    probe: str
    metric: str
    unit: str
    started: float = field(default_factory=time.time)
    samples: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: str | None = None     # the signal that asked the probe to stop, once one did

    def add(self, sample: dict) -> None:
        with self.lock:
            self.samples.append(sample)
        if self.stop is not None and threading.current_thread() is threading.main_thread():
            # the handler's own raise can be lost (a signal that lands inside an import's lock
            # callback is "ignored" by the interpreter): the next sample stops the probe instead
            raise ProbeInterrupted(self.stop)


def now_iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts if ts is not None else time.time(), timezone.utc).isoformat(timespec="seconds")


def result(probe: str, metric: str, value: float, unit: str, *, started: float, params: dict,
           samples: list[dict], conditions: dict, dtype: str | None = None, gpu: int | None = None,
           nodes: list[str] | None = None, valid: bool = True, node: str | None = None) -> dict:
    """A ProbeResult document (slurm_diag/schemas/probe_result.schema.json)."""
    doc: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "probe": probe,
        "node": node or node_name(),
        "gpu": gpu,
        "job_id": os.environ.get("SLURM_JOB_ID"),
        "time": now_iso(started),
        "duration_s": max(time.time() - started, 0.0),
        "metric": metric,
        "dtype": dtype,
        "value": float(value),
        "unit": unit,
        "params": params,
        "samples": samples,
        "conditions": conditions,
        "expected": None,
        "verdict": None,
        "valid": valid,
    }
    if nodes is not None:
        doc["nodes"] = nodes
    return doc


def partial_result(rec: Recorder, params: dict, why: str) -> dict:
    """What an interrupted run saw, never valid: value is the median of the samples so far."""
    from slurm_diag.probes.conditions import summarize

    values = [s["value"] for s in rec.samples if isinstance(s.get("value"), (int, float))]
    doc = result(rec.probe, rec.metric, median(values) or 0.0, rec.unit,
                 started=rec.started, params=params, samples=list(rec.samples),
                 conditions=summarize(rec.samples), dtype=params.get("dtype"), valid=False)
    doc["conditions"]["interrupted"] = why
    return doc


def write_atomic(path: Path, documents: list[dict]) -> None:
    """Write JSON to a temporary file in the same directory, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(documents, fh, indent=1, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def timed_repeats(step: Callable[[], None], *, warmup: int, repeats: int,
                  sync: Callable[[], None] | None = None,
                  after: Callable[[int, float], None] | None = None) -> list[float]:
    """Run `step` warmup times untimed, then `repeats` times timed; return the seconds of each.
    `after(i, seconds)` runs outside the timed region (conditions are read there)."""
    for _ in range(warmup):
        step()
    if sync:
        sync()
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        step()
        if sync:
            sync()
        dt = time.perf_counter() - t0
        times.append(dt)
        if after:
            after(i, dt)
    return times
