"""Slurm's node event history (sacctmgr show event): parsed from captured output, and read back
from the real cluster for a window."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from slurm_diag.diagnose import node_facts
from slurm_diag.slurm import client, parse
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


@pytest.fixture
def india(monkeypatch):
    """This process, and the Slurm commands it runs, in a zone 5 h 30 min east of UTC (a POSIX TZ
    string: no zone database needed). The machines the tests run on keep UTC, which hides a time
    passed in the wrong zone."""
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_times_for_slurm_commands_are_written_in_the_local_zone_and_read_back_from_it(india):
    noon_utc = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    assert client._local(noon_utc) == "2026-12-01T17:30:00"
    assert client._local(datetime(2026, 12, 1, 17, 30)) == "2026-12-01T17:30:00"   # naive: already local
    assert node_facts.when("2026-12-01T17:30:00") == noon_utc                       # sacct's times, read back


@pytest.mark.cluster
def test_a_window_in_utc_finds_a_drain_on_a_cluster_whose_commands_run_in_another_zone(india, slurm):
    """sacctmgr reads Start= and End= in its own zone: a UTC window written as it stands would ask
    for 5 h 30 min ago and find nothing. (slurmdbd keys a node's events by their start second: a
    drain in the same second as the test before it is not recorded, hence the pause.)"""
    time.sleep(1.1)
    begin = datetime.now(timezone.utc) - timedelta(seconds=2)
    slurm.drain_node("node2", "sdiag-test: zone window")
    slurm.resume_node("node2")
    events = slurm.node_events(begin, datetime.now(timezone.utc) + timedelta(seconds=2), ["node2"])
    assert any(e.reason == "sdiag-test: zone window" for e in events), events
