"""The blast-radius cap (cap.py) against the in-memory Slurm: many claimants at once, Slurm away,
drains that belong to someone else. The same protocol runs on the real cluster in
test_cluster_health.py."""

import random
import threading

import pytest

from slurm_diag.health import cap
from slurm_diag.slurm.fake import FakeSlurmClient, make_node

REASON = "sdiag: clocks: gpu3 SM clock 200 MHz, expected >= 1762 MHz under load (HW_SLOWDOWN active)"
NODES = [f"node{i}" for i in range(1, 9)]


def no_sleep(_s):
    raise AssertionError("the claim waited although nobody was choosing")


def sdiag_held(slurm):
    return sorted(n for n, r in slurm.drained().items() if r and r.startswith("sdiag:"))


def race(slurm, nodes, seed: int, cap_nodes: int, **kw) -> dict:
    """Every node claims at once, the calls' interleaving shuffled by ``seed``: node -> Claim."""
    rng = random.Random(seed)
    slurm.before_call = lambda method, client: threading.Event().wait(rng.random() / 500)
    start = threading.Barrier(len(nodes))
    claims = {}

    def claimant(node):
        start.wait()
        claims[node] = cap.claim(slurm, node, REASON, cap_nodes, poll_s=0.01, **kw)

    threads = [threading.Thread(target=claimant, args=(n,)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return claims


def test_eight_claimants_at_once_with_cap_two_exactly_two_hold():
    for round_ in range(15):
        slurm = FakeSlurmClient(NODES)
        claims = race(slurm, NODES, round_, 2)
        held = sorted(n for n, c in claims.items() if c.held)
        assert len(held) == 2, (round_, {n: c.note for n, c in claims.items()})
        assert sdiag_held(slurm) == held, round_                          # what Slurm says agrees
        for n in held:
            assert slurm.get_node(n).reason == claims[n].reason
            assert claims[n].reason.startswith(REASON) and cap.claim_number(claims[n].reason)
        for n in set(NODES) - set(held):
            assert "cap reached" in claims[n].note and claims[n].known, claims[n].note


def test_a_claim_that_lands_late_ranks_after_the_one_that_saw_nothing():
    """The race a time key loses (cap 1): B claims completely between A's first look and A's write.
    A's doorway then reads B's number, takes a larger one and withdraws."""
    slurm = FakeSlurmClient(["nodeA", "nodeB"])
    results = {}

    def b_runs_while_a_is_slow(method, client):
        if method == "drain_node" and "nodeB" not in results:
            client.before_call = None
            results["nodeB"] = cap.claim(client, "nodeB", REASON, 1, sleep=no_sleep)

    slurm.before_call = b_runs_while_a_is_slow
    results["nodeA"] = cap.claim(slurm, "nodeA", REASON, 1, sleep=no_sleep)
    assert results["nodeB"].held and not results["nodeA"].held
    assert results["nodeA"].holders == ("nodeB",) and "cap reached" in results["nodeA"].note
    assert slurm.drained() == {"nodeB": results["nodeB"].reason}


@pytest.mark.parametrize("number, held", [(5, False), (6, True)])
def test_waits_for_a_claimant_in_its_doorway_then_ranks(number, held):
    """Cap 2, node3 holds [claim 4]; node1 is choosing when node2 looks, so node2 waits, takes 5,
    then ranks against node1's number: 5 (read before node2 wrote; the name breaks the tie, node1
    first) or 6 (read after)."""
    slurm = FakeSlurmClient(["node1", "node2", "node3"])
    slurm.set_reason("node3", cap.with_claim(REASON, 4), user="root")
    slurm.set_reason("node1", cap.with_claim(REASON, None), user="root")
    sleeps = []

    def node1_finishes(seconds):
        sleeps.append(seconds)
        slurm.set_reason("node1", cap.with_claim(REASON, number), user="root")

    claim = cap.claim(slurm, "node2", REASON, 2, sleep=node1_finishes)
    assert sleeps == [cap.POLL_S]
    assert cap.claim_number(slurm.get_node("node2").reason if held else cap.with_claim(REASON, 5)) == 5
    assert claim.held is held, claim.note
    assert sorted(slurm.drained()) == (["node1", "node2", "node3"] if held else ["node1", "node3"])
    if not held:
        assert claim.holders == ("node1", "node3")


def test_a_doorway_that_never_ends_fails_safe_after_the_deadline():
    now = [0.0]
    slurm = FakeSlurmClient(["node1", "node2"])
    slurm.set_reason("node2", cap.with_claim(REASON, None), user="root")

    def tick(seconds):
        now[0] += seconds

    claim = cap.claim(slurm, "node1", REASON, 2, deadline_s=1.0, clock=lambda: now[0], sleep=tick)
    assert not claim.held and not claim.known
    assert "node2 still choosing after 1 s" in claim.note and "claim withdrawn" in claim.note
    assert not slurm.get_node("node1").drained


def test_a_dead_claimants_doorway_is_counted_not_waited_for():
    slurm = FakeSlurmClient([make_node("node1"), make_node("node2", flags=("DRAIN",),
                             reason=cap.with_claim(REASON, None), reason_time="2020-01-01T00:00:00")])
    assert cap.claim(slurm, "node1", REASON, 2, sleep=no_sleep).holders == ("node2",)
    slurm.resume_node("node1")
    assert not cap.claim(slurm, "node1", REASON, 1, sleep=no_sleep).held


def test_slurm_unreachable_drains_nothing_and_says_so():
    slurm = FakeSlurmClient(NODES)
    slurm.unreachable = True
    claim = cap.claim(slurm, "node1", REASON, 2)
    assert not claim.held and not claim.known
    assert "fail safe" in claim.note and "Unable to contact slurm controller" in claim.note
    assert "nothing was written" in claim.note
    slurm.unreachable = False
    assert slurm.drained() == {}


@pytest.mark.parametrize("failing_call", [2, 3, 4])
def test_slurm_lost_in_the_middle_withdraws_the_claim(failing_call):
    """Calls: 1 list, 2 drain [claiming], 3 list, 4 drain [claim N], 5 list. One failing call
    leaves the count unknown: the claim is withdrawn (the resume is re-checked first)."""
    slurm = FakeSlurmClient(NODES)
    count = [0]

    def fail_once(method, client):
        count[0] += 1
        client.unreachable = count[0] == failing_call

    slurm.before_call = fail_once
    claim = cap.claim(slurm, "node1", REASON, 2, sleep=no_sleep)
    assert not claim.held and not claim.known and "fail safe" in claim.note
    assert slurm.drained() == {}
    assert {2: "nothing to withdraw", 3: "claim withdrawn", 4: "claim withdrawn"}[failing_call] in claim.note


def test_an_admins_drain_is_never_counted_and_never_resumed():
    slurm = FakeSlurmClient(NODES)
    for n in ("node5", "node6", "node7"):
        slurm.set_reason(n, "admin: bios update ticket 4411")
    assert cap.claim(slurm, "node1", REASON, 1, sleep=no_sleep).held       # admin drains not counted
    refused = cap.claim(slurm, "node2", REASON, 1, sleep=no_sleep)
    assert not refused.held and refused.holders == ("node1",)
    assert cap.held_nodes(slurm.list_nodes()) == ["node1"]
    # the admin drains node3 while it claims: the admin's reason stays, the claim gives way
    count = [0]

    def admin_drains_node3(method, client):
        count[0] += 1
        if count[0] == 5:                # after node3's numbered write, before its last look
            client.set_reason("node3", "admin: replace gpu3")

    slurm.resume_node("node1")
    slurm.before_call = admin_drains_node3
    claim = cap.claim(slurm, "node3", REASON, 2, sleep=no_sleep)
    slurm.before_call = None
    assert not claim.held and "left alone" in claim.note
    assert slurm.get_node("node3").reason == "admin: replace gpu3"
    # and an admin-drained node's own prolog never overwrites it
    kept = cap.claim(slurm, "node5", REASON, 2, sleep=no_sleep)
    assert not kept.held and slurm.get_node("node5").reason == "admin: bios update ticket 4411"
    assert {n: slurm.get_node(n).reason for n in ("node5", "node6", "node7")} == {
        n: "admin: bios update ticket 4411" for n in ("node5", "node6", "node7")}


def test_withdrawal_leaves_a_reason_that_changed_alone():
    slurm = FakeSlurmClient(["node1"])
    slurm.drain_node("node1", cap.with_claim(REASON, 3))
    slurm.set_reason("node1", "admin: keep drained")
    assert cap.withdraw(slurm, "node1", cap.with_claim(REASON, 3)).startswith("claim not withdrawn")
    assert slurm.get_node("node1").reason == "admin: keep drained"


def test_slurms_hook_error_drains_count_against_the_cap():
    slurm = FakeSlurmClient(["node1", "node2", "node3"])
    slurm.set_reason("node2", "Prolog error", user="root")
    assert not cap.claim(slurm, "node1", REASON, 1, sleep=no_sleep).held
    slurm.set_reason("node3", "Epilog error", user="root")
    assert cap.held_nodes(slurm.list_nodes()) == ["node2", "node3"]


def test_own_earlier_drain_is_already_held():
    slurm = FakeSlurmClient(["node1", "node2", "node3"])
    mine = cap.with_claim(REASON, 4)
    slurm.drain_node("node1", mine)
    slurm.drain_node("node2", "sdiag: xid: gpu1 XID 79")
    slurm.calls.clear()
    claim = cap.claim(slurm, "node1", REASON, 1, sleep=no_sleep)
    assert claim.held and claim.reason == mine and [m for m, _ in slurm.calls] == ["list_nodes"]


def test_cap_zero_never_asks_slurm():
    slurm = FakeSlurmClient(["node1"])
    claim = cap.claim(slurm, "node1", REASON, 0)
    assert not claim.held and "max_drained_nodes = 0" in claim.note and slurm.calls == []


def test_reason_stays_readable_and_within_slurms_length():
    assert cap.with_claim(REASON, 12) == REASON + " [claim 12]"
    assert cap.human(cap.with_claim(REASON, 12)) == REASON and cap.claim_number(REASON + " [claim 12]") == 12
    assert cap.claim_number(cap.with_claim(REASON, None)) is None and cap.claim_number(REASON) is None
    long = cap.with_claim("sdiag: x: " + "y" * 400, 123456)
    assert len(long) <= 220 and long.endswith(" [claim 123456]") and cap.claim_number(long) == 123456


def _partitioned(names_by_partition):
    """Nodes whose partitions are given: {"gpu": [...], "debug": [...]} (a node may be in several)."""
    import dataclasses

    parts: dict[str, list[str]] = {}
    for part, names in names_by_partition.items():
        for n in names:
            parts.setdefault(n, []).append(part)
    return FakeSlurmClient([dataclasses.replace(make_node(n), partitions=tuple(p)) for n, p in parts.items()])


def test_the_partition_share_holds_for_concurrent_claimants_too():
    """Six claimants in a 6-node partition with 50%: three hold although the node limit is 10; a
    node that is also in a one-node partition may still be held (the allowance is at least one)."""
    gpu = [f"g{i}" for i in range(6)]
    for round_ in range(10):
        slurm = _partitioned({"gpu": gpu, "solo": ["g0"]})
        claims = race(slurm, gpu, round_, 10, partition_pct=50.0)
        held = sorted(n for n, c in claims.items() if c.held)
        assert len(held) == 3 and sdiag_held(slurm) == held, (round_, {n: c.note for n, c in claims.items()})
        for n in set(gpu) - set(held):
            assert claims[n].capped and "of its 6 node(s) held by slurm-diag" in claims[n].note
            assert "limit 50% = 3" in claims[n].note


def test_partition_allowance_is_a_share_but_never_zero():
    assert [cap.partition_allowed(size, 50.0) for size in (1, 2, 3, 4, 9)] == [1, 1, 1, 2, 4]
    assert cap.partition_allowed(4, 25.0) == 1 and cap.partition_allowed(4, 100.0) == 4
    slurm = _partitioned({"gpu": ["a", "b", "c", "d"]})
    first = cap.claim(slurm, "a", REASON, 10, partition_pct=25.0, sleep=no_sleep)
    second = cap.claim(slurm, "b", REASON, 10, partition_pct=25.0, sleep=no_sleep)
    assert first.held and not second.held and second.capped and second.holders == ("a",)
    assert not slurm.get_node("b").drained                              # refused before writing anything


def test_one_limit_for_hooks_and_approvals():
    from slurm_diag import config

    cfg = config.load(None)
    assert cap.limits(cfg) == (cfg.get("health.policy.max_drained_nodes"), 50.0)
    cfg.data["actions"]["breaker"]["max_nodes"] = 5
    assert cap.limits(cfg) == (5, 50.0)


def test_a_slow_controller_bounds_the_claim_and_fails_safe():
    """Each scontrol call under its own timeout is not enough: a controller answering every call
    just in time would hold the prolog for several of them. The claim checks its deadline between
    steps and withdraws what it wrote."""
    now = [0.0]
    slurm = FakeSlurmClient(NODES)
    slurm.before_call = lambda method, client: now.__setitem__(0, now[0] + 1.5)   # 1.5 s a call
    result = cap.claim(slurm, "node2", REASON, 2, deadline_s=2.0, clock=lambda: now[0], sleep=no_sleep)
    assert not result.held and not result.known and "fail safe" in result.note
    assert "claim withdrawn" in result.note and not slurm.get_node("node2").drained
    now[0] = 0.0
    early = cap.claim(slurm, "node3", REASON, 2, deadline_s=1.0, clock=lambda: now[0], sleep=no_sleep)
    assert not early.held and "nothing was written" in early.note and not slurm.get_node("node3").drained
