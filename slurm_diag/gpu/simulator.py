"""An NVML-compatible simulator: the subset of pynvml's functions slurm-diag calls, answered from a
JSON node profile. The reader cannot tell it from pynvml, so the same code path is tested here and
runs on real GPUs. A GPU's ``hang_s`` makes its calls sleep (a hung driver), ``fail`` makes named
calls raise an NVML error code.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

from slurm_diag.gpu.profile import Profile
from slurm_diag.gpu.throttle import encode

MIB = 1024 * 1024
NOT_SUPPORTED, INVALID_ARGUMENT, LIBRARY_NOT_FOUND = 3, 2, 12


ERROR_TEXT = {1: "Uninitialized", 2: "Invalid Argument", 3: "Not Supported", 4: "Insufficient Permissions",
              9: "Driver Not Loaded", 10: "Timeout", 12: "NVML Shared Library Not Found",
              15: "GPU is lost", 16: "GPU requires restart", 999: "Unknown Error"}


class SimNVMLError(Exception):
    """Carries an NVML return code in ``value``, like pynvml.NVMLError."""

    def __init__(self, value: int, text: str = ""):
        super().__init__(text or ERROR_TEXT.get(value, f"NVML Error with code {value}"))
        self.value = value


class SimulatedNvml:
    def __init__(self, profile: Profile):
        self.profile = profile

    # library
    def nvmlInit(self):
        if self.profile.init_hang_s:
            time.sleep(self.profile.init_hang_s)
        if not self.profile.loadable:
            raise SimNVMLError(LIBRARY_NOT_FOUND, "NVML Shared Library Not Found")

    def nvmlShutdown(self):
        return None

    def nvmlSystemGetDriverVersion(self):
        return self.profile.driver_version

    def nvmlDeviceGetCount(self):
        return len(self.profile.gpus)

    def nvmlDeviceGetHandleByIndex(self, index):
        if not 0 <= index < len(self.profile.gpus):
            raise SimNVMLError(INVALID_ARGUMENT, "Invalid Argument")
        return self._gpu(index, "nvmlDeviceGetHandleByIndex") and index

    def _gpu(self, handle: int, call: str) -> dict:
        gpu = self.profile.gpus[handle]
        if gpu["hang_s"] and gpu["hang_call"] in (None, call):
            time.sleep(gpu["hang_s"])
        if call in gpu["fail"]:
            raise SimNVMLError(gpu["fail"][call])
        return gpu

    # identity
    def nvmlDeviceGetName(self, h):
        return self._gpu(h, "nvmlDeviceGetName")["name"]

    def nvmlDeviceGetUUID(self, h):
        return self._gpu(h, "nvmlDeviceGetUUID")["uuid"]

    def nvmlDeviceGetPciInfo(self, h):
        return SimpleNamespace(busId=self._gpu(h, "nvmlDeviceGetPciInfo")["pci_bus_id"].encode())

    def nvmlDeviceGetMemoryInfo(self, h):
        g = self._gpu(h, "nvmlDeviceGetMemoryInfo")
        total, used = int(g["memory_total_mib"] * MIB), int(g["memory_used_mib"] * MIB)
        return SimpleNamespace(total=total, used=used, free=total - used)

    # clocks
    _CLOCK = {1: "sm", 2: "mem"}

    def nvmlDeviceGetClockInfo(self, h, kind):
        return self._gpu(h, "nvmlDeviceGetClockInfo")["clocks"][self._CLOCK[kind]]

    def nvmlDeviceGetApplicationsClock(self, h, kind):
        return self._gpu(h, "nvmlDeviceGetApplicationsClock")["clocks"]["app_" + self._CLOCK[kind]]

    def nvmlDeviceGetMaxClockInfo(self, h, kind):
        return self._gpu(h, "nvmlDeviceGetMaxClockInfo")["clocks"]["max_" + self._CLOCK[kind]]

    def nvmlDeviceGetCurrentClocksEventReasons(self, h):
        return encode(self._gpu(h, "nvmlDeviceGetCurrentClocksEventReasons")["throttle_reasons"])

    # thermal and power
    def nvmlDeviceGetTemperature(self, h, sensor):
        return self._gpu(h, "nvmlDeviceGetTemperature")["temperature_c"]

    def nvmlDeviceGetTemperatureThreshold(self, h, threshold):
        return self._gpu(h, "nvmlDeviceGetTemperatureThreshold")["slowdown_temp_c"]

    def nvmlDeviceGetPowerUsage(self, h):
        return int(self._gpu(h, "nvmlDeviceGetPowerUsage")["power_w"] * 1000)

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        return int(self._gpu(h, "nvmlDeviceGetEnforcedPowerLimit")["power_limit_w"] * 1000)

    # memory errors
    def nvmlDeviceGetTotalEccErrors(self, h, error_type, counter_type):
        ecc = self._gpu(h, "nvmlDeviceGetTotalEccErrors")["ecc"]
        if ecc is None:
            raise SimNVMLError(NOT_SUPPORTED, "Not Supported")
        key = ("volatile_" if counter_type == 0 else "aggregate_") + \
              ("corrected" if error_type == 0 else "uncorrected")
        return ecc[key]

    def _retired(self, h, call):
        pages = self._gpu(h, call)["retired_pages"]
        if pages is None:
            raise SimNVMLError(NOT_SUPPORTED, "Not Supported")
        return pages

    def nvmlDeviceGetRetiredPages(self, h, cause):
        pages = self._retired(h, "nvmlDeviceGetRetiredPages")
        count = pages["single_bit"] if cause == 0 else pages["double_bit"]
        return [0x1000 * (i + 1) for i in range(count)]

    def nvmlDeviceGetRetiredPagesPendingStatus(self, h):
        return int(self._retired(h, "nvmlDeviceGetRetiredPagesPendingStatus")["pending"])

    def nvmlDeviceGetRemappedRows(self, h):
        rows = self._gpu(h, "nvmlDeviceGetRemappedRows")["row_remap"]
        if rows is None:
            raise SimNVMLError(NOT_SUPPORTED, "Not Supported")
        return (rows["correctable"], rows["uncorrectable"], int(rows["pending"]), int(rows["failure"]))

    # links
    def nvmlDeviceGetCurrPcieLinkGeneration(self, h):
        return self._gpu(h, "nvmlDeviceGetCurrPcieLinkGeneration")["pcie"]["gen"]

    def nvmlDeviceGetMaxPcieLinkGeneration(self, h):
        return self._gpu(h, "nvmlDeviceGetMaxPcieLinkGeneration")["pcie"]["max_gen"]

    def nvmlDeviceGetCurrPcieLinkWidth(self, h):
        return self._gpu(h, "nvmlDeviceGetCurrPcieLinkWidth")["pcie"]["width"]

    def nvmlDeviceGetMaxPcieLinkWidth(self, h):
        return self._gpu(h, "nvmlDeviceGetMaxPcieLinkWidth")["pcie"]["max_width"]

    def nvmlDeviceGetNvLinkState(self, h, link):
        links = self._gpu(h, "nvmlDeviceGetNvLinkState")["nvlink"]
        if link >= len(links):
            raise SimNVMLError(NOT_SUPPORTED if not links else INVALID_ARGUMENT)
        return int(links[link])

    # processes
    def nvmlDeviceGetComputeRunningProcesses(self, h):
        procs = self._gpu(h, "nvmlDeviceGetComputeRunningProcesses")["processes"]
        return [SimpleNamespace(pid=p["pid"], usedGpuMemory=int(p["used_memory_mib"] * MIB)) for p in procs]
