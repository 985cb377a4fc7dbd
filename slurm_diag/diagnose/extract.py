"""Entities in a log of any scheduler (the paper's metric A): node names, GPU indices, Xid codes,
job and step ids, IP addresses and ports, PCI bus ids.

Pure regex over cleaned lines. Precision first: a node name is taken only where the log's
grammar says it is a host (Slurm's and srun's messages, NCCL's ``host:pid:tid`` prefix, syslog's
host field, ``host:``/``hostname=`` fields, MPI's "on node"), never from any word that looks like
one. A PCI bus id becomes a GPU index only through a mapping a health report provides.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from slurm_diag.slurm.parse import hostlist

_HOST = r"[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*"
_HOSTLIST = r"[A-Za-z][A-Za-z0-9_.-]*(?:\[[0-9,\-]+\][A-Za-z0-9_.-]*)?"

XID = re.compile(r"\bXid\b\s*(?:\((?:PCI:)?(?P<pci>[0-9A-Fa-f:.]+)\))?\s*[:=,]?\s*(?:error\s*)?(?P<xid>\d{1,3})\b",
                 re.IGNORECASE)
PCI = re.compile(r"\b(?P<pci>(?:[0-9A-Fa-f]{4,8}:)?[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])\b")
NCCL_BUSID = re.compile(r"\bbusId\s+(?:0x)?(?P<bus>[0-9A-Fa-f]{5,12})\b")
GPU_INDEX = (
    re.compile(r"\bGPU\s?#?(?P<gpu>\d{1,2})\b(?![.:]\d)(?!\s*(?:GB|GiB|MB|MiB|%))"),
    re.compile(r"\bgpu(?P<gpu>[0-9]|[1-9][0-9])\b(?![:.-]\w)", re.IGNORECASE),   # not a host "gpu01:"
    re.compile(r"\bcuda:(?P<gpu>\d{1,2})\b"),
    re.compile(r"\bcudaDev\s+(?P<gpu>\d{1,2})\b"),
    re.compile(r"\b(?:CUDA|GPU) device\s+(?:#\s?)?(?P<gpu>\d{1,2})\b", re.IGNORECASE),
    re.compile(r"\bdevice(?:_id|\sindex)?\s?[=:]\s?(?P<gpu>\d{1,2})\b"),
    # NCCL's "host:pid:tid [3] NCCL INFO": the bracket is the CUDA device
    re.compile(rf"^{_HOST}:\d+:\d+\s+\[(?P<gpu>\d{{1,2}})\]\s+NCCL\b"),
)
NODE = (
    re.compile(rf"\*\*\* (?:JOB|STEP) [\w.]+ ON (?P<node>{_HOST}) "),                      # slurmstepd
    re.compile(rf"\*\*\* (?:JOB|STEP) [\w.]+ CANCELLED AT \S+ DUE TO [A-Z ]+ on (?P<node>{_HOST}) \*\*\*"),  # older
    re.compile(rf"\bsrun: error: (?P<node>{_HOST}): task"),
    re.compile(rf"^(?P<node>{_HOST}):\d+:\d+\s+\[\d+\]\s+NCCL\b"),                          # NCCL prefix
    # syslog / journalctl: "date host tag[pid]:" (kernel, slurmd, slurmstepd, nvidia-persistenced, ...)
    re.compile(rf"^(?:\w{{3}}\s+\d+\s+[\d:]{{8}}|\d{{4}}-\d\d-\d\dT[\d:.+-]+)\s+(?P<node>{_HOST})\s+"
               rf"[\w./-]+(?:\[\d+\])?:"),
    re.compile(rf"\b(?:host|hostname|Host|Hostname|HOST)\s*[:=]\s*(?P<node>{_HOST})\b"),
    re.compile(rf"\b(?:NodeList|NodeName|BatchHost|Node|Nodes|SLURM_(?:JOB_)?NODELIST|SLURMD_NODENAME)="
               rf"(?P<list>{_HOSTLIST})"),
    re.compile(rf"\bexec_host\s*=\s*(?P<node>{_HOST})/"),                                 # PBS/Torque
    re.compile(rf"executed on host\(s\) <(?:\d+\*)?(?P<node>{_HOST})>"),                   # LSF
    re.compile(rf"^\s*Node:\s+(?P<node>{_HOST})(?:/|\s*$)"),          # kubectl describe pod; a form's "Node: c016"
    re.compile(rf"\bon (?:node|host)\s+(?P<node>{_HOST})\b"),
    re.compile(rf"\bnode (?P<node>{_HOST}) (?:is |was )?(?:not responding|down|drained|failed)"),
    re.compile(rf"\bNode failure on (?P<node>{_HOST})"),
    re.compile(rf"^[a-z_][\w.-]*@(?P<node>{_HOST}):[~/]"),                                 # a shell prompt user@host:~$
    re.compile(rf"\bNodes (?P<list>{_HOSTLIST}) (?:not responding|are down)"),             # slurmctld
    re.compile(rf"\bUnavailableNodes:(?P<list>{_HOSTLIST})"),                              # squeue's pending reason
    re.compile(rf"\bconnect to host (?P<node>{_HOST}) port \d+"),                          # ssh
    # a pinned job: -w among srun/sbatch's own options, before the program and its arguments
    # (--long[=value], -xVALUE, or -x with its value apart: only a short option takes the next word)
    re.compile(rf"\b(?:sbatch|srun|salloc)(?:\s+(?:--[\w-]+(?:=\S+)?|-[A-Za-z]\S+|-[A-Za-z](?:\s+[^-\s]\S*)?))*?"
               rf"\s(?:-w\s*|--nodelist[= ])(?P<list>{_HOSTLIST})(?=\s|$)"),
    re.compile(rf"^\[(?P<node>{_HOST}):\d+\] "),                                           # Open MPI's [host:pid]
    re.compile(rf"^\[[a-z_][\w.-]*@(?P<node>{_HOST})\s[^\]]*\][#$]"),                         # a prompt [root@gn45 ~]#
    re.compile(rf"\bslurmstepd-(?P<node>{_HOST}): "),                                       # pyxis, enroot in a step
    re.compile(rf"^\s*(?:JOB|STEP) \d+(?:_\d+)?(?:\.\w+)? ON (?P<node>{_HOST}) CANCELLED AT "),  # stars dropped
    re.compile(rf"^\S+\s+(?:up|down|drain|inact)\s+\S+\s+\d+\s+[a-z]+[*~#!%$@^-]?\s+(?P<list>{_HOSTLIST})\s*$"),  # sinfo
)
# NCCL's INFO lines name every rank's device (init, rings, teardown): not a GPU the log implicates
_NCCL_INFO = re.compile(r"\bNCCL INFO\b")
NOT_HOSTS = {"localhost", "none", "null", "unknown", "n/a", "the", "a", "node", "host", "is", "was"}
JOB = (
    re.compile(r"\*\*\* (?:JOB|STEP) (?P<job>\d+(?:_\d+)?(?:\.\w+)?) (?:ON|CANCELLED|STEPD) "),
    re.compile(r"\b(?:SLURM_JOB_ID|SLURM_JOBID|JobId|JobID|job_id)\s*[=:]\s*(?P<job>\d+(?:_\d+)?)\b"),
    re.compile(r"\bStepId=(?P<job>\d+\.\w+)\b"),
    re.compile(r"\bslurm-(?P<job>\d+(?:_\d+)?)\.(?:out|err)\b"),
    re.compile(r"\b[Jj]ob (?P<job>\d{2,}(?:_\d+)?)\b"),
)
IP = re.compile(r"(?<![\d.])(?P<ip>(?:\d{1,3}\.){3}\d{1,3})(?:(?::|<)(?P<port>\d{1,5})>?)?(?![\d.])")


@dataclass
class Extracted:
    nodes: list[str] = field(default_factory=list)
    gpus: list[int] = field(default_factory=list)
    xids: list[int] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    pci_bus_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"nodes": self.nodes, "gpus": self.gpus, "xids": self.xids, "job_ids": self.job_ids,
                "ips": self.ips, "ports": self.ports, "pci_bus_ids": self.pci_bus_ids}


def _add(seq: list, value) -> None:
    if value not in seq:
        seq.append(value)


def normalise_pci(bus: str) -> str:
    """'3b:00.0', '0000:3B:00.0', '00000000:3b:00.0' -> '0000:3b:00.0' (NVML prints 8 hex digits)."""
    parts = bus.lower().split(":")
    domain = parts[0][-4:] if len(parts) == 3 else "0000"
    tail = ":".join(parts[-2:])
    return f"{domain.zfill(4)}:{tail}" if "." in tail else f"{domain.zfill(4)}:{tail}.0"


def xids_in(line: str) -> list[tuple[int, str | None]]:
    """(Xid code, PCI bus id or None) on one line."""
    return [(int(m["xid"]), normalise_pci(m["pci"]) if m["pci"] and m["pci"].count(":") >= 1 else None)
            for m in XID.finditer(line)]


def gpus_in(line: str, pci_to_gpu: dict[str, int] | None = None) -> list[int]:
    found: list[int] = []
    hosts = _node_spans(line)       # "failed on node gpu12": a host named gpu12, not GPU 12
    for rx in GPU_INDEX:
        for m in rx.finditer(line):
            if not any(start <= m.start("gpu") < end for start, end in hosts):
                _add(found, int(m["gpu"]))
    if pci_to_gpu:
        for bus in pcis_in(line):
            if bus in pci_to_gpu:
                _add(found, pci_to_gpu[bus])
    return found


def pcis_in(line: str) -> list[str]:
    found = [normalise_pci(m["pci"]) for m in PCI.finditer(line)]
    found += [_nccl_bus(m["bus"]) for m in NCCL_BUSID.finditer(line)]
    found += [bus for _, bus in xids_in(line) if bus]
    return list(dict.fromkeys(found))


def _nccl_bus(packed: str) -> str:
    """NCCL prints a bus id packed as hex digits: '3b000' is 0000:3b:00.0 (domain, bus, device, function)."""
    packed = packed.lower()
    domain, bus, device, function = packed[:-5] or "0", packed[-5:-3], packed[-3:-1], packed[-1]
    return f"{domain[-4:].zfill(4)}:{bus}:{device}.{function}"


# prefixes that name only the host that printed the line: a fabric error it reports may lie at either
# end of the link, so such a host is extracted but not implicated in a network fault (reporters_in)
REPORTER = (
    re.compile(rf"\[(?P<node>{_HOST}):\d+:\d+:\d+\]\s"),                                     # UCX's [host:pid:tid:n]
)
_ALL_HOSTS = NODE + REPORTER


def _hosts(line: str):
    """(the span of a host or host list the line's grammar marks, its text, whether it is a Slurm
    host list), for each one; a list is expanded only by whoever needs its names."""
    for rx in _ALL_HOSTS:
        for m in rx.finditer(line):
            group = "list" if "list" in rx.groupindex and m["list"] else "node"
            yield m.span(group), m[group], group == "list"


def _node_spans(line: str) -> list[tuple[int, int]]:
    return [span for span, _, _ in _hosts(line)]


def reporters_in(line: str) -> list[str]:
    """The hosts the line names only as the one that printed it (REPORTER)."""
    return [m["node"] for rx in REPORTER for m in rx.finditer(line)]


def nodes_in(line: str) -> list[str]:
    found: list[str] = []
    for _, text, is_list in _hosts(line):
        for name in hostlist(text) if is_list else [text]:
            if name.lower() not in NOT_HOSTS and not name.isdigit() and not _looks_like_ip(name):
                _add(found, name)
    return found


def _looks_like_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def extract(lines, pci_to_gpu: dict[str, int] | None = None) -> Extracted:
    out = Extracted()
    for line in lines:
        for name in nodes_in(line):
            _add(out.nodes, name)
        for gpu in ([] if _NCCL_INFO.search(line) else gpus_in(line, pci_to_gpu)):
            _add(out.gpus, gpu)
        for code, bus in xids_in(line):
            _add(out.xids, code)
            if bus and pci_to_gpu and bus in pci_to_gpu:
                _add(out.gpus, pci_to_gpu[bus])
        for bus in pcis_in(line):
            _add(out.pci_bus_ids, bus)
        for rx in JOB:
            for m in rx.finditer(line):
                _add(out.job_ids, m["job"])
        for m in IP.finditer(line):
            if _looks_like_ip(m["ip"]) and not m["ip"].startswith("0."):
                _add(out.ips, m["ip"])
                if m["port"] and 0 < int(m["port"]) < 65536:
                    _add(out.ports, int(m["port"]))
    return out
