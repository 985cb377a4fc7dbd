import pytest


@pytest.fixture(autouse=True)
def _isolated_state(request, tmp_path, monkeypatch):
    """No site config from the machine; state (calibration) under a temp home; CPU probes only.
    Cluster tests keep SDIAG_CONFIG: it says which local cluster to use; their CLI calls get a
    temp home and store explicitly."""
    monkeypatch.setenv("SDIAG_HOME", str(tmp_path / "home"))
    if request.node.get_closest_marker("cluster") is None:
        monkeypatch.delenv("SDIAG_CONFIG", raising=False)
    monkeypatch.delenv("SDIAG_GPU_PROFILE", raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")    # two shared cores: keep test probes polite


def cupy_gpu_reason():
    """Why the CuPy paths cannot run here, or None when a GPU is usable."""
    from slurm_diag.probes.cuda import cupy_or_reason

    cp, _count, why = cupy_or_reason()
    return None if cp is not None else f"needs an NVIDIA GPU with CuPy: {why}"
