"""PCI bus ids to GPU indices, from what the job's nodes' own health reports recorded.

The driver names a GPU by its PCI bus id (``NVRM: Xid (PCI:0000:3b:00): 79``, ``nvidia-smi -q``);
users, Slurm and the health checks name it by index. Only a node's own NVML reading links the two
(the gpu_count check records index -> bus id in every report), and identical servers reuse the
same bus ids, so a bus id in a log becomes (node, index) only when the line names the node, or
only one of the job's nodes has that bus, or all of them put it at the same index. A log alone
has no reading: its bus ids stay unmapped, and the finding says so.
"""

from __future__ import annotations

from slurm_diag.diagnose import extract
from slurm_diag.diagnose.evidence import Evidence, finding

Mapping = dict[str, dict[str, int]]          # node -> {normalised bus id -> GPU index}


def from_reports(nodes, reports: list[dict]) -> Mapping:
    """The newest index -> bus id table each node's reports hold (reports come newest first)."""
    out: Mapping = {}
    for report in reports:
        node = report.get("node")
        if node not in nodes or node in out:
            continue
        for check in report.get("checks", []):
            table = (check.get("data") or {}).get("pci") if check.get("name") == "gpu_count" else None
            if isinstance(table, dict) and table:
                out[node] = {extract.normalise_pci(bus): int(index) for index, bus in table.items() if bus}
                break
    return out


def evidence(job, reports: list[dict]) -> list[Evidence]:
    """One context finding per node whose reports gave the table (it argues for nothing)."""
    return [Evidence(finding(f"health:{node}:pci-map", "health", "OK",
                             f"GPU PCI bus ids on {node}: " + ", ".join(f"gpu{i}={bus}" for bus, i in
                                                                         sorted(table.items(), key=lambda kv: kv[1])),
                             job_id=job.job_id, node=node, raw={"pci_to_gpu": table}))
            for node, table in from_reports(job.nodes, reports).items()]


def from_evidence(found: list[Evidence]) -> Mapping:
    return {ev.finding["node"]: ev.finding["raw"]["pci_to_gpu"] for ev in found
            if ev.id.endswith(":pci-map") and ev.finding.get("source") == "health"}


def locate(bus: str, mapping: Mapping, node: str | None = None) -> tuple[str | None, int | None]:
    """(node, index) for a bus id; either may be None when the reports cannot tell."""
    if node is not None:
        return node, mapping.get(node, {}).get(bus)
    holders = {n: table[bus] for n, table in mapping.items() if bus in table}
    if len(holders) == 1:
        return next(iter(holders.items()))
    indices = set(holders.values())
    return None, (indices.pop() if len(indices) == 1 else None)


def flat(mapping: Mapping) -> dict[str, int]:
    """Bus ids whose index is the same on every node that has them (for extraction from text)."""
    out: dict[str, int] = {}
    for bus in {b for table in mapping.values() for b in table}:
        _, index = locate(bus, mapping)
        if index is not None:
            out[bus] = index
    return out


def apply(found: list[Evidence], mapping: Mapping, unmapped_because: str) -> None:
    """Give log findings that name a GPU only by bus id its index (and node, when that is known);
    say in the finding when that could not be done, and why."""
    for ev in found:
        raw = ev.finding.get("raw")
        if ev.finding["source"] != "log" or not isinstance(raw, dict) or ev.finding.get("gpu") is not None:
            continue
        buses = [raw["pci_bus_id"]] if raw.get("pci_bus_id") else extract.pcis_in(raw.get("text", ""))
        if len(buses) != 1:
            continue
        node, index = locate(buses[0], mapping, ev.finding.get("node"))
        if index is None:
            why = unmapped_because if not mapping else \
                f"the health reports of {', '.join(sorted(mapping))} do not place it on one GPU"
            ev.finding["summary"] = f"{ev.finding['summary'][:380]} [PCI {buses[0]}: not mapped to a GPU index: {why}]"
            continue
        ev.finding["gpu"] = index
        if node is not None:
            ev.finding["node"] = node
        raw["gpu_from_health_report"] = {"pci_bus_id": buses[0], "node": node, "gpu": index}
