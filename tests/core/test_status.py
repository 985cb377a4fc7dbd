"""One severity order on Status (OK < WARN < UNKNOWN < CRITICAL), used everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from slurm_diag.status import Status

PACKAGE = Path(__file__).resolve().parents[2] / "slurm_diag"


def test_severity_order_and_nagios_codes():
    assert sorted(Status) == [Status.OK, Status.WARN, Status.UNKNOWN, Status.CRITICAL]
    assert Status.CRITICAL > Status.UNKNOWN > Status.WARN > Status.OK
    assert [s.nagios_code for s in (Status.OK, Status.WARN, Status.CRITICAL, Status.UNKNOWN)] == [0, 1, 2, 3]
    assert max([Status.UNKNOWN, Status.CRITICAL]) is Status.CRITICAL


@pytest.mark.parametrize("statuses,worst", [
    ([], Status.OK),
    ([Status.OK, Status.OK], Status.OK),
    ([Status.OK, Status.WARN], Status.WARN),
    ([Status.WARN, Status.UNKNOWN, Status.OK], Status.UNKNOWN),     # never rolled up as OK or WARN
    ([Status.UNKNOWN, Status.CRITICAL], Status.CRITICAL),           # a fault found beats "could not check"
    ((s for s in [Status.CRITICAL, Status.WARN]), Status.CRITICAL),  # any iterable
])
def test_worst(statuses, worst):
    assert Status.worst(statuses) is worst


def test_status_is_not_an_int():
    """Comparing with or sorting by the Nagios code (where UNKNOWN 3 > CRITICAL 2) cannot happen."""
    with pytest.raises(TypeError):
        Status.UNKNOWN < 2
    assert Status.CRITICAL != 2


def test_no_module_keeps_its_own_status_ranking():
    """A dict keyed by Status members is how the other orders were written; there is one, in status.py."""
    ranking = re.compile(r"\{\s*Status\.[A-Z]+\s*:")
    found = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if ranking.search(p.read_text())]
    assert found == ["status.py"]


def test_probe_verdicts_come_worst_first_in_the_same_order():
    from slurm_diag.perf.expect import Expectation
    from slurm_diag.perf.verdict import Measurement, judge

    exp = Expectation(value=100.0, lower=90.0, upper=120.0, unit="B/s", source="test")

    def m(node, value, sku, rnd=0, expected=exp):
        return Measurement(node=node, probe="membw", value=value, sku=sku, round=rnd, expected=expected)

    verdicts = judge([m("a", 100, "ok"),                                    # meets the model: OK
                      m("b", 93, "warn"),                                   # one run below 0.95: WARN
                      m("c", 50, "unknown", expected=None),                 # no model, no peers: UNKNOWN
                      m("d", 50, "critical"), m("d", 50, "critical", 1)])   # two runs below lower
    assert [(v.node, v.status) for v in verdicts] == [
        ("d", Status.CRITICAL), ("c", Status.UNKNOWN), ("b", Status.WARN), ("a", Status.OK)]
