"""Are the CPU probes as fast as plain NumPy on the same machine, in the same run?

  python benchmarks/probe_bench.py [--gemm-n 2048] [--membw-n 0 (STREAM rule)] [--repeats 5]

Targets: the GEMM probe within 5 % of the best NumPy matmul rate; the membw probe's triad within
10 % of NumPy's best in-place triad (np.multiply(c, q, out=a); np.add(a, b, out=a)), both counted
as STREAM counts (3 words per element). Baselines run before and after the probe; the best of
both is the bar. Prints figures only; it checks nothing (speed is not a unit test).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from slurm_diag.probes.membw import cpu_array_elements
from slurm_diag.probes.execute import run_probe


def best_matmul_rate(n: int, repeats: int) -> float:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    c = np.empty((n, n))
    np.matmul(a, b, out=c)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best


def best_inplace_triad(n: int, repeats: int) -> float:
    a, b, c = np.full(n, 1.0), np.full(n, 2.0), np.zeros(n)
    q = 3.0
    best = float("inf")
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        np.multiply(c, q, out=a)
        np.add(a, b, out=a)
        if i:
            best = min(best, time.perf_counter() - t0)
    return 3 * 8 * n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gemm-n", type=int, default=2048)
    parser.add_argument("--membw-n", type=int, default=0, help="elements per array; 0: 4x LLC rule")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"cpus usable: {len(os.sched_getaffinity(0))}, load: {open('/proc/loadavg').read().split()[:3]}")

    n = args.gemm_n
    base1 = best_matmul_rate(n, args.repeats)
    [doc] = run_probe("gemm", {"device": "cpu", "n": n, "repeats": args.repeats, "min_sample_s": 0.0})
    base2 = best_matmul_rate(n, args.repeats)
    best = max(base1, base2)
    print(f"gemm fp64 n={n}: probe {doc['value'] / 1e9:.2f} GFLOP/s (median of {args.repeats}), "
          f"best plain np.matmul {best / 1e9:.2f} GFLOP/s (runs {base1 / 1e9:.2f}, {base2 / 1e9:.2f}): "
          f"ratio {doc['value'] / best:.3f} (target >= 0.95)")
    top = max(s["value"] for s in doc["samples"])
    print(f"  probe's best sample {top / 1e9:.2f} GFLOP/s: ratio best/best {top / best:.3f} "
          f"(harness overhead alone, without the machine's run-to-run noise)")

    m = args.membw_n or cpu_array_elements()
    print(f"membw: {m} elements per array ({8 * m / 2 ** 20:.0f} MiB each, 3 arrays)")
    base1 = best_inplace_triad(m, args.repeats)
    for threads in (1, len(os.sched_getaffinity(0))):
        [doc] = run_probe("membw", {"device": "cpu", "n": m, "repeats": args.repeats, "threads": threads})
        k = doc["params"]["kernels_Bps"]
        print(f"  probe threads={threads}: " + ", ".join(f"{name} {v / 1e9:.2f}" for name, v in k.items())
              + " GB/s")
        if threads == 1:
            single = doc["value"]
            single_best = max(s["value"] for s in doc["samples"] if s["kernel"] == "triad")
    base2 = best_inplace_triad(m, args.repeats)
    best = max(base1, base2)
    print(f"membw triad (1 thread): probe {single / 1e9:.2f} GB/s, best NumPy in-place triad "
          f"{best / 1e9:.2f} GB/s (runs {base1 / 1e9:.2f}, {base2 / 1e9:.2f}): ratio {single / best:.3f} "
          f"(target >= 0.90); probe's best sample {single_best / 1e9:.2f} GB/s, "
          f"ratio best/best {single_best / best:.3f}")


if __name__ == "__main__":
    main()
