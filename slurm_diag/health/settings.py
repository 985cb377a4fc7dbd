"""The ``health`` config section, loaded without jsonschema on the prolog path.

``load(validate=False)`` reads the same file as ``slurm_diag.config`` (SDIAG_CONFIG, else
/etc/sdiag/config.toml) and merges it over the section defaults; the CLI and the
HealthCheckProgram load with validation, so a broken file is reported there by key path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Settings:
    health: dict
    home: Path
    slurm_conf: str
    slurm_bin_dir: str = ""

    def get(self, dotted: str):
        node = self.health
        for part in dotted.split("."):
            node = node[part]
        return node


def load(validate: bool = False) -> Settings:
    from slurm_diag import config

    if validate:
        cfg = config.load()
        data = cfg.data
    else:
        data = config.defaults()
        path = config.config_path()
        if path is not None:
            import tomllib

            try:
                loaded = tomllib.loads(path.read_text())
            except (OSError, ValueError):          # unreadable, not UTF-8 (binary), not TOML
                return load(validate=True)      # raises the clear, validated error
            config._merge(data, loaded, {}, str(path))
        for var, key in config.ENV_OVERRIDES.items():
            if os.environ.get(var):
                config._set(data, key, os.environ[var])
    home = Path(os.path.expanduser(data["home"]))
    slurm_conf = data.get("slurm", {}).get("conf") or os.environ.get("SLURM_CONF", "")
    return Settings(health=data["health"], home=home, slurm_conf=slurm_conf,
                    slurm_bin_dir=data.get("slurm", {}).get("bin_dir", ""))
