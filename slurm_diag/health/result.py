"""One check's verdict, shaped like an entry of HealthReport.checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slurm_diag.status import Status


@dataclass
class CheckResult:
    name: str
    status: Status
    message: str
    gpu: int | None = None
    observed: Any = None
    expected: Any = None
    next_step: str | None = None
    duration_s: float | None = None
    data: Any = None

    def to_dict(self) -> dict:
        out = {"name": self.name, "status": self.status.name, "message": self.message, "gpu": self.gpu}
        for key in ("observed", "expected", "next_step", "data"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.duration_s is not None:
            out["duration_s"] = round(self.duration_s, 4)
        return out


def ok(name: str, message: str, **kw) -> CheckResult:
    return CheckResult(name, Status.OK, message, **kw)


def warn(name: str, message: str, **kw) -> CheckResult:
    return CheckResult(name, Status.WARN, message, **kw)


def critical(name: str, message: str, **kw) -> CheckResult:
    return CheckResult(name, Status.CRITICAL, message, **kw)


def unknown(name: str, message: str, **kw) -> CheckResult:
    return CheckResult(name, Status.UNKNOWN, message, **kw)


@dataclass
class Summary:
    """Per-GPU results folded: problems listed one by one, the healthy rest in one OK line."""

    name: str
    problems: list[CheckResult] = field(default_factory=list)
    healthy: list[int] = field(default_factory=list)

    def add(self, index: int, result: CheckResult | None) -> None:
        if result is None or result.status == Status.OK:
            self.healthy.append(index)
        else:
            self.problems.append(result)

    def results(self, what: str) -> list[CheckResult]:
        if not self.problems:
            return [ok(self.name, f"{len(self.healthy)} GPUs: {what}",
                       data={"gpus": self.healthy})]
        return self.problems
