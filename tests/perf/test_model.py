"""Model arithmetic against values worked out by hand."""

import math

import pytest

from slurm_diag.perf import model


def test_busbw_allreduce_factor_is_2_n_minus_1_over_n():
    # 8 ranks, 1 GB in 10 ms: algbw 100 GB/s, busbw 100 * 14/8 = 175 GB/s
    assert model.algbw(1e9, 0.01) == pytest.approx(1e11)
    assert model.busbw("allreduce", 8, 1e9, 0.01) == pytest.approx(1.75e11)


def test_busbw_allgather_and_reducescatter_factor_is_n_minus_1_over_n():
    assert model.busbw("allgather", 4, 4e8, 0.01) == pytest.approx(4e10 * 3 / 4)
    assert model.busbw("reducescatter", 4, 4e8, 0.01) == pytest.approx(3e10)


def test_busbw_unknown_collective_is_an_error():
    with pytest.raises(ValueError, match="unknown collective"):
        model.busbw("scatter", 4, 1, 1)


def test_ring_allreduce_time():
    # n=4, alpha 10 us, beta 10 GB/s, S=100 MB: 2*3*1e-5 + 2*3/4 * 1e8/1e10 = 6e-5 + 0.015
    assert model.ring_allreduce_time(4, 1e8, 1e-5, 1e10) == pytest.approx(0.01506)
    assert model.ring_allreduce_time(1, 1e8, 1e-5, 1e10) == 0.0


def test_predicted_busbw_tends_to_beta_for_large_messages():
    pred = model.predict_allreduce(8, 1e12, 5e-6, 3.6e11)
    assert pred.busbw == pytest.approx(3.6e11, rel=1e-3)
    assert pred.algbw == pytest.approx(3.6e11 * 8 / 14, rel=1e-3)


def test_gemm_flops_and_stream_bytes():
    assert model.gemm_flops(2, 3, 4) == 48
    assert model.stream_bytes("copy", 10) == 160
    assert model.stream_bytes("triad", 10, itemsize=4) == 120
    with pytest.raises(ValueError):
        model.stream_bytes("dot", 10)


def test_clock_scaling_is_linear_and_capped():
    assert model.clock_scaled(100.0, 990, 1980) == pytest.approx(50.0)
    assert model.clock_scaled(100.0, 2100, 1980) == 100.0     # boost over max never raises the bar
    assert model.clock_scaled(100.0, None, 1980) == 100.0
    assert math.isclose(model.clock_scaled(771.81, 200, 1980), 77.96, rel_tol=1e-3)
