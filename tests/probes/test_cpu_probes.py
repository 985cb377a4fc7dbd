"""The probes run for real on this CPU (small sizes) and their results validate against the schema."""

import pytest

from slurm_diag import schemas
from slurm_diag.errors import UsageError
from slurm_diag.probes import names
from slurm_diag.probes.execute import run_probe


def test_registered_probes():
    assert names() == ["allreduce", "gemm", "membw"]


def test_gemm_on_cpu_counts_2n3_over_the_median():
    [doc] = run_probe("gemm", {"device": "cpu", "n": 128, "repeats": 3, "min_sample_s": 0.01})
    schemas.validate("probe_result", doc)
    assert doc["valid"] and doc["gpu"] is None and doc["dtype"] == "fp64" and doc["unit"] == "FLOP/s"
    secs = sorted(s["seconds"] for s in doc["samples"])
    assert len(secs) == 3
    assert doc["value"] == pytest.approx(2 * 128 ** 3 / secs[1])
    for s in doc["samples"]:
        cpu = s["conditions"]["cpu"]
        assert cpu["cpus"] >= 1 and "loadavg_1m" in cpu and "quota_cpus" in cpu and cpu["mhz"]
    assert doc["params"]["sku"] == "cpu" and doc["params"]["inner"] >= 1


def test_gemm_fp32_and_unsupported_dtypes():
    [doc] = run_probe("gemm", {"device": "cpu", "n": 64, "dtype": "fp32", "repeats": 1, "min_sample_s": 0.0})
    assert doc["dtype"] == "fp32"
    with pytest.raises(UsageError, match="not 'bf16'"):
        run_probe("gemm", {"device": "cpu", "dtype": "bf16"})
    with pytest.raises(UsageError, match="no parameter 'size'"):
        run_probe("gemm", {"size": 3})


def test_membw_runs_the_four_stream_kernels_with_stream_byte_counts():
    n = 1 << 18
    [doc] = run_probe("membw", {"device": "cpu", "n": n, "repeats": 3, "threads": 2, "block": 4096})
    [plain] = run_probe("membw", {"device": "cpu", "n": n, "repeats": 1, "threads": 2})
    assert plain["params"]["block"] == 0 and plain["value"] > 0
    schemas.validate("probe_result", doc)
    assert doc["metric"] == "triad_bandwidth" and doc["unit"] == "B/s"
    kernels = doc["params"]["kernels_Bps"]
    assert set(kernels) == {"copy", "scale", "add", "triad"}
    triad = sorted(s["seconds"] for s in doc["samples"] if s["kernel"] == "triad")
    assert doc["value"] == pytest.approx(3 * 8 * n / triad[1])
    copy = [s for s in doc["samples"] if s["kernel"] == "copy"]
    assert all(s["bytes"] == 2 * 8 * n for s in copy)


def test_membw_results_are_checked_like_stream(monkeypatch):
    from slurm_diag.probes import membw

    def broken_triad(self, part):       # a kernel that writes the wrong thing must not pass
        lo, hi = self.parts[part]
        self.a[lo:hi] = 0.0

    monkeypatch.setattr(membw.CpuStream, "_triad", broken_triad)
    with pytest.raises(RuntimeError, match="STREAM validation failed"):
        run_probe("membw", {"device": "cpu", "n": 4096, "repeats": 1, "threads": 1})


def test_membw_default_size_follows_the_llc_rule():
    from slurm_diag.probes.membw import cpu_array_elements, last_level_cache_bytes

    llc = last_level_cache_bytes()
    n = cpu_array_elements(fraction=0.4)
    assert n >= 1 << 16
    if llc:
        from slurm_diag.probes.membw import mem_available_bytes
        free = mem_available_bytes()
        assert n == min(max(4 * llc // 8, 1 << 24), int(free * 0.4) // 24) or n == 1 << 16


def test_allreduce_sizes():
    from slurm_diag.probes.allreduce import sizes

    assert sizes(8, 128, 4, 4) == [8, 32, 128]
    assert sizes(8, 100, 4, 4) == [8, 32, 100]
    with pytest.raises(UsageError):
        sizes(2, 100, 4, 4)
