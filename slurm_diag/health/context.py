"""What checks observe, gathered once per run and shared: the GPU reading (NVML or the profile),
the kernel log, InfiniBand ports, the expected GPU count, the node's remembered state.

Checks call these lazily and concurrently, so each observation is read at most once (under a lock);
a failure to read becomes an error string the checks turn into UNKNOWN.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from slurm_diag.gpu.reading import GpuReading, ReadError


def _once(method):
    """Memoise a zero-argument method; concurrent callers wait for the first."""
    attr = f"_memo_{method.__name__}"

    def wrapper(self):
        with self._locks.setdefault(attr, threading.Lock()):
            if not hasattr(self, attr):
                setattr(self, attr, method(self))
            return getattr(self, attr)
    wrapper.__name__ = method.__name__
    return wrapper


def node_name(env=os.environ) -> str:
    return env.get("SLURMD_NODENAME") or socket.gethostname().split(".")[0]


def parse_gpu_list(text: str | None) -> list[int] | None:
    """SLURM_JOB_GPUS / CUDA_VISIBLE_DEVICES ('0,1' or '0-3') -> indices; None when unset."""
    if text is None or not text.strip() or text.strip() == "NoDevFiles":
        return None
    out = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        if not lo.isdigit():
            return None                    # UUIDs or MIG names: not index-addressable
        out += list(range(int(lo), int(hi) + 1)) if hi.isdigit() else [int(lo)]
    return out


@dataclass
class Context:
    cfg: "object"                        # slurm_diag.config.Config
    context: str = "manual"              # prolog, epilog, healthcheck, manual
    level: str = "quick"
    node: str = ""
    job_id: str | None = None
    job_gpus: list[int] | None = None
    env: dict = field(default_factory=lambda: dict(os.environ))
    _locks: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.node = self.node or node_name(self.env)
        self._locks = {}

    @property
    def home(self) -> Path:
        return self.cfg.home

    def threshold(self, key: str):
        return self.cfg.get(f"health.thresholds.{key}")

    def profile_setting(self) -> str | None:
        return self.env.get("SDIAG_GPU_PROFILE") or self.cfg.get("health.gpu_profile") or None

    @_once
    def profile(self):
        """(Profile or None, error or None)."""
        path = self.profile_setting()
        if not path:
            return None, None
        from slurm_diag.gpu import profile as profile_mod

        try:
            return profile_mod.load(path), None
        except profile_mod.ProfileError as exc:
            return None, str(exc).splitlines()[0] + " " + " ".join(str(exc).splitlines()[1:2]).strip()

    @_once
    def gpus(self) -> GpuReading:
        """Read in a child process the checks can abandon: bounded by health.nvml_read_timeout_s
        as a whole and by health.nvml_call_timeout_s per NVML call."""
        from slurm_diag.gpu.child import read_in_child

        prof, error = self.profile()
        if error:
            return GpuReading(source="simulator", error=f"GPU profile unusable: {error}",
                              error_kind=ReadError.PROFILE)
        reading = read_in_child(str(prof.path) if prof is not None else None,
                                call_timeout_s=float(self.cfg.get("health.nvml_call_timeout_s")),
                                total_timeout_s=float(self.cfg.get("health.nvml_read_timeout_s")))
        if reading.error_kind in (ReadError.NOT_INSTALLED, ReadError.INTERNAL):
            print(f"sdiag: {self.context} on {self.node}: {reading.error} (a slurm-diag problem: "
                  "the GPU checks say UNKNOWN and never drain for it)", file=sys.stderr, flush=True)
        return reading

    @_once
    def expected_gpus(self) -> tuple[int | None, str]:
        """(count or None, where it came from)."""
        configured = int(self.cfg.get("health.expected_gpus"))
        if configured >= 0:
            return configured, "config health.expected_gpus"
        conf = self.cfg.slurm_conf
        if conf:
            from slurm_diag.health.slurm_conf import expected_gpus

            count = expected_gpus(conf, self.node)
            if count is not None:
                return count, f"Gres in {conf}"
        return None, "no expected count (set health.expected_gpus or Gres=gpu:N in slurm.conf)"

    @_once
    def kernel_log(self):
        """(records or None, boot id, error or None)."""
        from slurm_diag.health import kernel_log

        prof, error = self.profile()
        if error:
            return None, "unknown", f"GPU profile unusable: {error}"
        if prof is not None and prof.kernel_log is not None:
            return kernel_log.parse(prof.kernel_log), f"profile:{prof.digest}", None
        try:
            lines = kernel_log.read_system()
        except (OSError, Exception) as exc:
            return None, kernel_log.boot_id(), f"cannot read the kernel log: {exc}"
        return kernel_log.parse(lines), kernel_log.boot_id(), None

    @_once
    def ib_ports(self):
        """(ports or None, source, error or None)."""
        from slurm_diag.health import ib_sysfs

        prof, error = self.profile()
        if error:
            return None, "profile", f"GPU profile unusable: {error}"
        if prof is not None and prof.infiniband is not None:
            return ib_sysfs.from_profile(prof.infiniband), f"profile {prof.name}", None
        root = self.threshold("ib_root")
        try:
            return ib_sysfs.read_sysfs(root), f"sysfs under {root}", None
        except OSError as exc:
            return None, f"sysfs under {root}", f"cannot read InfiniBand sysfs: {exc}"

    def is_simulated(self) -> bool:
        return bool(self.profile_setting())
