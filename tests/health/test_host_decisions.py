"""Kernel log / XID, InfiniBand sysfs, disk, host memory and slurm.conf GRES: parsers and decisions."""

from slurm_diag.health import host, ib_sysfs, kernel_log, slurm_conf
from slurm_diag.health.checks import disk_space, host_memory, infiniband, xid
from slurm_diag.config import load
from slurm_diag.status import Status

CLASSES = load().get("health.xid")


def test_kernel_log_formats_and_xid_parsing():
    lines = [
        "4,1203,90211228340,-;NVRM: Xid (PCI:0000:3a:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.",
        "<4>[ 5.5] NVRM: Xid (PCI:0000:ab:00): 48, pid=1, name=python, DBE",
        "[183422.551201] NVRM: Xid (0000:18:00): 31, pid=9, name=train, Ch 00000010, MMU Fault",
        "NVRM: GPU 0000:db:00.0: RmInitAdapter failed!",
    ]
    records = kernel_log.parse(lines)
    assert records[0].ts == 90211.22834 and records[1].ts == 5.5 and records[3].ts is None
    events = kernel_log.xids(records)
    assert [(e.xid, e.pci) for e in events] == [(79, "0000:3a:00"), (48, "0000:ab:00"), (31, "0000:18:00")]
    assert kernel_log.bus_key("00000000:3A:00.0") == kernel_log.bus_key("0000:3a:00") == "3a:00"


def test_select_new_by_cursor_and_window():
    recs = kernel_log.parse(["[10.0] a", "[20.0] b", "[30.0] c"])
    assert [r.text for r in xid.select_new(recs, {"ts": 20.0, "count": 2}, None)] == ["c"]
    assert [r.text for r in xid.select_new(recs, None, 15.0)] == ["b", "c"]
    plain = kernel_log.parse(["x", "y", "z"])
    assert [r.text for r in xid.select_new(plain, {"ts": None, "count": 2}, None)] == ["z"]


def test_xid_dedupe_and_classification():
    recs = kernel_log.parse([f"[{t}.0] NVRM: Xid (PCI:0000:3a:00): 79, GPU has fallen off the bus." for t in (1, 2, 3)]
                            + ["[4.0] NVRM: Xid (PCI:0000:18:00): 13, Graphics Exception",
                               "[5.0] NVRM: Xid (PCI:0000:18:00): 999, something new"])
    new = xid.dedupe(kernel_log.xids(recs))
    assert [(e["xid"], e["count"]) for e in new] == [(79, 3), (13, 1), (999, 1)]
    sticky = [e for e in new if xid.classify(e["xid"], CLASSES) == "critical"]
    results = xid.evaluate(new, sticky, CLASSES, {"3a:00": 2, "18:00": 0})
    by_status = {(r.status, r.gpu) for r in results}
    assert (Status.CRITICAL, 2) in by_status and (Status.WARN, 0) in by_status
    crit = next(r for r in results if r.status == Status.CRITICAL)
    assert "XID 79" in crit.message and "x3" in crit.message and "reboot" in crit.next_step
    job = xid.evaluate([e for e in new if e["xid"] == 13], [], CLASSES, {"18:00": 0})
    assert [r.status for r in job] == [Status.OK] and "caused by the job" in job[0].message


def test_xid_check_remembers_critical_until_reboot_and_reports_job_xids_once(make_ctx, tmp_path):
    prof = tmp_path / "p.json"
    import json
    from slurm_diag.gpu.profile import SHIPPED
    doc = json.loads((SHIPPED / "h100-8-healthy.json").read_text())
    doc["kernel_log"] = ["[1.0] NVRM: Xid (PCI:0000:18:00): 31, pid=9, name=train, MMU Fault",
                         "[2.0] NVRM: Xid (PCI:0000:2a:00): 79, GPU has fallen off the bus."]
    prof.write_text(json.dumps(doc))
    first = xid.run(make_ctx(prof))
    assert {(r.status, r.gpu) for r in first} == {(Status.CRITICAL, 1), (Status.OK, None)}
    second = xid.run(make_ctx(prof))            # nothing new, but the critical XID is remembered
    assert [(r.status, r.gpu) for r in second] == [(Status.CRITICAL, 1)]
    doc["kernel_log"] = doc["kernel_log"][:1]   # a new profile = a new boot: memory cleared
    prof.write_text(json.dumps(doc))
    third = xid.run(make_ctx(prof))
    assert [r.status for r in third] == [Status.OK]


def _sysfs(root, ports):
    for (hca, port), files in ports.items():
        d = root / "sys" / "class" / "infiniband" / hca / "ports" / port
        d.mkdir(parents=True)
        for name, text in files.items():
            (d / name).write_text(text + "\n")


UP = {"state": "4: ACTIVE", "phys_state": "5: LinkUp", "rate": "400 Gb/sec (4X NDR)", "link_layer": "InfiniBand"}


def test_infiniband_from_a_sysfs_tree(tmp_path):
    _sysfs(tmp_path, {("mlx5_0", "1"): UP, ("mlx5_1", "1"): dict(UP, rate="200 Gb/sec (4X HDR)"),
                      ("mlx5_2", "1"): dict(UP, state="1: DOWN", phys_state="3: Disabled")})
    ports = ib_sysfs.read_sysfs(str(tmp_path))
    assert [(p.label, p.state, p.rate_gbps) for p in ports] == [
        ("mlx5_0/1", "ACTIVE", 400.0), ("mlx5_1/1", "ACTIVE", 200.0), ("mlx5_2/1", "DOWN", 400.0)]
    results = infiniband.evaluate(ports, 0, 0, "sysfs")
    msgs = sorted(r.message for r in results)
    assert all(r.status == Status.CRITICAL for r in results) and len(results) == 2
    assert "mlx5_1/1 at 200.0 Gb/s, expected 400 Gb/s" in msgs[0]
    assert msgs[1].startswith("mlx5_2/1 is DOWN/Disabled, expected ACTIVE/LinkUp")


def test_infiniband_expected_ports_and_none(tmp_path):
    assert infiniband.evaluate([], 0, 0, "sysfs")[0].status == Status.OK
    assert infiniband.evaluate([], 4, 0, "sysfs")[0].status == Status.CRITICAL
    _sysfs(tmp_path, {("mlx5_0", "1"): UP})
    ok = infiniband.evaluate(ib_sysfs.read_sysfs(str(tmp_path)), 1, 400, "sysfs")
    assert [r.status for r in ok] == [Status.OK]


def test_infiniband_check_uses_the_root_override(make_ctx, cfg, tmp_path, healthy_profile_without_ib):
    _sysfs(tmp_path, {("mlx5_0", "1"): dict(UP, state="2: INIT")})
    cfg.data["health"]["thresholds"]["ib_root"] = str(tmp_path)
    results = infiniband.run(make_ctx(healthy_profile_without_ib))
    assert [r.status for r in results] == [Status.CRITICAL] and "INIT" in results[0].message


def test_disk_space(tmp_path):
    assert disk_space.evaluate([host.disk_free(str(tmp_path))], 0.0, 0.0)[0].status == Status.OK
    full = host.DiskFree("/scratch", 0.5, 100.0)
    r = disk_space.evaluate([full], 1.0, 2.0)[0]
    assert r.status == Status.CRITICAL and "/scratch has 0.5 GB free (0.5%)" in r.message
    assert disk_space.evaluate([host.disk_free(str(tmp_path / "nope"))], 1, 1)[0].status == Status.UNKNOWN


def test_host_memory():
    info = host.parse_meminfo("MemTotal:       16000000 kB\nMemFree: 100 kB\nMemAvailable:    200000 kB\n")
    assert info["MemAvailable"] == 200000
    r = host_memory.evaluate(info, 512, 5.0)
    assert r.status == Status.CRITICAL and "195 MB" in r.message
    assert host_memory.evaluate({"MemTotal": 16000000, "MemAvailable": 8000000}, 512, 5).status == Status.OK
    assert host_memory.evaluate({"MemTotal": 1}, 512, 5).status == Status.UNKNOWN


def test_slurm_conf_gres():
    text = """# comment
NodeName=DEFAULT Gres=gpu:h100:8 CPUs=96
NodeName=node[1-4,07] NodeAddr=127.0.0.1
NodeName=cpu01 Gres=nic:2
NodeName=mix Gres=gpu:a100:4(S:0),gpu:h100:2,nic:1
"""
    assert slurm_conf.expand_hostlist("node[1-3,07],x") == ["node1", "node2", "node3", "node07", "x"]
    assert slurm_conf.node_gpus(text, "node3") == 8 and slurm_conf.node_gpus(text, "node07") == 8
    assert slurm_conf.node_gpus(text, "cpu01") == 0
    assert slurm_conf.node_gpus(text, "mix") == 6
    assert slurm_conf.node_gpus(text, "other") is None


def test_reads_the_real_kernel_log_when_allowed():
    import pytest

    try:
        lines = kernel_log.read_system()
    except OSError as exc:
        pytest.skip(f"kernel log not readable here: {exc}")
    records = kernel_log.parse(lines)
    assert records and all(r.ts is not None for r in records[:50])
