"""JSON node profiles: the hardware a simulated node has (GPUs, kernel log, InfiniBand ports).

``gpu_defaults`` holds every GPU field once; ``gpus`` lists the visible GPUs, each overriding only
what differs (deep merge). A malformed profile raises ProfileError naming the file and field.
Checked by hand rather than with jsonschema so the prolog path stays light.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from slurm_diag.errors import UsageError
from slurm_diag.gpu.throttle import REASON_BITS

SHIPPED = Path(__file__).parent / "profiles"


class ProfileError(UsageError):
    pass


INT, NUM, STR, BOOL = "integer", "number", "string", "boolean"
SECONDS = "seconds"          # a number >= 0
_CLOCKS = {k: INT for k in ("sm", "mem", "app_sm", "app_mem", "max_sm", "max_mem")}
_ECC = {k: INT for k in ("volatile_corrected", "volatile_uncorrected",
                         "aggregate_corrected", "aggregate_uncorrected")}
GPU_SPEC = {
    "name": STR, "uuid": STR, "pci_bus_id": STR,
    "memory_total_mib": NUM, "memory_used_mib": NUM,
    "clocks": _CLOCKS,
    "throttle_reasons": ["reason"],
    "temperature_c": INT, "slowdown_temp_c": INT,
    "power_w": NUM, "power_limit_w": NUM,
    "ecc": ("nullable", _ECC),
    "retired_pages": ("nullable", {"single_bit": INT, "double_bit": INT, "pending": BOOL}),
    "row_remap": ("nullable", {"correctable": INT, "uncorrectable": INT, "pending": BOOL, "failure": BOOL}),
    "pcie": {"gen": INT, "max_gen": INT, "width": INT, "max_width": INT},
    "nvlink": [BOOL],
    "processes": [{"pid": INT, "used_memory_mib": NUM}],
    "hang_s": SECONDS,
    "hang_call": ("nullable", STR),
    "fail": ("map", INT),
}
OPTIONAL_GPU = {"hang_s": 0, "hang_call": None, "fail": {}}
_PORT = {"state": STR, "phys_state": STR, "rate": STR, "link_layer": STR}
TOP_SPEC = {
    "profile": STR, "description": STR, "driver_version": STR,
    "nvml": {"loadable": BOOL, "init_hang_s": SECONDS},
    "gpu_defaults": "object", "gpus": "list",
    "kernel_log": ("nullable", [STR]),
    "infiniband": ("nullable", ("map", {"ports": ("map", _PORT)})),
}
REQUIRED_TOP = ("profile", "gpus")


@dataclass
class Profile:
    path: Path
    name: str
    description: str
    driver_version: str
    loadable: bool
    init_hang_s: float
    gpus: list[dict]
    kernel_log: list[str] | None
    infiniband: dict | None
    digest: str              # changes whenever the file does: the simulated node's "boot id"


def _kind(value) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


def _check(value, spec, where: str, problems: list[str]) -> None:
    if isinstance(spec, tuple) and spec[0] == "nullable":
        if value is not None:
            _check(value, spec[1], where, problems)
        return
    if isinstance(spec, tuple) and spec[0] == "map":
        if not isinstance(value, dict):
            problems.append(f"{where}: expected object, found {_kind(value)}")
            return
        for key, item in value.items():
            _check(item, spec[1], f"{where}.{key}", problems)
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            problems.append(f"{where}: expected object, found {_kind(value)}")
            return
        for key, item in value.items():
            if key not in spec:
                problems.append(f"{where}.{key}: unknown field (known: {', '.join(spec)})")
            else:
                _check(item, spec[key], f"{where}.{key}", problems)
        return
    if isinstance(spec, list):
        if not isinstance(value, list):
            problems.append(f"{where}: expected list, found {_kind(value)}")
            return
        for i, item in enumerate(value):
            _check(item, spec[0], f"{where}[{i}]", problems)
        return
    if spec == "reason":
        if value not in REASON_BITS:
            problems.append(f"{where}: unknown throttle reason {value!r} (known: {', '.join(REASON_BITS)})")
        return
    if spec == "list":
        ok = isinstance(value, list)
    elif spec == "object":
        ok = isinstance(value, dict)
    elif spec == SECONDS:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            problems.append(f"{where}: expected a number of seconds >= 0, found {value!r}")
            return
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        spec = "number of seconds >= 0"
    elif spec == NUM:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif spec == INT:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif spec == BOOL:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        problems.append(f"{where}: expected {spec}, found {_kind(value)} {value!r}")


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "fail":
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve(name_or_path: str | Path) -> Path:
    """A path, or the name of a shipped profile (``h100-8-healthy``)."""
    path = Path(name_or_path)
    if path.exists() or path.suffix == ".json" or "/" in str(name_or_path):
        return path
    return SHIPPED / f"{name_or_path}.json"


def shipped() -> list[str]:
    return sorted(p.stem for p in SHIPPED.glob("*.json"))


def load(name_or_path: str | Path) -> Profile:
    path = resolve(name_or_path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"cannot read GPU profile {path}: {exc.strerror}",
                           hint=f"set SDIAG_GPU_PROFILE to a file or one of: {', '.join(shipped())}") from None
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ProfileError(f"GPU profile {path} is not valid JSON: {exc}",
                           hint="fix the syntax at the line named above") from None
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise ProfileError(f"GPU profile {path}: expected a JSON object at the top, found {_kind(doc)}")
    problems += [f"{key}: required field missing" for key in REQUIRED_TOP if key not in doc]
    _check(doc, TOP_SPEC, "profile", problems)
    problems = [p.replace("profile.", "", 1) if p.startswith("profile.") else p for p in problems]
    gpus = []
    if not problems:
        defaults = doc.get("gpu_defaults", {})
        for i, over in enumerate(doc["gpus"]):
            if not isinstance(over, dict):
                problems.append(f"gpus[{i}]: expected object, found {_kind(over)}")
                continue
            gpu = merge({**OPTIONAL_GPU, **defaults}, over)
            before = len(problems)
            _check(gpu, GPU_SPEC, f"gpus[{i}]", problems)
            missing = [k for k in GPU_SPEC if k not in gpu]
            problems += [f"gpus[{i}].{k}: required field missing (set it in gpu_defaults or the GPU)"
                         for k in missing]
            if len(problems) == before:
                gpus.append(gpu)
    if problems:
        listed = "\n  ".join(problems[:10])
        raise ProfileError(f"GPU profile {path} is malformed:\n  {listed}",
                           hint="fix the fields named above; the shipped profiles in "
                                f"{SHIPPED} show every field")
    nvml = doc.get("nvml", {})
    return Profile(path=path, name=doc["profile"], description=doc.get("description", ""),
                   driver_version=doc.get("driver_version", "0.0"),
                   loadable=nvml.get("loadable", True), init_hang_s=nvml.get("init_hang_s", 0),
                   gpus=gpus, kernel_log=doc.get("kernel_log"), infiniband=doc.get("infiniband"),
                   digest=hashlib.sha1(raw).hexdigest()[:16])
