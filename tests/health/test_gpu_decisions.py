"""Each per-GPU decision on good, bad and missing data (pure functions over GpuInfo)."""

from dataclasses import replace

from slurm_diag.gpu.reading import (Clocks, Ecc, GpuInfo, GpuProcess, GpuReading, PcieLink, ReadError, RetiredPages,
                                  RowRemap)
from slurm_diag.health.checks import clocks, ecc, gpu_count, memory_errors, nvlink, pcie, stray_processes, temperature
from slurm_diag.status import Status


def gpu(**kw) -> GpuInfo:
    base = dict(index=3, name="H100", uuid="GPU-x", pci_bus_id="00000000:5D:00.0",
                clocks=Clocks(sm_mhz=1980, mem_mhz=2619, app_sm_mhz=1980, app_mem_mhz=2619, max_sm_mhz=1980, max_mem_mhz=2619),
                throttle_reasons=(), temperature_c=60, slowdown_temp_c=90, power_w=600, power_limit_w=700,
                ecc=Ecc(0, 0, 0, 0), row_remap=RowRemap(), pcie=PcieLink(5, 5, 16, 16),
                nvlink_up=(True,) * 18, processes=())
    base.update(kw)
    return GpuInfo(**base)


def status(result):
    return Status.OK if result is None else result.status


# clocks
def test_clocks_harmful_reasons_are_critical():
    for reason in ("HW_SLOWDOWN", "HW_THERMAL_SLOWDOWN", "SW_THERMAL_SLOWDOWN", "HW_POWER_BRAKE_SLOWDOWN"):
        r = clocks.evaluate(gpu(throttle_reasons=(reason,), clocks=replace(gpu().clocks, sm_mhz=900)), 0.89, 0.8)
        assert r.status == Status.CRITICAL and reason in r.message and r.gpu == 3


def test_sw_power_cap_alone_is_normal():
    r = clocks.evaluate(gpu(throttle_reasons=("SW_POWER_CAP",), clocks=replace(gpu().clocks, sm_mhz=1500)), 0.89, 0.8)
    assert status(r) == Status.OK


def test_application_clocks_locked_low_are_critical():
    r = clocks.evaluate(gpu(throttle_reasons=("GPU_IDLE",), clocks=replace(gpu().clocks, app_sm_mhz=1100)), 0.89, 0.8)
    assert r.status == Status.CRITICAL and "locked at 1100 MHz" in r.message and "-rac" in r.message


def test_slow_without_reason_under_load_warns_but_idle_is_fine():
    slow = replace(gpu().clocks, sm_mhz=1000)
    assert clocks.evaluate(gpu(clocks=slow), 0.89, 0.8).status == Status.WARN
    assert status(clocks.evaluate(gpu(clocks=slow, throttle_reasons=("GPU_IDLE",)), 0.89, 0.8)) == Status.OK


def test_clocks_unreadable_is_unknown_naming_the_call():
    g = gpu(throttle_reasons=None, errors={"throttle_reasons": "nvmlDeviceGetCurrentClocksEventReasons did not return within 2 s"})
    r = clocks.evaluate(g, 0.89, 0.8)
    assert r.status == Status.UNKNOWN and "did not return" in r.message


# temperature
def test_temperature_levels():
    assert status(temperature.evaluate(gpu(temperature_c=80), 5)) == Status.OK
    assert temperature.evaluate(gpu(temperature_c=86), 5).status == Status.WARN
    assert temperature.evaluate(gpu(temperature_c=91), 5).status == Status.CRITICAL
    assert temperature.evaluate(gpu(temperature_c=None, errors={"temperature_c": "lost"}), 5).status == Status.UNKNOWN


# pcie
def test_pcie_width_degraded_is_critical_and_gen_only_counts_under_load():
    assert pcie.evaluate(gpu(pcie=PcieLink(5, 5, 8, 16))).status == Status.CRITICAL
    assert status(pcie.evaluate(gpu(pcie=PcieLink(1, 5, 16, 16), throttle_reasons=("GPU_IDLE",)))) == Status.OK
    assert pcie.evaluate(gpu(pcie=PcieLink(3, 5, 16, 16))).status == Status.WARN


# nvlink
def test_nvlink_down_and_absent():
    links = (True,) * 5 + (False,) + (True,) * 12
    r = nvlink.evaluate(gpu(nvlink_up=links))
    assert r.status == Status.CRITICAL and "links down: 5 of 18" in r.message
    assert status(nvlink.evaluate(gpu(nvlink_up=None, unsupported=["nvlink_up"]))) == Status.OK
    assert nvlink.evaluate(gpu(nvlink_up=None, errors={"nvlink_up": "hung"})).status == Status.UNKNOWN


# ecc
def test_ecc_volatile_uncorrectable_is_critical_without_baseline():
    r = ecc.evaluate(gpu(ecc=Ecc(0, 2, 0, 2)), None, 1000.0, 100, 1000)
    assert r.status == Status.CRITICAL and "2 uncorrectable" in r.message


def test_ecc_new_aggregate_uncorrectable_against_baseline():
    base = {"aggregate_uncorrected": 1, "aggregate_corrected": 0, "time": 0}
    r = ecc.evaluate(gpu(ecc=Ecc(0, 0, 0, 3)), base, 100.0, 100, 1000)
    assert r.status == Status.CRITICAL and "2 new uncorrectable" in r.message
    history = ecc.evaluate(gpu(ecc=Ecc(0, 0, 0, 1)), {**base, "time": 100}, 200.0, 100, 1000)
    assert history.status == Status.WARN and "lifetime" in history.message


def test_ecc_corrected_rate_warns():
    base = {"aggregate_uncorrected": 0, "aggregate_corrected": 0, "time": 0.0}
    assert ecc.evaluate(gpu(ecc=Ecc(0, 0, 500, 0)), base, 3600.0, 100, 1000).status == Status.WARN
    assert status(ecc.evaluate(gpu(ecc=Ecc(0, 0, 50, 0)), base, 3600.0, 100, 1000)) == Status.OK
    assert ecc.evaluate(gpu(ecc=Ecc(5000, 0, 5000, 0)), None, 10.0, 100, 1000).status == Status.WARN


def test_ecc_disabled_is_not_judged_and_failed_read_is_unknown():
    off = gpu(ecc=Ecc(), unsupported=["ecc.volatile_corrected", "ecc.volatile_uncorrected",
                                      "ecc.aggregate_corrected", "ecc.aggregate_uncorrected"])
    assert status(ecc.evaluate(off, None, 0, 100, 1000)) == Status.OK
    lost = gpu(ecc=Ecc(), errors={"ecc.volatile_uncorrected": "GPU is lost"})
    assert ecc.evaluate(lost, None, 0, 100, 1000).status == Status.UNKNOWN


# row remap / retired pages
def test_memory_errors():
    assert memory_errors.evaluate(gpu(row_remap=RowRemap(0, 1, True, False)), 1, 60).status == Status.CRITICAL
    failure = memory_errors.evaluate(gpu(row_remap=RowRemap(0, 8, False, True)), 1, 60)
    assert failure.status == Status.CRITICAL and "RMA" in failure.message
    assert status(memory_errors.evaluate(gpu(row_remap=RowRemap(2, 1, False, False)), 1, 60)) == Status.OK
    old = dict(row_remap=None, unsupported=["row_remap"])
    assert memory_errors.evaluate(gpu(retired_pages=RetiredPages(3, 0, True), **old), 1, 60).status == Status.CRITICAL
    assert memory_errors.evaluate(gpu(retired_pages=RetiredPages(40, 20, False), **old), 1, 60).status == Status.CRITICAL
    assert memory_errors.evaluate(gpu(retired_pages=RetiredPages(2, 0, False), **old), 1, 60).status == Status.WARN
    assert memory_errors.evaluate(gpu(row_remap=None, errors={"row_remap": "hung"}), 1, 60).status == Status.UNKNOWN


# gpu count
def test_gpu_count():
    eight = GpuReading(source="sim", gpus=[gpu(index=i) for i in range(8)])
    assert gpu_count.evaluate(eight, 8, "config").status == Status.OK
    seven = GpuReading(source="sim", gpus=[gpu(index=i) for i in range(7)])
    assert gpu_count.evaluate(seven, 8, "config").status == Status.CRITICAL
    assert gpu_count.evaluate(eight, 4, "Gres").status == Status.WARN
    hung = GpuReading(source="nvml", error="nvmlInit did not return within 2 s (NVML hung)", error_kind=ReadError.HUNG)
    assert gpu_count.evaluate(hung, 8, "config").status == Status.UNKNOWN


def test_gpu_count_decides_by_error_kind_not_by_message_words():
    words = "NVML not loadable: pynvml (package nvidia-ml-py) is not installed"    # what cb237c8 matched
    driver = GpuReading(source="nvml", error=words, error_kind=ReadError.DRIVER)
    r = gpu_count.evaluate(driver, 8, "Gres in slurm.conf")
    assert r.status == Status.CRITICAL and r.message.startswith("expected 8 GPUs (Gres in slurm.conf), but NVML")
    assert gpu_count.evaluate(driver, 0, "config").status == Status.OK
    assert gpu_count.evaluate(driver, None, "no expected count").status == Status.OK
    for kind in (ReadError.NOT_INSTALLED, ReadError.INTERNAL, ReadError.PROFILE):
        ours = GpuReading(source="nvml", error=words, error_kind=kind)
        for expected in (8, None):
            r = gpu_count.evaluate(ours, expected, "config")
            assert r.status == Status.UNKNOWN, (kind, expected)
            assert "a slurm-diag problem and not the node's" in r.message
            assert r.data == {"error_kind": kind.value, "not_a_node_fault": True}
        assert gpu_count.evaluate(ours, 0, "config").status == Status.OK


# stray processes
def test_stray_processes_depend_on_context_and_job_gpus():
    held = [gpu(index=0), gpu(index=1, processes=(GpuProcess(4242, 30000.0),))]
    r = stray_processes.evaluate(held, [1], "prolog", 0)
    assert [x.status for x in r] == [Status.CRITICAL] and "pid 4242" in r[0].message and r[0].gpu == 1
    assert [x.status for x in stray_processes.evaluate(held, [0], "prolog", 0)] == [Status.OK]
    assert [x.status for x in stray_processes.evaluate(held, None, "healthcheck", 0)] == [Status.OK]
    assert [x.status for x in stray_processes.evaluate(held, None, "epilog", 0)] == [Status.CRITICAL]
    assert [x.status for x in stray_processes.evaluate(held, [1], "prolog", 50000)] == [Status.OK]
