"""Verdict logic: model AND fleet, fallbacks, MAD = 0, 2 of 3 repeats, GPUs inside a node, and the
one-line explanation."""

import random

import pytest

from slurm_diag.perf.expect import Expectation
from slurm_diag.perf.verdict import Measurement, Thresholds, judge, measurements_from_results, modified_z
from slurm_diag.status import Status

EXP = Expectation(value=100.0, lower=90.0, upper=120.0, unit="FLOP/s", source="test")


def fleet(values_by_node, rounds=3, expected=EXP, probe="gemm", conditions=None):
    """values_by_node: node -> value or list of per-round values."""
    out = []
    for node, vals in values_by_node.items():
        vals = vals if isinstance(vals, list) else [vals] * rounds
        for r, v in enumerate(vals):
            out.append(Measurement(node=node, probe=probe, value=v, dtype="fp64", sku="cpu", round=r,
                                   expected=expected, conditions=(conditions or {}).get(node, {})))
    return out


def by_node(verdicts):
    return {v.subject: v for v in verdicts}


def test_healthy_noise_never_flags():
    for seed in range(40):
        rng = random.Random(seed)
        values = {f"node{i}": [100 * (1 + rng.gauss(0, 0.01)) for _ in range(3)] for i in range(16)}
        verdicts = judge(fleet(values))
        assert all(v.status == Status.OK for v in verdicts), [v.message for v in verdicts if v.status]


def test_half_speed_node_is_flagged_with_both_ratios():
    rng = random.Random(1)
    values = {f"node{i}": [100 * (1 + rng.gauss(0, 0.01)) for _ in range(3)] for i in range(8)}
    values["node3"] = [50.0, 51.0, 49.0]
    v = by_node(judge(fleet(values)))
    assert v["node3"].status == Status.CRITICAL
    assert v["node3"].basis == "model+fleet"
    assert v["node3"].message.startswith("node3 gemm fp64 0.50× expected, 0.50× fleet median")
    assert all(x.status == Status.OK for k, x in v.items() if k != "node3")


def test_cpu_quota_is_named_as_the_cause():
    values = {f"node{i}": 100.0 + i * 0.3 for i in range(6)}
    values["node3"] = 31.0
    cond = {"node3": {"cpu": {"cpus": 2, "quota_cpus": 0.6, "loadavg_1m": 0.5}}}
    v = by_node(judge(fleet(values, conditions=cond)))["node3"]
    assert v.status == Status.CRITICAL and v.cause == "cpu-quota"
    assert "0.31× expected" in v.message and "CPU quota limited (0.6 of 2 CPUs)" in v.message


def test_warn_between_090_and_095_when_also_a_fleet_outlier():
    values = {f"node{i}": 100.0 + (i % 3) * 0.2 for i in range(8)}
    values["node5"] = 92.0
    assert by_node(judge(fleet(values)))["node5"].status == Status.WARN


def test_below_model_but_not_an_outlier_is_not_flagged():
    values = {f"node{i}": 50.0 + i * 0.1 for i in range(8)}          # the whole fleet is slow
    verdicts = judge(fleet(values))
    assert all(v.status == Status.OK for v in verdicts)
    assert "not a fleet outlier" in verdicts[0].message


def test_fleet_outlier_that_meets_the_model_is_ok():
    """The model gate: a node far below a fast fleet, yet at or above what the hardware should do,
    is not flagged (the fleet alone would call it CRITICAL)."""
    values = {f"node{i}": 130.0 + (i % 3) * 0.5 for i in range(8)}   # a fleet faster than the model
    values["node4"] = 104.0                                           # 0.80x the fleet, 1.04x the model
    v = by_node(judge(fleet(values)))["node4"]
    assert v.basis == "model+fleet"
    assert v.ratio_fleet < 0.85 and v.ratio_expected >= 1.0          # an outlier by the fleet's measure
    assert v.status == Status.OK, v.message
    assert v.rounds_flagged == 0 and v.cause is None
    # the same node below the model's lower line is flagged: the gate is the model, not a blanket OK
    values["node4"] = 85.0
    assert by_node(judge(fleet(values)))["node4"].status == Status.CRITICAL


def test_fewer_peers_than_needed_falls_back_to_the_model():
    v = by_node(judge(fleet({"node1": 100.0, "node2": 50.0, "node3": 93.0})))
    assert v["node2"].status == Status.CRITICAL and v["node2"].basis == "model"
    assert v["node3"].status == Status.WARN
    assert v["node1"].status == Status.OK
    assert v["node2"].ratio_fleet is None and "fleet" not in v["node2"].message


def test_no_model_figure_falls_back_to_the_fleet():
    values = {f"node{i}": 40.0 + i * 0.1 for i in range(6)}
    values["node2"] = 12.0
    v = by_node(judge(fleet(values, expected=None)))
    assert v["node2"].status == Status.CRITICAL and v["node2"].basis == "fleet"
    assert v["node2"].message.startswith("node2 gemm fp64 0.30× fleet median")
    assert v["node1"].status == Status.OK


def test_neither_model_nor_peers_is_unknown():
    v = judge(fleet({"node1": 10.0}, expected=None))[0]
    assert v.status == Status.UNKNOWN and "no expectation" in v.message


def test_mad_zero_is_guarded():
    assert modified_z(100.0, [100.0] * 5) == 0.0
    assert modified_z(80.0, [100.0] * 5 + [80.0]) == float("-inf")
    same = judge(fleet({f"node{i}": 100.0 for i in range(5)}))
    assert all(v.status == Status.OK for v in same)
    values = {f"node{i}": 100.0 for i in range(5)}
    values["node9"] = 80.0
    assert by_node(judge(fleet(values)))["node9"].status == Status.CRITICAL
    values["node9"] = 97.0      # identical peers but a 3 % deficit: under the 5 % floor, not flagged
    assert by_node(judge(fleet(values)))["node9"].status == Status.OK


def test_two_of_three_repeats_must_agree():
    base = {f"node{i}": [100.0 + i * 0.2] * 3 for i in range(6)}
    once = dict(base, node2=[100.0, 50.0, 100.0])
    assert by_node(judge(fleet(once)))["node2"].status == Status.OK
    twice = dict(base, node2=[50.0, 100.0, 50.0])
    v = by_node(judge(fleet(twice)))["node2"]
    assert v.status == Status.CRITICAL and v.rounds_flagged == 2 and v.rounds == 3
    mixed = dict(base, node2=[50.0, 92.0, 100.0])       # one FAIL, one WARN: agree on WARN
    assert by_node(judge(fleet(mixed)))["node2"].status == Status.WARN


def test_a_single_run_can_only_warn_until_confirmed():
    v = by_node(judge(fleet({"node1": 100.0, "node2": 40.0}, rounds=1)))["node2"]
    assert v.status == Status.WARN and "run 1 more to confirm" in v.message


def test_gpu_below_090_of_its_node_median_is_flagged():
    ms = []
    for r in range(3):
        for g in range(8):
            value = 700.0 if g != 5 else 600.0      # 0.857 of the node median, no model figure
            ms.append(Measurement(node="gpu-node1", probe="gemm", value=value, dtype="bf16", gpu=g,
                                  sku="H100-SXM", round=r, expected=None))
    v = by_node(judge(ms))
    assert v["gpu-node1 gpu5"].status == Status.CRITICAL
    assert "0.86× node median" in v["gpu-node1 gpu5"].message
    assert v["gpu-node1 gpu0"].status == Status.OK


def test_clock_limited_gpu_is_explained_not_just_flagged():
    exp = Expectation(771.8e12, 694.6e12, 989.5e12, "FLOP/s", "model")
    ms = []
    for r in range(3):
        for g in range(8):
            if g == 3:
                value, cond = exp.value * 200 / 1980, {"gpu": {"sm_clock_mhz": 200, "max_sm_clock_mhz": 1980,
                                                               "throttle_reasons": ["HW_SLOWDOWN"]}}
            else:
                value, cond = exp.value * (1 + 0.002 * g), {"gpu": {"sm_clock_mhz": 1980, "max_sm_clock_mhz": 1980}}
            ms.append(Measurement(node="n1", probe="gemm", value=value, dtype="bf16", gpu=g, sku="H100-SXM",
                                  round=r, expected=exp, conditions=cond))
    v = by_node(judge(ms))["n1 gpu3"]
    assert v.status == Status.CRITICAL and v.cause == "clock-limited"
    assert "0.10× expected" in v.message
    assert "at SM clock 200 MHz of 1980 (HW_SLOWDOWN): clock-limited" in v.message


def test_slow_gpu_at_full_clock_is_not_called_clock_limited():
    exp = Expectation(100.0, 90.0, None, "FLOP/s", "model")
    ms = [Measurement(node="n1", probe="gemm", value=50.0, gpu=0, round=r, expected=exp,
                      conditions={"gpu": {"sm_clock_mhz": 1980, "max_sm_clock_mhz": 1980}}) for r in range(3)]
    v = judge(ms)[0]
    assert v.status == Status.CRITICAL and v.cause is None and "clock" not in v.message


def test_thresholds_come_from_config_and_change_the_outcome():
    values = {f"node{i}": 100.0 + i * 0.2 for i in range(6)}
    values["node1"] = 88.0
    assert by_node(judge(fleet(values)))["node1"].status == Status.CRITICAL
    lenient = Thresholds(min_peers=100, warn_ratio=0.80)
    loose = Expectation(100.0, 80.0, None, "FLOP/s", "site")
    assert by_node(judge(fleet(values, expected=loose), lenient))["node1"].status == Status.OK


def test_measurements_from_results_drop_invalid_and_number_rounds():
    docs = [
        {"probe": "gemm", "node": "a", "value": 1.0, "valid": True, "time": "2026-01-01T00:00:02", "params": {}},
        {"probe": "gemm", "node": "a", "value": 2.0, "valid": True, "time": "2026-01-01T00:00:01", "params": {}},
        {"probe": "gemm", "node": "a", "value": 3.0, "valid": False, "time": "2026-01-01T00:00:03"},
        {"probe": "gemm", "node": "b", "value": 4.0, "valid": True, "params": {"round": 7, "sku": "cpu"}},
    ]
    ms = measurements_from_results(docs, lambda d: None)
    assert [(m.node, m.value, m.round) for m in ms] == [("b", 4.0, 7), ("a", 2.0, 0), ("a", 1.0, 1)]
    assert ms[0].sku == "cpu"


@pytest.mark.parametrize("x", [0.0, 1.0])
def test_verdict_serialises_for_the_probe_result(x):
    v = judge(fleet({"node1": 100.0 + x}))[0]
    assert v.as_dict() == {"status": "OK", "message": v.message}


def test_one_slow_node_among_four_noisy_ones_is_flagged():
    """A small fleet of shared CPU nodes: the healthy ones spread 30-55 GFLOP/s, the slowed one runs
    at a tenth. With itself inside the baseline its MAD hides it (z about -2); compared with the
    others, and below a third of their median, it is an outlier in every round."""
    values = {"node1": [50.0, 55.0], "node2": [5.0, 4.0], "node3": [30.0, 22.0], "node4": [45.0, 40.0]}
    v = by_node(judge(fleet(values, rounds=2, expected=None)))
    assert v["node2"].status == Status.CRITICAL and v["node2"].rounds_flagged == 2, v["node2"].message
    assert v["node2"].ratio_fleet < 0.2
    assert [k for k, x in v.items() if x.status != Status.OK] == ["node2"], {k: x.message for k, x in v.items()}


def test_a_noisy_but_healthy_small_fleet_flags_nothing():
    values = {"node1": [50.0, 55.0], "node2": [24.0, 30.0], "node3": [30.0, 22.0], "node4": [45.0, 40.0]}
    verdicts = judge(fleet(values, rounds=2, expected=None))
    assert all(x.status == Status.OK for x in verdicts), [x.message for x in verdicts]
