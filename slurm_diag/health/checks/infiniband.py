"""InfiniBand ports: every port ACTIVE / LinkUp at the expected rate. A port down or trained to a
lower rate makes multi-node collectives fall back, slow down or hang."""

from __future__ import annotations

from slurm_diag.health.registry import check
from slurm_diag.health.result import CheckResult, critical, ok, unknown

NAME = "infiniband"


def evaluate(ports, expected_ports: int, expected_rate: float, source: str) -> list[CheckResult]:
    results = []
    if expected_ports and len(ports) < expected_ports:
        results.append(critical(NAME, f"{len(ports)} InfiniBand ports found in {source}, expected {expected_ports}: "
                                      "an HCA is missing", observed=len(ports), expected=expected_ports,
                                next_step="drain; check lspci / ibstat for the missing HCA"))
    if not ports:
        return results or [ok(NAME, f"no InfiniBand ports in {source} (none expected)")]
    fastest = max((p.rate_gbps or 0) for p in ports)
    want = expected_rate or fastest
    for p in ports:
        if p.state.upper() != "ACTIVE" or p.phys_state.lower() != "linkup":
            results.append(critical(NAME, f"{p.label} is {p.state}/{p.phys_state}, expected ACTIVE/LinkUp: "
                                          "check the cable and the switch port",
                                    observed={"port": p.label, "state": p.state, "phys_state": p.phys_state},
                                    expected={"state": "ACTIVE", "phys_state": "LinkUp"},
                                    next_step="drain; ibstat, reseat the cable, check the switch port"))
        elif p.rate_gbps is None or p.rate_gbps < want:
            results.append(critical(NAME, f"{p.label} at {p.rate_gbps} Gb/s, expected {want:g} Gb/s: "
                                          "link trained down; check the cable",
                                    observed={"port": p.label, "rate_gbps": p.rate_gbps},
                                    expected={"rate_gbps": want},
                                    next_step="drain; reseat or replace the cable, check the switch port"))
    return results or [ok(NAME, f"{len(ports)} InfiniBand ports ACTIVE at {want:g} Gb/s",
                          data={"ports": [p.label for p in ports]})]


@check(NAME)
def run(ctx) -> list[CheckResult]:
    ports, source, error = ctx.ib_ports()
    if error:
        return [unknown(NAME, error, next_step="check /sys/class/infiniband is readable")]
    return evaluate(ports, ctx.threshold("ib_expected_ports"), ctx.threshold("ib_expected_rate_gbps"), source)
