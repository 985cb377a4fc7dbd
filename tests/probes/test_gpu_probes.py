"""The CuPy paths, run for real on an NVIDIA GPU (H100/H200); skipped here with the reason."""

import pytest

from slurm_diag import schemas
from slurm_diag.probes.execute import run_probe

from .conftest import cupy_gpu_reason

REASON = cupy_gpu_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


@pytest.mark.parametrize("dtype", ["fp64", "fp32", "tf32", "fp16", "bf16"])
def test_gemm_operands_compute_the_right_product(dtype):
    import cupy as cp

    from slurm_diag.probes.gemm import _operands

    n = 64
    (a, b, c, _alpha, _beta), enqueue = _operands(cp, n, dtype)
    enqueue()
    cp.cuda.get_current_stream().synchronize()

    def as_f32(x):
        if dtype == "bf16":
            return (x.astype(cp.uint32) << 16).view(cp.float32)
        return x.astype(cp.float32)

    # cuBLAS is column-major: on row-major buffers it computes C = B @ A
    want = as_f32(b) @ as_f32(a)
    tol = {"fp64": 1e-6, "fp32": 1e-4, "tf32": 3e-2, "fp16": 3e-2, "bf16": 6e-2}[dtype]
    assert float(cp.abs(as_f32(c) - want).max()) <= tol * float(cp.abs(want).max())


def test_gemm_runs_on_every_gpu_with_conditions():
    import cupy as cp

    docs = run_probe("gemm", {"device": "gpu", "dtype": "bf16", "n": 2048, "repeats": 3, "min_sample_s": 0.02})
    assert [d["gpu"] for d in docs] == list(range(cp.cuda.runtime.getDeviceCount()))
    for d in docs:
        schemas.validate("probe_result", d)
        assert d["valid"] and d["value"] > 1e12 and d["params"]["backend"] == "cupy-cublasGemmEx"
        assert all("gpu" in s["conditions"] for s in d["samples"])


def test_gemm_fp8_is_refused_with_a_reason():
    from slurm_diag.errors import UsageError

    with pytest.raises(UsageError, match="fp8 needs cuBLASLt|not 'fp8'"):
        run_probe("gemm", {"device": "gpu", "dtype": "fp8"})


def test_membw_on_gpu():
    docs = run_probe("membw", {"device": "gpu", "n": 1 << 24, "repeats": 3})
    for d in docs:
        schemas.validate("probe_result", d)
        assert set(d["params"]["kernels_Bps"]) == {"copy", "scale", "add", "triad"}
        assert d["value"] > 1e11          # any datacenter GPU streams more than 100 GB/s


def test_allreduce_over_nccl():
    import cupy as cp

    from slurm_diag.probes import launch

    count = cp.cuda.runtime.getDeviceCount()
    if count < 2:
        pytest.skip(f"NCCL allreduce needs 2 GPUs, this node has {count}")
    [doc] = launch.run_mpi("allreduce", count, {"backend": "nccl", "max_bytes": 1 << 26}, timeout_s=300)
    schemas.validate("probe_result", doc)
    assert doc["value"] > 1e9
