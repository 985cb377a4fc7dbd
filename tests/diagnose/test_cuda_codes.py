"""CUDA's error codes, read through every wrapper that prints them (cuda_codes.py's table)."""

from __future__ import annotations

import pytest

from slurm_diag.diagnose import cuda_codes, engine, logfile

TABLES = (("user_code", "user", cuda_codes.USER), ("software_env", "user", cuda_codes.BUILD),
          ("software_env", "infra", cuda_codes.NODE))
ROWS = [(label, scope, row) for label, scope, table in TABLES for row in table]


def answer(line: str) -> tuple[str, str]:
    a = engine.diagnose_log(logfile.from_text(line)).attribution
    return a["label"], a["scope"]


def test_no_code_is_in_two_tables():
    names = [n for _, _, row in ROWS for n in row[:2] if n]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("label,scope,row", ROWS, ids=[row[0] or row[1] for _, _, row in ROWS])
def test_each_code_by_name_and_by_description(label, scope, row):
    runtime, driver, text = row
    if runtime:
        assert answer(f"cupy_backends.cuda.api.runtime.CUDARuntimeError: {runtime}: {text or 'error'}") == (label, scope)
    if driver:
        assert answer(f"numba.cuda.cudadrv.driver.CudaAPIError: [1] Call to cuLaunchKernel results in {driver}") == \
            (label, scope)
    if text:
        assert answer(f"RuntimeError: CUDA error: {text}") == (label, scope)
        assert answer(f"GPUassert: {text} kernel.cu 42") == (label, scope)


def test_a_description_outside_a_cuda_wrapper_is_not_read_as_one():
    # "invalid argument" is what many programs say; only CUDA's wrappers make it CUDA's
    assert answer("ls: invalid argument 'x'")[0] == "unknown"
