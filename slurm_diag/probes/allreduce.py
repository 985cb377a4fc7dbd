"""Allreduce probe: a size sweep over N MPI ranks, reported with nccl-tests' algbw and busbw.

Backends: ``mpi`` (mpi4py, NumPy buffers; any node), ``mpi-cupy`` (mpi4py on CuPy buffers, needs a
CUDA-aware MPI) and ``nccl`` (NCCL through CuPy, the communicator bootstrapped over MPI). Each size
is timed as nccl-tests does: a barrier, `iters` back-to-back collectives, the per-iteration time
averaged over ranks. The ProbeResult value is busbw at the largest size; every size is a sample.
Rank 0 returns the result; other ranks return nothing.
"""

from __future__ import annotations

import time

from slurm_diag.errors import EnvironmentProblem, UsageError
from slurm_diag.perf.model import algbw, busbw
from slurm_diag.probes import base
from slurm_diag.probes.conditions import cpu_conditions, gpu_conditions, summarize

DEFAULTS = {"backend": "mpi", "min_bytes": 8, "max_bytes": 64 << 20, "factor": 4, "warmup": 2,
            "iters": 0, "target_s": 0.05, "dtype": "fp32", "round": -1}
_ITEMSIZE = {"fp32": 4, "fp64": 8}


def sizes(min_bytes: int, max_bytes: int, factor: int, itemsize: int) -> list[int]:
    """Message sizes from min to max (inclusive) by `factor`, rounded to whole elements."""
    if min_bytes < itemsize or max_bytes < min_bytes or factor < 2:
        raise UsageError(f"allreduce sweep {min_bytes}..{max_bytes} by {factor} is empty",
                         hint=f"need itemsize ({itemsize}) <= min_bytes <= max_bytes, factor >= 2")
    out, size = [], min_bytes
    while size <= max_bytes:
        out.append(size // itemsize * itemsize)
        size *= factor
    if out[-1] != max_bytes // itemsize * itemsize:
        out.append(max_bytes // itemsize * itemsize)
    return out


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise EnvironmentProblem(f"mpi4py is not importable: {exc}",
                                 hint="pip install 'slurm-diag[probes]' (needs an MPI library, e.g. Open MPI)") from None
    return MPI


class _Backend:
    """Buffers and one allreduce call for a size; sync() waits for the device."""

    def __init__(self, kind: str, comm, dtype: str):
        self.kind, self.comm, self.dtype = kind, comm, dtype
        self.gpu = None
        if kind == "mpi":
            import numpy as np
            self.xp = np
            return
        from slurm_diag.probes.cuda import cupy_or_reason
        cp, count, why = cupy_or_reason()
        if cp is None:
            raise EnvironmentProblem(f"allreduce backend {kind} needs a GPU: {why}",
                                     hint="use backend=mpi on CPU nodes")
        self.xp = cp
        local = comm.Split_type(_mpi().COMM_TYPE_SHARED).Get_rank()
        self.gpu = local % count
        cp.cuda.Device(self.gpu).use()
        if kind == "nccl":
            from cupy.cuda import nccl
            uid = nccl.get_unique_id() if comm.Get_rank() == 0 else None
            uid = comm.bcast(uid, root=0)
            self.nccl = nccl
            self.nccl_comm = nccl.NcclCommunicator(comm.Get_size(), uid, comm.Get_rank())
        elif kind != "mpi-cupy":
            raise UsageError(f"unknown allreduce backend {kind!r}", hint="use mpi, mpi-cupy or nccl")

    def prepare(self, nbytes: int):
        xp = self.xp
        count = nbytes // _ITEMSIZE[self.dtype]
        dt = xp.float32 if self.dtype == "fp32" else xp.float64
        self.send = xp.ones(count, dtype=dt)
        self.recv = xp.zeros(count, dtype=dt)
        self.count = count
        if self.kind == "nccl":
            kind = self.nccl.NCCL_FLOAT32 if self.dtype == "fp32" else self.nccl.NCCL_FLOAT64
            stream = self.xp.cuda.get_current_stream()
            self.call = lambda: self.nccl_comm.allReduce(self.send.data.ptr, self.recv.data.ptr, count,
                                                         kind, self.nccl.NCCL_SUM, stream.ptr)
        else:
            op = _mpi().SUM
            if self.kind == "mpi-cupy":
                self.xp.cuda.get_current_stream().synchronize()
            self.call = lambda: self.comm.Allreduce(self.send, self.recv, op=op)

    def sync(self) -> None:
        if self.kind != "mpi":
            self.xp.cuda.get_current_stream().synchronize()

    def check(self, ranks: int) -> None:
        first = float(self.recv[0])
        last = float(self.recv[self.count - 1])
        if first != ranks or last != ranks:
            raise RuntimeError(f"allreduce result wrong: {first}, {last} where {ranks} was expected")


def _sku(backend: _Backend) -> str:
    if backend.gpu is None:
        return "cpu"
    from slurm_diag.probes import cuda
    return cuda.sku_name(cuda.device_name(backend.xp, backend.gpu))


def run(params: dict, rec: base.Recorder) -> list[dict]:
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    rank, n = comm.Get_rank(), comm.Get_size()
    dtype = params["dtype"]
    if dtype not in _ITEMSIZE:
        raise UsageError(f"allreduce dtype {dtype!r} unsupported", hint="use fp32 or fp64")
    backend = _Backend(params["backend"], comm, dtype)
    nodes = sorted(set(comm.allgather(base.node_name())))
    samples = []
    for nbytes in sizes(params["min_bytes"], params["max_bytes"], params["factor"], _ITEMSIZE[dtype]):
        backend.prepare(nbytes)
        for _ in range(params["warmup"]):
            backend.call()
        backend.sync()
        backend.check(n)
        iters = params["iters"]
        if not iters:       # enough iterations for about target_s, agreed by all ranks
            comm.Barrier()
            t0 = time.perf_counter()
            backend.call()
            backend.sync()
            one = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
            iters = int(min(max(params["target_s"] / max(one, 1e-7), 2), 1000))
        comm.Barrier()
        t0 = time.perf_counter()
        for _ in range(iters):
            backend.call()
        backend.sync()
        per_iter = (time.perf_counter() - t0) / iters
        mean_s = comm.allreduce(per_iter, op=MPI.SUM) / n        # nccl-tests default: -a 1, average
        cond = {"gpu": gpu_conditions(backend.gpu)} if backend.gpu is not None else {"cpu": cpu_conditions()}
        sample = {"bytes": nbytes, "iters": iters, "seconds": mean_s, "algbw": algbw(nbytes, mean_s),
                  "busbw": busbw("allreduce", n, nbytes, mean_s), "value": busbw("allreduce", n, nbytes, mean_s),
                  "conditions": cond}
        samples.append(sample)
        if rank == 0:
            rec.add(sample)
    if rank != 0:
        return []
    used = {k: v for k, v in params.items() if not (k == "round" and v < 0)}
    used.update(ranks=n, nodes_count=len(nodes), sku=_sku(backend),
                mpi=MPI.Get_library_version().splitlines()[0][:80])
    return [base.result("allreduce", "busbw", samples[-1]["busbw"], "B/s", started=rec.started, params=used,
                        samples=samples, conditions=summarize(samples), dtype=dtype, nodes=nodes)]


PROBE = base.ProbeSpec(name="allreduce", metric="busbw", unit="B/s", defaults=DEFAULTS, run=run,
                       help="allreduce size sweep over MPI ranks (NumPy, CuPy or NCCL), algbw and busbw")
