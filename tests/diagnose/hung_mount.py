"""A FUSE filesystem that stops answering, as a hung NFS or Lustre mount does: its root answers, a
lookup of anything in it never does. A process that touches a file there sleeps uninterruptibly
until this one ends; no signal wakes it. Run as ``python hung_mount.py MOUNTPOINT``; ending this
process (and unmounting) lets them go."""

from __future__ import annotations

import stat
import sys
import threading
import time

import mfusepy as fuse


class Hung(fuse.Operations):
    use_ns = True

    def getattr(self, path, fh=None):
        if path != "/":
            threading.Event().wait()              # never answers
        now = time.time_ns()
        return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2, "st_ctime": now, "st_mtime": now, "st_atime": now}

    def readdir(self, path, fh):
        return [".", ".."]


if __name__ == "__main__":
    fuse.FUSE(Hung(), sys.argv[1], foreground=True, allow_other=True)
