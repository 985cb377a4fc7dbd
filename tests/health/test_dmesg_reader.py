"""The dmesg fallback of the kernel-log reader goes through the process gateway: its lines, or an
OSError that says why (missing, failing); read_system names both sources when neither works."""

from __future__ import annotations

import pytest

from slurm_diag.health import kernel_log


def _fake_dmesg(tmp_path, body: str):
    exe = tmp_path / "dmesg"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(0o755)


def test_dmesg_lines_are_returned(tmp_path, monkeypatch):
    _fake_dmesg(tmp_path, 'echo "<4>[ 12.5] NVRM: Xid (PCI:0000:3b:00): 79, pid=1"\necho "<6>[ 13.0] ok"\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    assert kernel_log.read_dmesg() == ["<4>[ 12.5] NVRM: Xid (PCI:0000:3b:00): 79, pid=1", "<6>[ 13.0] ok"]


def test_failing_or_missing_dmesg_says_why(tmp_path, monkeypatch):
    _fake_dmesg(tmp_path, 'echo "dmesg: read kernel buffer failed: Operation not permitted" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OSError, match="exited 1: dmesg: read kernel buffer failed"):
        kernel_log.read_dmesg()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(OSError, match="`dmesg` could not be started"):
        kernel_log.read_dmesg()


def test_read_system_names_both_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(kernel_log, "read_kmsg", lambda: (_ for _ in ()).throw(PermissionError(1, "Operation not permitted")))
    with pytest.raises(OSError) as err:
        kernel_log.read_system()
    assert "/dev/kmsg: Operation not permitted" in str(err.value) and "dmesg" in str(err.value)
