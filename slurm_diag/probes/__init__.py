"""Microbenchmark probes (gemm, membw, allreduce) run as Slurm jobs by the scripts in jobs/.

Registration by file: a module here that defines ``PROBE`` (a ``ProbeSpec``) is a probe. Modules
load lazily so listing probes imports neither NumPy nor CuPy.
"""

from __future__ import annotations

import importlib
import pkgutil

from slurm_diag.errors import UsageError

_NOT_PROBES = {"base", "conditions", "execute", "cuda", "launch", "sweep", "submit", "stored", "__main__"}


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith("_") and m.name not in _NOT_PROBES)


def get(name: str):
    """The ProbeSpec of `name`; UsageError naming the valid probes."""
    if name not in names():
        raise UsageError(f"unknown probe {name!r}", hint=f"use one of: {', '.join(names())}")
    module = importlib.import_module(f"{__name__}.{name}")
    spec = getattr(module, "PROBE", None)
    if spec is None:
        raise UsageError(f"module slurm_diag.probes.{name} defines no PROBE")
    return spec
