"""The GPU read in a child process: the whole read is bounded, an overrunning reader is killed, and
the per-call reasons survive the trip through the pipe. Durations are the ones the reading reports,
with wide margins; the hangs are tens of seconds, so a reading that waited for them cannot pass."""

import os
import threading
import time
from pathlib import Path

from slurm_diag.gpu import ReadError, read_gpus
from tests.gpu.conftest import tweak


def reader_processes() -> list[int]:
    """Live children of this process running the GPU reader (a killed one is a zombie or gone)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(stat[1]) == os.getpid() and stat[0] != "Z" and b"slurm_diag.gpu.child" in cmdline:
            found.append(int(entry.name))
    return found


def assert_reader_gone():
    for _ in range(200):              # SIGKILL takes effect at once; this only waits for the kernel
        if not reader_processes():
            return
        time.sleep(0.05)
    raise AssertionError(f"GPU reader processes left running: {reader_processes()}")


def read_guarded(*args, **kw):
    """read_gpus in a thread, so a regression that blocks fails the test instead of hanging it."""
    box = {}
    t = threading.Thread(target=lambda: box.update(r=read_gpus(*args, **kw)), daemon=True)
    t.start()
    t.join(60)
    assert "r" in box, "read_gpus did not return at all"
    return box["r"]


def test_whole_read_is_bounded_when_every_call_is_slow(healthy_doc, write_profile):
    # every call answers in 0.15 s, under the 0.5 s per-call limit: about 6 s per GPU unbounded
    doc = dict(healthy_doc, gpu_defaults=dict(healthy_doc["gpu_defaults"], hang_s=0.15))
    r = read_guarded(write_profile(doc), call_timeout_s=0.5, total_timeout_s=2.0)
    assert r.error is None and len(r.gpus) == 8
    for g in r.gpus:
        assert "had not returned when the whole NVML read reached its 2 s limit" in g.errors["gpu"], g.errors
        assert g.errors["processes"] == g.errors["gpu"]           # the last fields were never read
    assert r.gpus[0].name == "NVIDIA H100 80GB HBM3"             # what was read in time is kept
    assert r.duration_s < 4.0, r.duration_s                      # unbounded: > 6 s
    assert_reader_gone()


def test_reader_stuck_past_the_total_limit_is_killed(tmp_path):
    stuck = tmp_path / "profile.fifo"
    os.mkfifo(stuck)                  # opening it blocks the reader's main thread, like a wedged driver
    r = read_guarded(str(stuck), call_timeout_s=0.5, total_timeout_s=1.0)
    assert r.error_kind is ReadError.HUNG and r.gpus == []
    assert r.error == ("the GPU read did not finish within 1 s (the reader process was in loading the "
                       "GPU profile); it was killed")
    assert r.duration_s < 3.0, r.duration_s
    assert_reader_gone()


def test_per_call_reasons_survive_when_only_some_calls_hang(healthy_doc, write_profile):
    doc = tweak(healthy_doc, 4, hang_s=30, hang_call="nvmlDeviceGetTemperature")
    r = read_guarded(write_profile(doc), call_timeout_s=0.3, total_timeout_s=10.0)
    hung = r.gpus[4]
    assert "nvmlDeviceGetTemperature did not return within 0.3 s" in hung.errors["temperature_c"]
    assert hung.errors["power_w"] == hung.errors["temperature_c"]
    assert hung.clocks.sm_mhz == 345
    assert all(not g.errors for i, g in enumerate(r.gpus) if i != 4)
    assert r.duration_s < 10.0, r.duration_s      # returned on the per-call limit, not the total one
    assert_reader_gone()                          # the thread still sleeping in the hung call died with it
