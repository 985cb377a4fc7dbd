"""InfiniBand port state from sysfs (``<root>/sys/class/infiniband/<hca>/ports/<n>/{state,phys_state,
rate,link_layer}``), or from a node profile holding the same file contents. Parsing is pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class IbPort:
    hca: str
    port: str
    state: str              # ACTIVE, DOWN, INIT, ARMED
    phys_state: str         # LinkUp, Polling, Disabled, ...
    rate_gbps: float | None
    link_layer: str

    @property
    def label(self) -> str:
        return f"{self.hca}/{self.port}"


def _after_colon(text: str) -> str:
    """'4: ACTIVE' -> 'ACTIVE'."""
    return text.split(":", 1)[1].strip() if ":" in text else text.strip()


def parse_rate(text: str) -> float | None:
    m = re.match(r"\s*([\d.]+)\s*Gb/sec", text or "")
    return float(m.group(1)) if m else None


def parse_port(hca: str, port: str, files: dict) -> IbPort:
    return IbPort(hca=hca, port=str(port), state=_after_colon(files.get("state", "")),
                  phys_state=_after_colon(files.get("phys_state", "")),
                  rate_gbps=parse_rate(files.get("rate", "")),
                  link_layer=(files.get("link_layer") or "").strip())


def from_profile(doc: dict) -> list[IbPort]:
    return [parse_port(hca, port, files)
            for hca, dev in sorted(doc.items()) for port, files in sorted(dev.get("ports", {}).items())]


def read_sysfs(root: str = "/") -> list[IbPort]:
    base = Path(root) / "sys" / "class" / "infiniband"
    ports = []
    if not base.is_dir():
        return ports
    for hca in sorted(base.iterdir()):
        for port_dir in sorted((hca / "ports").glob("*")):
            files = {}
            for name in ("state", "phys_state", "rate", "link_layer"):
                try:
                    files[name] = (port_dir / name).read_text()
                except OSError:
                    files[name] = ""
            ports.append(parse_port(hca.name, port_dir.name, files))
    return ports
