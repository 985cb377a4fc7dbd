"""Read every GPU through an NVML-like module (pynvml or the simulator) with a timeout on every call
and one on the whole read.

NVML can hang inside the driver (a GPU fallen off the bus, a wedged driver). A hung C call cannot
be interrupted, so each GPU is read in its own daemon thread while this thread watches the call in
progress: one that runs past ``call_timeout_s``, or is still running when the whole read's
deadline comes, marks that GPU's remaining fields UNKNOWN with the call's name, and the caller goes
on. A thread stuck in the driver can still keep its process from exiting, so the health checks run
this module in a child process they can abandon and kill (``slurm_diag.gpu.child``).
"""

from __future__ import annotations

import threading
import time

from slurm_diag.gpu.reading import (Clocks, Ecc, GpuInfo, GpuProcess, GpuReading, PcieLink, ReadError,
                                  RetiredPages, RowRemap)
from slurm_diag.gpu.throttle import decode

# NVML constants (identical in pynvml and the simulator)
CLOCK_SM, CLOCK_MEM = 1, 2
TEMPERATURE_GPU, THRESHOLD_SLOWDOWN = 0, 1
ERR_CORRECTED, ERR_UNCORRECTED = 0, 1
VOLATILE, AGGREGATE = 0, 1
RETIRE_SBE, RETIRE_DBE = 0, 1
NOT_SUPPORTED, INVALID_ARGUMENT, FUNCTION_NOT_FOUND = 3, 2, 13
MAX_NVLINKS = 18
MIB = 1024 * 1024


class NvmlHung(Exception):
    """A call did not return within its timeout."""


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _code(exc: Exception) -> int | None:
    return getattr(exc, "value", None)


def _unsupported(exc: Exception) -> bool:
    return _code(exc) in (NOT_SUPPORTED, FUNCTION_NOT_FOUND) or isinstance(exc, AttributeError)


def _describe(call: str, exc: Exception) -> str:
    code = _code(exc)
    return f"{call} failed: {exc}" + (f" (NVML error {code})" if code is not None and str(code) not in str(exc) else "")


class _GpuWorker(threading.Thread):
    """Reads one GPU call by call, publishing the call in progress for the watchdog."""

    def __init__(self, nvml, index: int, done: threading.Event):
        super().__init__(name=f"nvml-gpu{index}", daemon=True)
        self.nvml, self.index, self.done_event = nvml, index, done
        self.info = GpuInfo(index=index)
        self.current: tuple[str, float] | None = None
        self.finished = False
        self.abandoned = False

    def run(self) -> None:
        try:
            _collect(self, self.info)
        except NvmlHung:
            pass
        except Exception as exc:  # a bug or an unexpected NVML failure: say so, keep the rest
            self.info.errors.setdefault("gpu", f"reading gpu{self.index} failed: {exc!r}")
        finally:
            self.current = None
            self.finished = True
            self.done_event.set()

    def call(self, name: str, *args):
        if self.abandoned:
            raise NvmlHung(name)
        self.current = (name, time.monotonic())
        try:
            return getattr(self.nvml, name)(*args)
        finally:
            self.current = None
            if self.abandoned:
                raise NvmlHung(name)

    def field(self, fieldname: str, call: str, *args, convert=lambda v: v):
        """One call for one field: NOT_SUPPORTED leaves it None, other failures are recorded."""
        try:
            return convert(self.call(call, *args))
        except NvmlHung:
            raise
        except Exception as exc:
            if _unsupported(exc):
                self.info.unsupported.append(fieldname)
            else:
                self.info.errors[fieldname] = _describe(call, exc)
            return None


def _collect(w: _GpuWorker, info: GpuInfo) -> None:
    handle = w.call("nvmlDeviceGetHandleByIndex", w.index)
    info.name = w.field("name", "nvmlDeviceGetName", handle, convert=_text)
    info.uuid = w.field("uuid", "nvmlDeviceGetUUID", handle, convert=_text)
    info.pci_bus_id = w.field("pci_bus_id", "nvmlDeviceGetPciInfo", handle,
                              convert=lambda p: _text(p.busId))
    mem = w.field("memory_total_mib", "nvmlDeviceGetMemoryInfo", handle)
    if mem is not None:
        info.memory_total_mib, info.memory_used_mib = mem.total / MIB, mem.used / MIB
    elif "memory_total_mib" in info.errors:
        info.errors["memory_used_mib"] = info.errors["memory_total_mib"]
    info.clocks = Clocks(
        sm_mhz=w.field("clocks.sm_mhz", "nvmlDeviceGetClockInfo", handle, CLOCK_SM),
        mem_mhz=w.field("clocks.mem_mhz", "nvmlDeviceGetClockInfo", handle, CLOCK_MEM),
        app_sm_mhz=w.field("clocks.app_sm_mhz", "nvmlDeviceGetApplicationsClock", handle, CLOCK_SM),
        app_mem_mhz=w.field("clocks.app_mem_mhz", "nvmlDeviceGetApplicationsClock", handle, CLOCK_MEM),
        max_sm_mhz=w.field("clocks.max_sm_mhz", "nvmlDeviceGetMaxClockInfo", handle, CLOCK_SM),
        max_mem_mhz=w.field("clocks.max_mem_mhz", "nvmlDeviceGetMaxClockInfo", handle, CLOCK_MEM),
    )
    # newer drivers name it "event reasons"; older ones only have "throttle reasons"
    info.throttle_reasons = w.field("throttle_reasons", "nvmlDeviceGetCurrentClocksEventReasons", handle,
                                    convert=decode)
    if info.throttle_reasons is None and "throttle_reasons" in info.unsupported:
        info.unsupported.remove("throttle_reasons")
        info.throttle_reasons = w.field("throttle_reasons", "nvmlDeviceGetCurrentClocksThrottleReasons",
                                        handle, convert=decode)
    info.temperature_c = w.field("temperature_c", "nvmlDeviceGetTemperature", handle, TEMPERATURE_GPU)
    info.slowdown_temp_c = w.field("slowdown_temp_c", "nvmlDeviceGetTemperatureThreshold",
                                   handle, THRESHOLD_SLOWDOWN)
    info.power_w = w.field("power_w", "nvmlDeviceGetPowerUsage", handle, convert=lambda mw: mw / 1000)
    info.power_limit_w = w.field("power_limit_w", "nvmlDeviceGetEnforcedPowerLimit", handle,
                                 convert=lambda mw: mw / 1000)
    info.ecc = Ecc(
        volatile_corrected=w.field("ecc.volatile_corrected", "nvmlDeviceGetTotalEccErrors",
                                   handle, ERR_CORRECTED, VOLATILE),
        volatile_uncorrected=w.field("ecc.volatile_uncorrected", "nvmlDeviceGetTotalEccErrors",
                                     handle, ERR_UNCORRECTED, VOLATILE),
        aggregate_corrected=w.field("ecc.aggregate_corrected", "nvmlDeviceGetTotalEccErrors",
                                    handle, ERR_CORRECTED, AGGREGATE),
        aggregate_uncorrected=w.field("ecc.aggregate_uncorrected", "nvmlDeviceGetTotalEccErrors",
                                      handle, ERR_UNCORRECTED, AGGREGATE),
    )
    sbe = w.field("retired_pages", "nvmlDeviceGetRetiredPages", handle, RETIRE_SBE)
    if sbe is not None:
        dbe = w.field("retired_pages", "nvmlDeviceGetRetiredPages", handle, RETIRE_DBE) or []
        pending = w.field("retired_pages", "nvmlDeviceGetRetiredPagesPendingStatus", handle)
        info.retired_pages = RetiredPages(single_bit=len(sbe), double_bit=len(dbe), pending=bool(pending))
    rows = w.field("row_remap", "nvmlDeviceGetRemappedRows", handle)
    if rows is not None:
        corr, unc, pending, failure = rows
        info.row_remap = RowRemap(correctable=corr, uncorrectable=unc, pending=bool(pending),
                                  failure=bool(failure))
    info.pcie = PcieLink(
        gen=w.field("pcie.gen", "nvmlDeviceGetCurrPcieLinkGeneration", handle),
        max_gen=w.field("pcie.max_gen", "nvmlDeviceGetMaxPcieLinkGeneration", handle),
        width=w.field("pcie.width", "nvmlDeviceGetCurrPcieLinkWidth", handle),
        max_width=w.field("pcie.max_width", "nvmlDeviceGetMaxPcieLinkWidth", handle),
    )
    info.nvlink_up = _nvlinks(w, handle)
    procs = w.field("processes", "nvmlDeviceGetComputeRunningProcesses", handle)
    if procs is not None:
        info.processes = tuple(
            GpuProcess(pid=p.pid, used_memory_mib=(p.usedGpuMemory / MIB if p.usedGpuMemory is not None else None))
            for p in procs)


def _nvlinks(w: _GpuWorker, handle) -> tuple[bool, ...] | None:
    """Links are numbered from 0; the first NOT_SUPPORTED / INVALID_ARGUMENT ends the list."""
    states = []
    for link in range(MAX_NVLINKS):
        try:
            states.append(bool(w.call("nvmlDeviceGetNvLinkState", handle, link)))
        except NvmlHung:
            raise
        except Exception as exc:
            if _code(exc) in (NOT_SUPPORTED, INVALID_ARGUMENT) or _unsupported(exc):
                break
            w.info.errors["nvlink_up"] = _describe("nvmlDeviceGetNvLinkState", exc)
            return None
    if not states:
        w.info.unsupported.append("nvlink_up")
        return None
    return tuple(states)


ALL_FIELDS = ("name", "uuid", "pci_bus_id", "memory_total_mib", "memory_used_mib", "clocks.sm_mhz",
              "clocks.mem_mhz", "clocks.app_sm_mhz", "clocks.app_mem_mhz", "clocks.max_sm_mhz",
              "clocks.max_mem_mhz", "throttle_reasons", "temperature_c", "slowdown_temp_c", "power_w",
              "power_limit_w", "ecc.volatile_corrected", "ecc.volatile_uncorrected",
              "ecc.aggregate_corrected", "ecc.aggregate_uncorrected", "retired_pages", "row_remap",
              "pcie.gen", "pcie.max_gen", "pcie.width", "pcie.max_width", "nvlink_up", "processes")


def _run_with_timeout(fn, timeout_s: float, why: str, what: str):
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    t = threading.Thread(target=target, name=f"nvml-{what}", daemon=True)
    t.start()
    t.join(max(0.0, timeout_s))
    if t.is_alive():
        raise NvmlHung(f"{what} {why}")
    if "error" in box:
        raise box["error"]
    return box.get("value")


class _Limits:
    """The per-call timeout and the whole read's deadline, and the words for whichever ran out."""

    def __init__(self, call_timeout_s: float, total_timeout_s: float | None, deadline: float | None):
        self.call_timeout_s, self.total_timeout_s = call_timeout_s, total_timeout_s
        if deadline is None and total_timeout_s is not None:
            deadline = time.monotonic() + total_timeout_s
        self.deadline = deadline if deadline is not None else float("inf")

    def for_call(self) -> tuple[float, str]:
        """(seconds this call may take, why it was given up when it takes longer)."""
        left = self.deadline - time.monotonic()
        if left < self.call_timeout_s:
            return left, self.whole_read()
        return self.call_timeout_s, f"did not return within {self.call_timeout_s:g} s (NVML hung)"

    def whole_read(self) -> str:
        if self.total_timeout_s is None:
            return "had not returned when the whole NVML read reached its deadline"
        return f"had not returned when the whole NVML read reached its {self.total_timeout_s:g} s limit"


def read_all(nvml, source: str, call_timeout_s: float = 2.0, total_timeout_s: float | None = None,
             deadline: float | None = None, progress=lambda phase: None) -> GpuReading:
    """Init NVML, then read every GPU in parallel; never raises for NVML trouble.

    Every call is limited to ``call_timeout_s``, the whole read to ``total_timeout_s`` (ending at
    ``deadline``, a ``time.monotonic()`` value, when given). ``progress(phase)`` is told each step.
    """
    start = time.monotonic()
    limits = _Limits(call_timeout_s, total_timeout_s, deadline)
    reading = GpuReading(source=source)
    try:
        progress("nvmlInit")
        _run_with_timeout(nvml.nvmlInit, *limits.for_call(), "nvmlInit")
        progress("nvmlDeviceGetCount")
        count = _run_with_timeout(nvml.nvmlDeviceGetCount, *limits.for_call(), "nvmlDeviceGetCount")
    except NvmlHung as exc:
        reading.error, reading.error_kind = str(exc), ReadError.HUNG
        reading.duration_s = time.monotonic() - start
        return reading
    except Exception as exc:
        reading.error, reading.error_kind = _describe("nvmlInit", exc), ReadError.DRIVER
        reading.duration_s = time.monotonic() - start
        return reading
    try:
        progress("nvmlSystemGetDriverVersion")
        reading.driver_version = _text(_run_with_timeout(nvml.nvmlSystemGetDriverVersion, *limits.for_call(),
                                                         "nvmlSystemGetDriverVersion"))
    except Exception:
        reading.driver_version = None
    progress(f"reading {count} GPUs")
    reading.gpus = _read_gpus(nvml, count, limits)
    if limits.deadline - time.monotonic() > 0:
        try:
            _run_with_timeout(nvml.nvmlShutdown, *limits.for_call(), "nvmlShutdown")
        except Exception:
            pass
    reading.duration_s = time.monotonic() - start
    return reading


def _read_gpus(nvml, count: int, limits: _Limits) -> list[GpuInfo]:
    """One worker thread per GPU; this thread gives up on a call past its timeout or the deadline."""
    done = threading.Event()
    workers = [_GpuWorker(nvml, i, done) for i in range(count)]
    for w in workers:
        w.start()
    pending = list(workers)
    while pending:
        done.clear()
        now = time.monotonic()
        waits = [limits.deadline - now]
        for w in list(pending):
            if w.finished:
                pending.remove(w)
                continue
            current = w.current
            if now >= limits.deadline:
                call = current[0] if current else "the next call"
                _abandon(w, f"{call} {limits.whole_read()} (gpu{w.index})")
                pending.remove(w)
            elif current is not None:
                call, started = current
                if now - started >= limits.call_timeout_s:
                    _abandon(w, f"{call} did not return within {limits.call_timeout_s:g} s "
                                f"(NVML hung on gpu{w.index})")
                    pending.remove(w)
                    continue
                waits.append(started + limits.call_timeout_s - now)
            else:
                waits.append(0.01)
        if pending:
            done.wait(max(0.001, min(waits)))
    return [w.snapshot if w.abandoned else w.info for w in workers]


def _abandon(w: _GpuWorker, reason: str) -> None:
    """Freeze what this GPU's worker read so far; every field not yet read is UNKNOWN."""
    w.abandoned = True
    info = w.info
    frozen = GpuInfo(**{k: getattr(info, k) for k in info.__dataclass_fields__})
    frozen.errors = dict(info.errors)
    frozen.unsupported = list(info.unsupported)
    for name in ALL_FIELDS:
        if name not in frozen.unsupported and name not in frozen.errors and _missing(frozen, name):
            frozen.errors[name] = reason
    frozen.errors.setdefault("gpu", reason)
    w.snapshot = frozen


def _missing(info: GpuInfo, name: str) -> bool:
    obj = info
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj is None
