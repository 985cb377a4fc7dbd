"""Kernel log lines and the XIDs in them. Reads ``/dev/kmsg`` (non-blocking, every record still in
the ring buffer) or, if that fails, ``dmesg``; a node profile may carry the lines instead.
Parsing is pure: lines in, records and XID events out."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Record:
    ts: float | None        # seconds since boot, when the line carries it
    text: str


@dataclass(frozen=True)
class XidEvent:
    xid: int
    pci: str                # "0000:ab:00" as the driver prints it
    ts: float | None
    text: str


_KMSG = re.compile(r"^(\d+),(\d+),(\d+),[^;]*;(.*)$")
_DMESG = re.compile(r"^(?:<\d+>)?\[\s*(\d+\.\d+)\]\s?(.*)$")
_XID = re.compile(r"NVRM: Xid \((?:PCI:)?([0-9a-fA-F:.]+)\): (\d+)")


def parse_line(line: str) -> Record:
    m = _KMSG.match(line)
    if m:
        return Record(int(m.group(3)) / 1e6, m.group(4))
    m = _DMESG.match(line)
    if m:
        return Record(float(m.group(1)), m.group(2))
    return Record(None, line)


def parse(lines) -> list[Record]:
    return [parse_line(line.rstrip("\n")) for line in lines if line.strip()]


def xids(records) -> list[XidEvent]:
    out = []
    for rec in records:
        m = _XID.search(rec.text)
        if m:
            out.append(XidEvent(int(m.group(2)), m.group(1).lower(), rec.ts, rec.text))
    return out


def bus_key(pci: str | None) -> str | None:
    """'0000:AB:00', '00000000:ab:00.0' -> 'ab:00' (bus:device, what XID lines and NVML share)."""
    if not pci:
        return None
    parts = pci.lower().split(":")
    if len(parts) < 2:
        return None
    return f"{parts[-2][-2:]}:{parts[-1].split('.')[0]}"


def read_kmsg(path: str = "/dev/kmsg", max_records: int = 200000) -> list[str]:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    lines = []
    try:
        while len(lines) < max_records:
            try:
                chunk = os.read(fd, 16384)
            except BlockingIOError:
                break
            except BrokenPipeError:      # records overwritten while reading: go on from the next
                continue
            if not chunk:
                break
            lines.append(chunk.decode(errors="replace").split("\n", 1)[0])
    finally:
        os.close(fd)
    return lines


def read_dmesg(timeout_s: float = 3.0) -> list[str]:
    """Raises OSError with the reason when dmesg is missing, hangs or fails."""
    from slurm_diag import process   # only when /dev/kmsg was unreadable

    try:
        done = process.run(["dmesg", "-r"], timeout=timeout_s)
    except (process.ProgramNotFound, process.ProcessTimeout) as exc:
        raise OSError(exc.message) from None
    if done.returncode != 0:
        raise OSError(f"dmesg -r exited {done.returncode}: {done.stderr.strip() or 'no message'}")
    return done.stdout.splitlines()


def read_system(timeout_s: float = 3.0) -> list[str]:
    """Raises OSError with the reason when neither source is readable."""
    try:
        return read_kmsg()
    except OSError as first:
        try:
            return read_dmesg(timeout_s)
        except OSError as second:
            raise OSError(f"/dev/kmsg: {first.strerror or first}; dmesg: {second}") from None


def uptime_s() -> float | None:
    try:
        with open("/proc/uptime") as fh:
            return float(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return fh.read().strip()
    except OSError:
        return "unknown"
