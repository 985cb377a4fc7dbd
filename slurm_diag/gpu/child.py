"""Read the GPUs in a child process the caller can abandon and kill.

A thread stuck in an uninterruptible driver call can keep a process from exiting, so the health
checks never call NVML in their own process. ``read_in_child`` starts
``python -m slurm_diag.gpu.child`` in its own process group; the child runs the reader (its
per-call timeouts and per-call reasons included), tells the parent each step it starts, and
writes the reading as one JSON line on stdout. The parent waits at most ``total_timeout_s`` from
the moment it starts the child, then kills the child's process group and never waits on it: an
overrun becomes a HUNG reading naming the limit and the step the child was in. The simulator
goes through the same child, so tests exercise the path the prolog takes on a real node.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from slurm_diag.gpu.reading import GpuReading, ReadError

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def _margin(total_timeout_s: float) -> float:
    """What the child leaves the parent to receive its answer before the parent's deadline."""
    return min(0.25, total_timeout_s * 0.2)


def read_in_child(profile: str | Path | None, call_timeout_s: float, total_timeout_s: float) -> GpuReading:
    """The node's GPUs (or the simulated ``profile``), read in a child process; never raises and
    returns within about ``total_timeout_s`` whatever the driver does."""
    return ChildRead(profile, call_timeout_s, total_timeout_s).collect()


class ChildRead:
    """One read in a child process: started at once, collected (at most ``total_timeout_s`` after
    the start) when the reading is needed, so the child can run while the caller does other work."""

    def __init__(self, profile: str | Path | None, call_timeout_s: float, total_timeout_s: float):
        self.start = time.monotonic()
        self.total_timeout_s = total_timeout_s
        self.deadline = self.start + total_timeout_s
        profile = str(profile) if profile else None
        self.source = f"simulator:{profile}" if profile else "nvml"
        self.reading: GpuReading | None = None
        request = {"profile": profile or "", "call_timeout_s": call_timeout_s, "total_timeout_s": total_timeout_s,
                   "deadline": self.deadline - _margin(total_timeout_s)}
        from slurm_diag import process   # here, not at the top: the child process does not need it

        # -S skips site (a third of the child's start): the child gets this process's import path instead
        try:
            self.proc = process.spawn([sys.executable, "-S", "-m", "slurm_diag.gpu.child", json.dumps(request)],
                                      env={"PYTHONPATH": os.pathsep.join(_import_path())}, pipes=True)
        except (process.ProgramNotFound, OSError) as exc:
            self.proc = None
            why = exc.message if isinstance(exc, process.ProgramNotFound) else exc.strerror
            self.reading = self._failed(f"cannot start the GPU reader process {sys.executable}: {why}; "
                                        "reinstall slurm-diag on this node", ReadError.INTERNAL)

    def collect(self) -> GpuReading:
        """The reading; the first call waits for it (never past the deadline) and kills the child."""
        if self.reading is None:
            try:
                answer, phase, stderr = _receive(self.proc, self.deadline)
            finally:
                self.abandon()
            self.reading = self._interpret(answer, phase, stderr)
        return self.reading

    def abandon(self) -> None:
        if self.proc is not None:
            from slurm_diag import process

            process.abandon(self.proc)
            self.proc = None

    def _interpret(self, answer: dict | None, phase: str, stderr: bytes) -> GpuReading:
        if answer is not None:
            try:
                reading = GpuReading.from_dict(answer)
            except (KeyError, TypeError, ValueError) as exc:
                return self._failed(f"the GPU reader process sent a malformed reading ({exc!r}): "
                                    "report this as a slurm-diag bug", ReadError.INTERNAL)
            reading.duration_s = time.monotonic() - self.start
            return reading
        if time.monotonic() >= self.deadline:
            return self._failed(f"the GPU read did not finish within {self.total_timeout_s:g} s "
                                f"(the reader process was in {phase}); it was killed", ReadError.HUNG)
        last = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        return self._failed(f"the GPU reader process ended without a reading while in {phase}: "
                            f"{last[0][:300]}; report this as a slurm-diag bug", ReadError.INTERNAL)

    def _failed(self, error: str, kind: ReadError) -> GpuReading:
        return GpuReading(source=self.source, error=error, error_kind=kind, duration_s=time.monotonic() - self.start)


def _import_path() -> list[str]:
    """This package's root, then every directory this process imports from (site's .pth files
    already applied), so the child imports the same slurm_diag and pynvml."""
    paths = [PACKAGE_ROOT] + [p for p in sys.path if isinstance(p, str) and p and os.path.exists(p)]
    return list(dict.fromkeys(paths))


def _receive(proc, deadline: float) -> tuple[dict | None, str, bytes]:
    """(the reading's dict or None, the last step the child announced, what it wrote on stderr)."""
    import selectors

    phase = "interpreter start"
    out, err = b"", b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        sel.register(proc.stderr, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(left):
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                elif key.fileobj is proc.stderr:
                    err = (err + data)[-4096:]
                else:
                    out += data
                    while b"\n" in out:
                        line, out = out.split(b"\n", 1)
                        try:
                            message = json.loads(line)
                        except ValueError:
                            continue
                        if "reading" in message:
                            return message["reading"], phase, err
                        phase = message.get("at", phase)
    return None, phase, err


def _read(request: dict, progress) -> GpuReading:
    from slurm_diag.gpu.reader import read_all

    path = request["profile"]
    if path:
        from slurm_diag.gpu import profile as profile_mod
        from slurm_diag.gpu.simulator import SimulatedNvml

        progress("loading the GPU profile")
        try:
            prof = profile_mod.load(path)
        except profile_mod.ProfileError as exc:
            lines = str(exc).splitlines()
            return GpuReading(source=f"simulator:{path}", error_kind=ReadError.PROFILE,
                              error="GPU profile unusable: " + " ".join(line.strip() for line in lines[:2]))
        nvml, source = SimulatedNvml(prof), f"simulator:{prof.path}"
    else:
        progress("importing pynvml")
        try:
            import pynvml
        except ImportError as exc:
            return GpuReading(source="nvml", error_kind=ReadError.NOT_INSTALLED,
                              error=f"pynvml (package nvidia-ml-py) is not installed for {sys.executable} "
                                    f"({exc}): install slurm-diag[gpu] there")
        nvml, source = pynvml, "nvml"
    return read_all(nvml, source, call_timeout_s=request["call_timeout_s"],
                    total_timeout_s=request["total_timeout_s"], deadline=request["deadline"], progress=progress)


def main(argv: list[str]) -> None:
    out = sys.stdout.buffer

    def send(message: dict) -> None:
        out.write(json.dumps(message).encode() + b"\n")
        out.flush()

    reading = _read(json.loads(argv[1]), lambda phase: send({"at": phase}))
    send({"reading": reading.to_dict()})
    os._exit(0)           # do not wait on a reader thread stuck in a hung driver call


if __name__ == "__main__":
    main(sys.argv)
