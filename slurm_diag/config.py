"""One TOML file, validated by a JSON schema, merged over defaults; remembers where each value came from.

The one loader for every part (CLI, prolog/epilog, HealthCheckProgram, agent), keys always written
from the top (``health.policy.max_drained_nodes``). Lookup order: ``$SDIAG_CONFIG``, else
``/etc/sdiag/config.toml``, else defaults only. A few
environment variables override single keys (``SDIAG_HOME``, ``SDIAG_STORE_URL``, ``SLURM_CONF``).
The config is meant to be world-readable (users' commands read it); the store's password lives in
the file ``store.url_file`` names (mode 0600), and printed URLs pass through ``mask_url``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slurm_diag.errors import EnvironmentProblem, UsageError
from slurm_diag.schemas import load_schema

SYSTEM_CONFIG = Path("/etc/sdiag/config.toml")

SECTIONS_DIR = Path(__file__).parent / "schemas" / "config_sections"


def _sections() -> dict[str, dict]:
    """Registration by file: schemas/config_sections/<name>.json holds a section's schema and defaults."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(SECTIONS_DIR.glob("*.json"))}


def defaults() -> dict[str, Any]:
    return {"home": "~/.sdiag", **{name: sec["defaults"] for name, sec in _sections().items()}}


def schema() -> dict:
    full = copy.deepcopy(load_schema("config"))
    for name, sec in _sections().items():
        full["properties"][name] = sec["schema"]
    return full


# environment variable -> key path it overrides
ENV_OVERRIDES = {
    "SDIAG_HOME": "home",
    "SDIAG_STORE_URL": "store.url",
    "SLURM_CONF": "slurm.conf",
}

_JSON_TYPES = {"string": "str", "number": "float", "integer": "int", "object": "table",
               "boolean": "bool", "array": "list"}


@dataclass
class Config:
    data: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def get(self, key: str) -> Any:
        node: Any = self.data
        for part in key.split("."):
            node = node[part]
        return node

    @property
    def home(self) -> Path:
        return Path(os.path.expanduser(self.get("home")))

    @property
    def slurm_conf(self) -> str:
        """slurm.conf in use: ``slurm.conf`` (or $SLURM_CONF), else Slurm's own default ("")."""
        return self.get("slurm.conf") or os.environ.get("SLURM_CONF", "")

    @property
    def spool_dir(self) -> Path:
        """Where the hooks spool their reports on this node: ``health.spool_dir``, else <home>/spool."""
        configured = self.get("health.spool_dir")
        return Path(os.path.expanduser(configured)) if configured else self.home / "spool"

    def private_dir(self, *parts: str) -> Path:
        """<home>/<parts>, created if missing, that only its owner may read: the agent's outputs and
        the LLM's answers quote other users' job logs. One the caller owns is closed if it was open."""
        path = self.home.joinpath(*parts)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
        if info.st_uid == os.geteuid() and info.st_mode & 0o077:
            path.chmod(0o700)
        return path

    @property
    def slurm_bin_dir(self) -> str:
        return self.get("slurm.bin_dir") or ""

    @property
    def store_url(self) -> str:
        """``store.url``, else the URL in ``store.url_file`` (a 0600 file that keeps the password out
        of the world-readable config), else SQLite under home."""
        if self.get("store.url"):
            return self.get("store.url")
        url_file = self.get("store.url_file")
        if not url_file:
            return f"sqlite:///{self.home / 'sdiag.db'}"
        path = Path(os.path.expanduser(url_file))
        try:
            text = path.read_bytes().decode("utf-8").strip()
        except PermissionError:
            raise EnvironmentProblem(f"cannot read the store's credentials file {path} (store.url_file): "
                                     "permission denied",
                                     hint="it is readable by root (or SlurmUser) only; run the store "
                                          "commands as them") from None
        except OSError as exc:
            raise EnvironmentProblem(f"cannot read the store's credentials file {path} (store.url_file): "
                                     f"{exc.strerror}", hint="create it (mode 0600) or fix [store] url_file") from None
        except UnicodeDecodeError:
            raise UsageError(f"{path} (store.url_file): expected one line with a SQLAlchemy URL, "
                             "found bytes that are not UTF-8 text", hint="write the URL into it as text") from None
        if not text:
            raise UsageError(f"{path} (store.url_file) is empty: expected one line with a SQLAlchemy URL",
                             hint="write the URL into it, or empty [store] url_file for SQLite") from None
        return text

    def flat(self) -> dict[str, Any]:
        return dict(_flatten(self.data))


def _flatten(node: dict, prefix: str = ""):
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, path + ".")
        else:
            yield path, value


def _set(data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def _merge(base: dict, over: dict, sources: dict, origin: str, prefix: str = "") -> None:
    for key, value in over.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, sources, origin, path + ".")
        else:
            base[key] = value
            sources[path] = origin


def _explain(error) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        return f"{where}: {error.message} (check the spelling; `sdiag-agent config show` lists valid keys)"
    if error.validator == "type":
        want = error.validator_value
        want = want if isinstance(want, str) else " or ".join(want)
        found = type(error.instance).__name__
        return f"{where}: expected {_JSON_TYPES.get(want, want)}, found {found} {error.instance!r}"
    return f"{where}: {error.message}"


def validate(data: dict, origin: str) -> None:
    """Raise UsageError naming the key path and what was expected."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = "\n  ".join(_explain(e) for e in errors)
        raise UsageError(f"invalid config {origin}:\n  {lines}",
                         hint=f"fix {origin} (or unset SDIAG_CONFIG to use the defaults)")


def mask_url(url: str) -> str:
    """A URL fit to print: the password (user:PASSWORD@ or password=...) replaced by ***."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        creds, host = rest.rsplit("@", 1)
        user, colon, _ = creds.partition(":")
        rest = f"{user}:***@{host}" if colon else rest
    rest = re.sub(r"(?i)\b((?:password|passwd|pwd)=)[^&;]*", r"\1***", rest)
    return f"{scheme}{sep}{rest}"


def masked(data: Any, key: str = "") -> Any:
    """``data`` with every value under a key ending in ``url`` passed through mask_url."""
    if isinstance(data, dict):
        return {k: masked(v, f"{key}.{k}" if key else k) for k, v in data.items()}
    if isinstance(data, str) and key.endswith("url"):
        return mask_url(data)
    return data


def describe_bytes(data: bytes) -> str:
    """What a file holds, in words, for an error message (never the raw bytes)."""
    if b"\x00" in data:
        return f"binary data ({len(data)} bytes, NUL byte at offset {data.index(0)})"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (f"binary data ({len(data)} bytes; byte 0x{data[exc.start]:02x} at offset {exc.start} "
                "is not UTF-8)")
    return f"text ({len(data)} bytes)"


def read_text(path: Path) -> str:
    """The config file's text; UsageError naming what was found when it is unreadable or binary."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}",
                         hint="create it, fix SDIAG_CONFIG, or unset SDIAG_CONFIG for defaults") from None
    try:
        if b"\x00" in data:
            raise ValueError
        return data.decode("utf-8")
    except ValueError:
        raise UsageError(f"config {path}: expected a UTF-8 TOML text file, found {describe_bytes(data)}",
                         hint="point SDIAG_CONFIG at the TOML config (or unset it for the defaults)") from None


def config_path() -> Path | None:
    env = os.environ.get("SDIAG_CONFIG")
    if env:
        return Path(env)
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None


def load(path: Path | None = None, validate_schema: bool = True) -> Config:
    """The config: defaults, the file, then the environment overrides.

    ``validate_schema=False`` is the prolog's fast path: the same file and the same clear errors for
    an unreadable, binary or non-TOML file, but no jsonschema import (the CLI and the
    HealthCheckProgram validate, so a wrong key is reported there by its path).
    """
    data = defaults()
    sources = {key: "default" for key, _ in _flatten(data)}
    path = path or config_path()
    if path is not None:
        text = read_text(path)
        try:
            loaded = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"config {path} is not valid TOML: {exc}",
                             hint="fix the syntax at the line named above") from None
        if validate_schema:
            validate(loaded, str(path))
        _merge(data, loaded, sources, f"file:{path}")
    for var, key in ENV_OVERRIDES.items():
        value = os.environ.get(var)
        if value:
            _set(data, key, value)
            sources[key] = f"env:{var}"
    return Config(data=data, sources=sources, path=path)
