"""Plain records of what NVML reported for one GPU, so checks never touch NVML themselves.

A field is None when NVML could not tell: ``unsupported`` lists the fields the device does not
have (e.g. retired pages on a GPU that uses row remapping); ``errors`` maps a field to why it
could not be read (a failed or hung call). Checks turn an error into UNKNOWN, never into OK.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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


@dataclass
class GpuReading:
    """Every GPU on the node, or why none could be read (``error``: NVML missing, init hung)."""

    source: str                      # "nvml" or "simulator:<profile path>"
    gpus: list[GpuInfo] = field(default_factory=list)
    driver_version: str | None = None
    error: str | None = None
    duration_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)
