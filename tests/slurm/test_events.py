"""Slurm's node event history (sacctmgr show event): parsed from captured output, and read back
from the real cluster for a window."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from slurm_diag.slurm import parse
from slurm_diag.slurm.fake import FakeSlurmClient

DATA = Path(__file__).resolve().parents[1] / "data" / "slurm"


def test_captured_events_parse_with_open_ends_and_pipes_in_reasons():
    events = parse.sacctmgr_events((DATA / "sacctmgr_events.txt").read_text())
    assert len(events) >= 5 and all(e.node.startswith("node") for e in events)
    open_drain = [e for e in events if e.end is None]
    assert open_drain and open_drain[0].reason == "sdiag: xid: gpu1 Xid 79 | fallen off the bus"
    assert open_drain[0].user == "root(0)" and open_drain[0].state == "DRAIN"
    assert any(e.state.startswith("DOWN") and e.reason == "Not responding" for e in events)


def test_short_line_is_a_parse_error_naming_the_line():
    with pytest.raises(parse.ParseError, match="line 1: expected 6 fields"):
        parse.sacctmgr_events("node1|2026-01-01T00:00:00|DRAIN\n")


def test_fake_records_drains_as_events_and_filters_by_window_and_node():
    clock = [1_000_000.0]
    fake = FakeSlurmClient(["n1", "n2"], clock=lambda: clock[0])
    fake.drain_node("n1", "sdiag: clocks: gpu3")
    clock[0] += 60
    fake.resume_node("n1")
    start = datetime.fromtimestamp(1_000_000 - 10)
    events = fake.node_events(start, start + timedelta(seconds=30), ["n1"])
    assert [(e.node, e.reason) for e in events] == [("n1", "sdiag: clocks: gpu3")] and events[0].end
    assert fake.node_events(start, start + timedelta(seconds=30), ["n2"]) == []


@pytest.mark.cluster
def test_a_drain_is_seen_in_the_window_after_the_node_came_back(slurm):
    begin = datetime.now() - timedelta(seconds=2)
    slurm.drain_node("node2", "sdiag-test: event window")
    slurm.resume_node("node2")
    events = slurm.node_events(begin, datetime.now() + timedelta(seconds=2), ["node2"])
    assert any(e.reason == "sdiag-test: event window" and e.end for e in events), events
    assert all(e.node == "node2" for e in events)
