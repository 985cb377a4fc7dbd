"""The one registry of JSON Schemas: HealthReport, ProbeResult, Finding, Attribution, Proposal,
the adapter's Job and Node views, and the document of every command that prints `--json`.

Registration by file: `<name>.schema.json` in this directory is the schema `<name>` (its `$id`
is the file name, so schemas refer to each other with `"$ref": "<other>.schema.json"`). Every
`--json` output validates against one of them (see `slurm_diag.cli.output.emit_json`).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent
SUFFIX = ".schema.json"

ATTRIBUTION_LABELS = (
    "gpu_hardware", "gpu_throttle", "gpu_oom", "host_oom", "network", "filesystem",
    "node_failure", "time_limit", "user_code", "software_env", "scheduler", "slow_node", "unknown",
)
NAMES = tuple(sorted(p.name[:-len(SUFFIX)] for p in HERE.glob(f"*{SUFFIX}")))


class SchemaError(ValueError):
    """A document does not match its schema; the message names the path and the rule."""


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    if name not in NAMES:
        raise KeyError(f"no schema {name!r} in {HERE} (known: {', '.join(NAMES)})")
    return json.loads((HERE / f"{name}{SUFFIX}").read_text())


@lru_cache(maxsize=None)
def _validator(name: str):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        (f"{other}{SUFFIX}", Resource.from_contents(load_schema(other))) for other in NAMES
    )
    return Draft202012Validator(load_schema(name), registry=registry)


def errors(name: str, document) -> list[str]:
    found = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


def validate(name: str, document) -> None:
    problems = errors(name, document)
    if problems:
        raise SchemaError(f"{name} does not match its schema: " + "; ".join(problems[:5]))


def output_errors(name: str, document) -> list[str]:
    """Problems of a command's `--json` document: a list is validated item by item against
    `name` (e.g. `nodes --json` is a list of `node`), anything else as a whole."""
    if isinstance(document, list):
        return [f"[{i}]/{p}" for i, item in enumerate(document) for p in errors(name, item)]
    return errors(name, document)
