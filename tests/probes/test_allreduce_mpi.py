"""allreduce over real MPI ranks on this machine (mpirun -n 2 / 3 --oversubscribe)."""

import shutil

import pytest

from slurm_diag import schemas
from slurm_diag.probes import launch

pytestmark = pytest.mark.skipif(shutil.which("mpirun") is None, reason="needs mpirun (Open MPI)")


@pytest.mark.parametrize("ranks", [2, 3])
def test_allreduce_reports_algbw_and_busbw(ranks):
    [doc] = launch.run_mpi("allreduce", ranks, {"min_bytes": 1024, "max_bytes": 1 << 18, "target_s": 0.01},
                           timeout_s=120)
    schemas.validate("probe_result", doc)
    assert doc["valid"] and doc["metric"] == "busbw" and doc["params"]["ranks"] == ranks
    assert [s["bytes"] for s in doc["samples"]] == [1024, 4096, 16384, 65536, 262144]
    factor = 2 * (ranks - 1) / ranks
    for s in doc["samples"]:
        assert s["algbw"] == pytest.approx(s["bytes"] / s["seconds"])
        assert s["busbw"] == pytest.approx(s["algbw"] * factor)
    assert doc["value"] == doc["samples"][-1]["busbw"] > 0
    assert doc["nodes"] and "cpu" in doc["samples"][0]["conditions"]


def test_under_mpi_detection():
    assert launch.under_mpi({"OMPI_COMM_WORLD_SIZE": "2"})
    assert launch.under_mpi({"SLURM_NTASKS": "4", "SLURM_PROCID": "1"})
    assert not launch.under_mpi({"SLURM_NTASKS": "1", "SLURM_PROCID": "0"})
    assert not launch.under_mpi({})
