"""Plain records of what NVML reported for one GPU, so checks never touch NVML themselves.

A field is None when NVML could not tell: ``unsupported`` lists the fields the device does not
have (e.g. retired pages on a GPU that uses row remapping); ``errors`` maps a field to why it
could not be read (a failed or hung call). Checks turn an error into UNKNOWN, never into OK.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum


@dataclass(frozen=True)
class Clocks:
    sm_mhz: int | None = None
    mem_mhz: int | None = None
    app_sm_mhz: int | None = None
    app_mem_mhz: int | None = None
    max_sm_mhz: int | None = None
    max_mem_mhz: int | None = None


@dataclass(frozen=True)
class Ecc:
    volatile_corrected: int | None = None
    volatile_uncorrected: int | None = None
    aggregate_corrected: int | None = None
    aggregate_uncorrected: int | None = None


@dataclass(frozen=True)
class RetiredPages:
    single_bit: int = 0
    double_bit: int = 0
    pending: bool = False


@dataclass(frozen=True)
class RowRemap:
    correctable: int = 0
    uncorrectable: int = 0
    pending: bool = False
    failure: bool = False


@dataclass(frozen=True)
class PcieLink:
    gen: int | None = None
    max_gen: int | None = None
    width: int | None = None
    max_width: int | None = None


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    used_memory_mib: float | None


@dataclass
class GpuInfo:
    index: int
    name: str | None = None
    uuid: str | None = None
    pci_bus_id: str | None = None
    memory_total_mib: float | None = None
    memory_used_mib: float | None = None
    clocks: Clocks = field(default_factory=Clocks)
    throttle_reasons: tuple[str, ...] | None = None
    temperature_c: int | None = None
    slowdown_temp_c: int | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    ecc: Ecc = field(default_factory=Ecc)
    retired_pages: RetiredPages | None = None
    row_remap: RowRemap | None = None
    pcie: PcieLink = field(default_factory=PcieLink)
    nvlink_up: tuple[bool, ...] | None = None
    processes: tuple[GpuProcess, ...] | None = None
    errors: dict[str, str] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)

    def error_for(self, *fields: str) -> str | None:
        """Why any of these fields is missing, or None when all were read (or are unsupported)."""
        for name in fields:
            if name in self.errors:
                return self.errors[name]
        return None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GpuInfo":
        """The inverse of ``to_dict`` (the reading crosses a pipe from the reader process as JSON)."""
        def opt(kind, value):
            return kind(**value) if value is not None else None

        def seq(value, convert=lambda v: v):
            return tuple(convert(v) for v in value) if value is not None else None

        return cls(
            index=d["index"], name=d.get("name"), uuid=d.get("uuid"), pci_bus_id=d.get("pci_bus_id"),
            memory_total_mib=d.get("memory_total_mib"), memory_used_mib=d.get("memory_used_mib"),
            clocks=Clocks(**d.get("clocks", {})), throttle_reasons=seq(d.get("throttle_reasons")),
            temperature_c=d.get("temperature_c"), slowdown_temp_c=d.get("slowdown_temp_c"),
            power_w=d.get("power_w"), power_limit_w=d.get("power_limit_w"), ecc=Ecc(**d.get("ecc", {})),
            retired_pages=opt(RetiredPages, d.get("retired_pages")), row_remap=opt(RowRemap, d.get("row_remap")),
            pcie=PcieLink(**d.get("pcie", {})), nvlink_up=seq(d.get("nvlink_up")),
            processes=seq(d.get("processes"), lambda p: GpuProcess(**p)),
            errors=dict(d.get("errors", {})), unsupported=list(d.get("unsupported", [])))


class ReadError(str, Enum):
    """Why no GPU could be read. Checks decide by this kind, never by the message's words."""

    NOT_INSTALLED = "not_installed"  # slurm-diag's own installation (pynvml missing): never a node fault
    DRIVER = "driver"                # NVML / the driver failed to load or initialise on this node
    HUNG = "hung"                    # NVML did not answer within its per-call or whole-read limit
    PROFILE = "profile"              # the simulated node profile is unusable
    INTERNAL = "internal"            # slurm-diag's reader process failed (a bug): never a node fault


@dataclass
class GpuReading:
    """Every GPU on the node, or why none could be read (``error`` says why, ``error_kind`` what
    kind of failure it is)."""

    source: str                      # "nvml" or "simulator:<profile path>"
    gpus: list[GpuInfo] = field(default_factory=list)
    driver_version: str | None = None
    error: str | None = None
    error_kind: ReadError | None = None
    duration_s: float = 0.0

    def to_dict(self) -> dict:
        out = asdict(self)
        out["error_kind"] = self.error_kind.value if self.error_kind else None
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "GpuReading":
        kind = d.get("error_kind")
        return cls(source=d["source"], gpus=[GpuInfo.from_dict(g) for g in d.get("gpus", [])],
                   driver_version=d.get("driver_version"), error=d.get("error"),
                   error_kind=ReadError(kind) if kind else None, duration_s=d.get("duration_s", 0.0))
