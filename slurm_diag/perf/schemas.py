"""JSON Schemas of the model's own outputs (`perf expect --json`, `perf allreduce --json`) and of a
judged sweep (`probe submit --json`, whose results are ProbeResults validated on their own).
Kept here, beside the model, because only the perf commands emit them."""

from __future__ import annotations

from slurm_diag.schemas import SchemaError

_NUM = {"type": ["number", "null"]}
SCHEMAS = {
    "prediction": {
        "type": "object",
        "required": ["probe", "sku", "dtype", "value", "lower", "upper", "unit", "source"],
        "additionalProperties": False,
        "properties": {
            "probe": {"enum": ["gemm", "membw", "allreduce"]},
            "sku": {"type": "string"},
            "dtype": {"type": ["string", "null"]},
            "sm_clock_mhz": _NUM, "value": _NUM, "lower": _NUM, "upper": _NUM, "peak": _NUM,
            "efficiency": _NUM,
            "unit": {"enum": ["FLOP/s", "B/s"]},
            "source": {"type": ["string", "null"]},
            "note": {"type": ["string", "null"]},
        },
    },
    "allreduce_prediction": {
        "type": "object",
        "required": ["ranks", "bytes", "alpha_s", "beta_Bps", "time_s", "algbw_Bps", "busbw_Bps"],
        "additionalProperties": False,
        "properties": {
            "ranks": {"type": "integer", "minimum": 1},
            "bytes": {"type": "number", "minimum": 0},
            "alpha_s": {"type": "number", "minimum": 0},
            "beta_Bps": {"type": "number", "exclusiveMinimum": 0},
            "time_s": {"type": "number", "minimum": 0},
            "algbw_Bps": _NUM, "busbw_Bps": _NUM,
            "sku": {"type": "string"}, "multi_node": {"type": "boolean"}, "source": {"type": "string"},
        },
    },
    "sweep": {
        "type": "object",
        "required": ["sweep", "probe", "nodes", "rounds", "results_dir", "flagged", "verdicts", "jobs",
                     "results"],
        "additionalProperties": False,
        "properties": {
            "sweep": {"type": "string"},
            "probe": {"enum": ["gemm", "membw", "allreduce"]},
            "nodes": {"type": "array", "items": {"type": "string"}},
            "rounds": {"type": "integer", "minimum": 1},
            "results_dir": {"type": "string"},
            "flagged": {"type": "array", "items": {"type": "string"}},
            "verdicts": {"type": "array", "items": {
                "type": "object",
                "required": ["subject", "node", "probe", "status", "message"],
                "properties": {"status": {"enum": ["OK", "WARN", "CRITICAL", "UNKNOWN"]},
                               "ratio_expected": _NUM, "ratio_fleet": _NUM}}},
            "jobs": {"type": "array", "items": {
                "type": "object",
                "required": ["job_id", "nodes", "round", "log", "state", "failure"],
                "properties": {"job_id": {"type": "string"}, "state": {"type": ["string", "null"]},
                               "exit_code": {"type": ["integer", "null"]},
                               "failure": {"type": ["string", "null"]}}}},
            "results": {"type": "array", "items": {"type": "object"}},
        },
    },
}


def validate(name: str, doc: dict) -> None:
    from jsonschema import Draft202012Validator

    problems = sorted(Draft202012Validator(SCHEMAS[name]).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if problems:
        raise SchemaError(f"{name} does not match its schema: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in problems[:5]))
