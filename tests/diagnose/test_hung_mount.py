"""A job's output on a filesystem that stopped answering (a hung NFS, Lustre or FUSE mount): explain
and the agent give up on it after a bounded wait, say so, and are not held by it when they exit. The
mount is a real one (FUSE, tests/diagnose/hung_mount.py): a process that touches a file there sleeps
uninterruptibly, as on a dead NFS server, and no signal wakes it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slurm_diag.diagnose import logfile
from slurm_diag.slurm.fake import FakeSlurmClient
from tests.conftest import run_main
from tests.diagnose.test_explain_recent import ended

HELPER = Path(__file__).with_name("hung_mount.py")


@pytest.fixture()
def hung(tmp_path, monkeypatch):
    """A mount point whose files never answer; unmounted (and what hangs on it let go) afterwards."""
    point = tmp_path / "nfs"
    point.mkdir()
    daemon = subprocess.Popen([sys.executable, str(HELPER), str(point)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while f" {point} " not in Path("/proc/self/mountinfo").read_text():
        assert daemon.poll() is None, f"the FUSE helper ended: {daemon.stderr.read().decode()}"
        assert time.monotonic() < deadline, "the FUSE helper did not mount within 20 s"
        time.sleep(0.05)
    monkeypatch.setattr(logfile, "_HUNG", {})
    try:
        yield point
    finally:
        daemon.kill()                 # its requests fail with ENOTCONN: whatever hung on it wakes up
        daemon.wait(timeout=30)
        subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=30)


def test_a_file_on_a_hung_mount_is_given_up_on_and_its_mount_not_waited_for_twice(hung):
    t0 = time.monotonic()
    first = logfile.read_tail(str(hung / "slurm-7.out"), timeout=1)
    waited = time.monotonic() - t0
    assert not first.usable and not first.lines
    assert "did not answer within 1 s" in first.problem and "check that mount on this host" in first.problem
    assert 1 <= waited < 5, f"gave up after {waited:.1f} s"
    t0 = time.monotonic()
    second = logfile.read_tail(str(hung / "bob" / "slurm-8.err"), timeout=1)
    assert time.monotonic() - t0 < 0.5                         # not another wait on the same mount
    assert f"{hung} did not answer an earlier read" in second.problem
    assert logfile.read_tail("/etc/hostname", timeout=1).usable    # other filesystems still read
    assert logfile._hung_at(str(hung / "a" / "b.out")) == str(hung)       # the FUSE mount whole
    assert logfile.read_tail(str(hung.parent / "nfs-like.out"), timeout=1).problem.endswith("does not exist "
                                                                                           "(deleted, purged, or on another node)")


MOUNTS = """\
22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
40 22 0:40 / /home rw,relatime - autofs systemd-1 rw,fd=50
41 40 0:41 / /home rw,relatime - nfs4 fs1:/home rw,vers=4.2
42 22 0:42 / /scratch rw - lustre 10.0.0.1@o2ib:/scratch rw
43 22 0:43 / /mnt/my\\040data rw - fuse.sshfs me@host: rw
"""


def test_what_a_timeout_gives_up_on(tmp_path, monkeypatch):
    """A network, automounted or FUSE mount whole (the top one where mounts are stacked); on a local
    filesystem (a symlink into the hung mount, a slow disk) only the file's directory; never "/"."""
    info = tmp_path / "mountinfo"
    info.write_text(MOUNTS)
    monkeypatch.setattr(logfile, "MOUNTINFO", str(info))
    assert logfile._hung_at("/home/ana/run/slurm-1.out") == "/home"
    assert logfile._hung_at("/scratch/ana/slurm-1.out") == "/scratch"
    assert logfile._hung_at("/scratch") == "/scratch"                        # the mount point itself
    assert logfile._hung_at("/mnt/my data/x.log") == "/mnt/my data"
    assert logfile._hung_at("/srv/jobs/slurm-1.out") == "/srv/jobs"
    assert logfile._hung_at("/slurm-1.out") == "/slurm-1.out"               # not "/"
    assert logfile._hung_at("/") == "/" and logfile._known_hung("/etc/hostname") is None


def test_many_hung_places_shorten_the_wait_and_a_look_that_cannot_run_says_so(monkeypatch):
    from slurm_diag import process

    now = time.monotonic()
    monkeypatch.setattr(logfile, "_HUNG", {"/a": (10.0, now), "/b": (10.0, now)})
    assert logfile._timeout(None) == logfile.READ_TIMEOUT_S
    logfile._HUNG["/c"] = (10.0, now)
    assert logfile._timeout(None) == 1.0
    logfile._HUNG["/old"] = (10.0, now - logfile.HUNG_FOR_S - 1)       # tried again after a while
    assert logfile._known_hung("/old/x") is None and "/old" not in logfile._HUNG
    with pytest.raises(logfile.Unanswered, match="/b did not answer an earlier look"):
        logfile.within(lambda: 1, ["/b/x"])
    monkeypatch.setattr(process, "call_in_child", lambda work, timeout: b"")       # no child could start
    with pytest.raises(logfile.Unanswered, match="ulimit -u"):
        logfile.within(lambda: 1, ["/etc/hostname"])
    assert "ulimit -u" in logfile.read_tail("/etc/hostname").problem


def test_explain_names_the_log_it_could_not_read_and_still_explains_the_job(hung, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SDIAG_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SDIAG_CONFIG", raising=False)
    monkeypatch.setattr(logfile, "READ_TIMEOUT_S", 1.0)
    client = FakeSlurmClient(["node1"])
    job = ended("21", 1, state="TIMEOUT", exit_code=0)
    import dataclasses

    client.jobs["21"] = dataclasses.replace(job, stdout=str(hung / "slurm-21.out"), stderr=str(hung / "slurm-21.err"))
    import slurm_diag.slurm

    monkeypatch.setattr(slurm_diag.slurm, "default_client", lambda cfg=None: client)
    t0 = time.monotonic()
    code, out, err = run_main(capsys, "explain", "21")
    assert time.monotonic() - t0 < 5
    assert code == 0, err
    assert "did not answer within 1 s" in out and str(hung / "slurm-21.out") in out
    assert "time limit" in out.lower()                 # Slurm's own verdict still explains the job


def test_the_cli_exits_and_ends_its_pipe_while_the_read_it_gave_up_on_still_hangs(hung):
    # capture_output waits for EOF on the pipes: a reader left hanging that held them would block it
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "slurm_diag", "explain", "--log", str(hung / "job.log")],
                          capture_output=True, text=True, timeout=60, env={**os.environ})
    waited = time.monotonic() - t0
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"did not answer within {logfile.READ_TIMEOUT_S:g} s" in done.stderr
    assert waited < logfile.READ_TIMEOUT_S + 10, f"the CLI took {waited:.1f} s"


def test_a_job_whose_output_file_slurm_could_not_create_on_a_hung_mount_is_explained_in_bounded_time(
        hung, tmp_path, monkeypatch):
    """Signal 53 (Slurm could not create the output file): whether its directory exists is looked at
    the way a log is read, so a hung mount makes that a thing not checked, not a hang."""
    from slurm_diag.diagnose import engine
    from tests.diagnose.test_job_engine import _no_output

    monkeypatch.setattr(logfile, "READ_TIMEOUT_S", 1.0)
    t0 = time.monotonic()
    d = engine.diagnose_job(_no_output(tmp_path, hung / "logs"))
    assert time.monotonic() - t0 < 5
    a = d.attribution
    assert a["label"] == "user_code" and f"could not be checked here: {hung} did not answer an earlier look within " \
        "1 s" in a["explanation"], a                  # the log's read, a moment before, found the mount hung
    assert "filesystem" in [alt["label"] for alt in d.alternatives]
