"""JSON Schemas shared by every part: HealthReport, ProbeResult, Finding, Attribution, Proposal,
plus the adapter's Job and Node views. Every ``--json`` output validates against one of them."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent

ATTRIBUTION_LABELS = (
    "gpu_hardware", "gpu_throttle", "gpu_oom", "host_oom", "network", "filesystem",
    "node_failure", "time_limit", "user_code", "software_env", "scheduler", "slow_node", "unknown",
)
NAMES = ("health_report", "probe_result", "finding", "attribution", "proposal", "job", "node", "config")


class SchemaError(ValueError):
    """A document does not match its schema; the message names the path and the rule."""


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    return json.loads((HERE / f"{name}.schema.json").read_text())


@lru_cache(maxsize=None)
def _validator(name: str):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        (f"{other}.schema.json", Resource.from_contents(load_schema(other)))
        for other in NAMES
    )
    return Draft202012Validator(load_schema(name), registry=registry)


def errors(name: str, document) -> list[str]:
    found = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


def validate(name: str, document) -> None:
    problems = errors(name, document)
    if problems:
        raise SchemaError(f"{name} does not match its schema: " + "; ".join(problems[:5]))
