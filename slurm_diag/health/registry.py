"""Registration, not lists: a module in ``slurm_diag/health/checks/`` that decorates a function with
``@check("name")`` adds that check. ``checks_for(level)`` imports the package once."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

LEVELS = ("quick", "full")


@dataclass(frozen=True)
class CheckSpec:
    name: str
    run: Callable               # run(ctx) -> list[CheckResult]
    levels: tuple[str, ...]
    needs_gpus: bool
    timeout_s: float | None     # None: the configured health.check_timeout_s


_REGISTRY: dict[str, CheckSpec] = {}


def check(name: str, levels: tuple[str, ...] = LEVELS, needs_gpus: bool = False,
          timeout_s: float | None = None):
    def register(fn):
        if name in _REGISTRY and _REGISTRY[name].run is not fn:
            raise RuntimeError(f"health check {name!r} registered twice")
        _REGISTRY[name] = CheckSpec(name, fn, tuple(levels), needs_gpus, timeout_s)
        return fn
    return register


def _load() -> None:
    from slurm_diag.health import checks

    for mod in pkgutil.iter_modules(checks.__path__):
        importlib.import_module(f"{checks.__name__}.{mod.name}")


def all_checks() -> dict[str, CheckSpec]:
    _load()
    return dict(sorted(_REGISTRY.items()))


def checks_for(level: str) -> list[CheckSpec]:
    if level == "off":
        return []
    return [spec for spec in all_checks().values() if level in spec.levels]
