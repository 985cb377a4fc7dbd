"""The hardware table, the efficiency defaults and the expectation lookup order."""

import json

import pytest

from slurm_diag.errors import UsageError
from slurm_diag.perf import expect, hardware
from slurm_diag.perf.expect import Site


def test_every_gpu_sku_has_every_figure_with_a_source():
    skus = hardware.gpu_skus()
    assert {"A100-SXM-40GB", "A100-SXM-80GB", "H100-SXM", "H100-PCIe", "H200", "L40S"} <= set(skus)
    for sku in skus.values():
        for dtype in ("fp64", "fp32", "tf32", "bf16", "fp16"):
            assert sku.peak(dtype) > 0, (sku.name, dtype)
        for fig in hardware.FIGURES:
            assert sku.source(fig).startswith(("NVIDIA", "Max Clocks")), (sku.name, fig)
        assert sku.mem_bw > 0 and sku.max_sm_clock_mhz > 0


def test_datasheet_figures_are_dense_not_sparse():
    h100 = hardware.get_sku("h100-sxm")
    assert h100.peak("bf16") == pytest.approx(989.5e12)      # datasheet 1979 with sparsity
    assert h100.peak("fp8") == pytest.approx(1979e12)
    assert h100.mem_bw == 3.35e12 and h100.max_sm_clock_mhz == 1980
    assert hardware.get_sku("A100-SXM-80GB").mem_bw == 2.039e12
    assert hardware.get_sku("H200").mem_bw == 4.8e12
    assert hardware.get_sku("A100-SXM-40GB").peak("fp8") is None


def test_gpu_names_map_to_skus():
    assert hardware.sku_for_gpu_name("NVIDIA H100 80GB HBM3").name == "H100-SXM"
    assert hardware.sku_for_gpu_name("NVIDIA H100 PCIe").name == "H100-PCIe"
    assert hardware.sku_for_gpu_name("NVIDIA A100-SXM4-80GB").name == "A100-SXM-80GB"
    assert hardware.sku_for_gpu_name("NVIDIA H200").name == "H200"
    assert hardware.sku_for_gpu_name("NVIDIA L40S").name == "L40S"
    assert hardware.sku_for_gpu_name("Tesla V100-SXM2-32GB") is None


def test_unknown_sku_names_the_valid_ones():
    with pytest.raises(UsageError, match="unknown SKU") as err:
        hardware.get_sku("B300")
    assert "H100-SXM" in err.value.hint


def test_cpu_is_described_from_its_own_detection(tmp_path):
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nmodel name\t: Test CPU\ncpu MHz\t\t: 2600.000\n"
                                      "flags\t\t: fpu sse2 avx2 fma avx512f\n\n")
    cpu = hardware.detect_cpu(proc=tmp_path, sys_root=tmp_path)
    assert (cpu.model, cpu.isa, cpu.mhz) == ("Test CPU", "avx512", 2600.0)
    sku = hardware.cpu_sku(hardware.CpuInfo("x", 2, "avx512", 2600.0), mem_bw_GBps=20)
    # 2 cores x 2.6 GHz x 16 FLOP/cycle/FMA x 2 FMA units = 166.4 GFLOP/s
    assert sku.peak("fp64") == pytest.approx(166.4e9)
    assert sku.peak("fp32") == pytest.approx(332.8e9)
    assert sku.mem_bw == 20e9
    assert hardware.isa_from_flags("sse2 avx2 fma") == "avx2"
    assert hardware.isa_from_flags("fp asimd") == "neon"


def test_model_expectation_is_efficiency_times_peak_with_its_source():
    exp = expect.expected("gemm", hardware.get_sku("H100-SXM"), "bf16")
    assert exp.value == pytest.approx(0.78 * 989.5e12)
    assert exp.lower == pytest.approx(0.9 * exp.value)
    assert exp.upper == pytest.approx(989.5e12)
    assert "datasheet" in exp.source and "efficiency.toml" in exp.source
    membw = expect.expected("membw", hardware.get_sku("H200"))
    assert membw.value == pytest.approx(0.9 * 4.8e12) and membw.unit == "B/s"


def test_gemm_expectation_scales_with_sm_clock():
    h100 = hardware.get_sku("H100-SXM")
    full = expect.expected("gemm", h100, "bf16")
    half = expect.expected("gemm", h100, "bf16", sm_clock_mhz=990)
    assert half.value == pytest.approx(full.value / 2)
    assert "SM clock 990/1980" in half.source


def test_cpu_nodes_have_no_datasheet_expectation():
    cpu = hardware.cpu_sku(hardware.CpuInfo("x", 2, "avx512", 2600.0))
    assert expect.expected("gemm", cpu, "fp64") is None
    assert expect.expected("membw", cpu) is None


def test_site_override_beats_calibration_beats_model():
    h100 = hardware.get_sku("H100-SXM")
    site = Site(expected={"gemm": {"H100-SXM": {"bf16": {"value": 7e14, "lower": 6e14, "unit": "FLOP/s"}}}},
                calibration={"gemm": {"H100-SXM": {"bf16": {"value": 5e14, "unit": "FLOP/s"}}}})
    exp = expect.expected("gemm", h100, "bf16", site=site)
    assert (exp.value, exp.lower, exp.upper) == (7e14, 6e14, None)
    assert "site config" in exp.source
    site = Site(calibration={"gemm": {"*": {"*": {"value": 5e14, "unit": "FLOP/s"}}}}, calibration_path="/c.json")
    exp = expect.expected("gemm", h100, "bf16", site=site)
    assert exp.value == 5e14 and exp.lower == pytest.approx(4.5e14) and "calibration /c.json" in exp.source


def test_site_sets_cpu_expectation():
    cpu = hardware.cpu_sku(hardware.CpuInfo("x", 2, "avx512", 2600.0))
    site = Site(expected={"gemm": {"cpu": {"fp64": {"value": 1e11, "lower": 8e10, "upper": 2e11}}}})
    exp = expect.expected("gemm", cpu, "fp64", site=site)
    assert (exp.value, exp.lower, exp.upper, exp.unit) == (1e11, 8e10, 2e11, "FLOP/s")


def test_site_figure_in_the_wrong_unit_is_refused():
    site = Site(expected={"membw": {"cpu": {"*": {"value": 1e10, "unit": "FLOP/s"}}}})
    cpu = hardware.cpu_sku(hardware.CpuInfo("x", 2, "avx512", 2600.0))
    with pytest.raises(UsageError, match="unit 'FLOP/s', expected 'B/s'"):
        expect.expected("membw", cpu, site=site)


def test_allreduce_expectation_uses_one_direction_of_nvlink_and_the_ring_model():
    h100 = hardware.get_sku("H100-SXM")
    big = expect.expected("allreduce", h100)
    assert big.value == pytest.approx(0.8 * 450e9)
    small = expect.expected("allreduce", h100, size_bytes=1 << 20, ranks=8)
    assert small.value < 0.1 * big.value          # 14 steps of 5 us dominate a 1 MiB message
    assert expect.expected("allreduce", h100, multi_node=True) is None     # network unknown
    site = Site(network_Bps=50e9)
    assert expect.expected("allreduce", h100, multi_node=True, site=site).value == pytest.approx(0.85 * 50e9)


def test_calibration_file_round_trip(tmp_path):
    path = tmp_path / "cal.json"
    entry = expect.calibration_entry([10.0, 12.0, 11.0], "FLOP/s")
    assert entry["value"] == 11.0 and entry["lower"] == pytest.approx(9.9)
    expect.save_calibration(path, "gemm", "cpu", "fp64", entry)
    data = expect.load_calibration(path)
    assert data["gemm"]["cpu"]["fp64"]["value"] == 11.0
    path.write_text("[1, 2]")
    with pytest.raises(UsageError, match="expected an object"):
        expect.load_calibration(path)
    path.write_text("{")
    with pytest.raises(UsageError, match="unreadable"):
        expect.load_calibration(path)
    assert json.loads(json.dumps(entry))["unit"] == "FLOP/s"
