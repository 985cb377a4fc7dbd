"""XIDs from the kernel log, read since the last check (or within a window on the first run),
de-duplicated and classified. A critical XID stays CRITICAL until the node reboots (a new boot id,
or a new profile on a simulated node) or ``sdiag-agent health forget`` is run: the GPU needs a
reset or a reboot either way, so later clean-looking runs must not resume the node."""

from __future__ import annotations

import time

from slurm_diag.health import kernel_log, state
from slurm_diag.health.kernel_log import XidEvent, bus_key
from slurm_diag.health.registry import check
from slurm_diag.health.result import CheckResult, critical, ok, unknown, warn

NAME = "xid"
MEANING = {
    13: "graphics engine exception", 31: "GPU memory page fault", 43: "GPU stopped processing",
    45: "preemptive cleanup", 48: "double-bit ECC error", 61: "internal micro-controller breakpoint",
    62: "internal micro-controller halt", 63: "ECC page retirement / row remap recorded",
    64: "ECC page retirement / row remap failure", 68: "video decoder exception",
    74: "NVLink error", 79: "GPU has fallen off the bus", 92: "high single-bit ECC error rate",
    94: "contained ECC error", 95: "uncontained ECC error", 119: "GSP RPC timeout", 120: "GSP error",
    121: "C2C link error", 122: "SPI PMU RPC read failure", 123: "SPI PMU RPC write failure",
    136: "link training failure", 140: "unrecovered ECC error", 143: "GPU initialisation failure",
    154: "GPU recovery action changed",
}
NEXT = {
    79: "drain; reboot the node, reseat or RMA the GPU if it recurs",
    74: "drain; check NVLink errors (nvidia-smi nvlink -e) and reset the GPU",
    48: "drain; reset the GPU (nvidia-smi -r) and check row remapping",
    95: "drain; reset the GPU (nvidia-smi -r) and check row remapping",
}


def classify(xid: int, classes: dict) -> str:
    for kind in ("critical", "job_caused", "informational"):
        if xid in classes.get(kind, ()):
            return kind
    return "unclassified"


def select_new(records, cursor: dict | None, window_start: float | None) -> list:
    """Records after the cursor; without a cursor, those inside the window (all when no window)."""
    out = []
    for i, rec in enumerate(records):
        if cursor:
            if rec.ts is not None and cursor.get("ts") is not None:
                if rec.ts > cursor["ts"]:
                    out.append(rec)
            elif i >= cursor.get("count", 0):
                out.append(rec)
        elif window_start is None or rec.ts is None or rec.ts >= window_start:
            out.append(rec)
    return out


def dedupe(events: list[XidEvent]) -> list[dict]:
    seen: dict[tuple, dict] = {}
    for ev in events:
        key = (ev.xid, bus_key(ev.pci))
        if key in seen:
            seen[key]["count"] += 1
        else:
            seen[key] = {"xid": ev.xid, "pci": ev.pci, "count": 1, "ts": ev.ts, "text": ev.text[:300]}
    return list(seen.values())


def evaluate(new: list[dict], sticky: list[dict], classes: dict, bus_to_gpu: dict) -> list[CheckResult]:
    """new: de-duplicated events since the last check; sticky: critical events seen since boot."""
    results = []
    for ev in sticky:
        gpu = bus_to_gpu.get(bus_key(ev["pci"]))
        where = f"gpu{gpu}" if gpu is not None else f"PCI {ev['pci']}"
        step = NEXT.get(ev["xid"], "drain; reboot the node and look the XID up in NVIDIA's XID catalog")
        results.append(critical(
            NAME, f"{where} XID {ev['xid']} ({MEANING.get(ev['xid'], 'see NVIDIA XID catalog')}) x{ev['count']}, "
                  f"expected no critical XID since boot: {step}",
            gpu=gpu, observed={"xid": ev["xid"], "count": ev["count"], "pci": ev["pci"]},
            expected={"critical_xids": []}, next_step=step, data={"line": ev["text"]}))
    notes, odd = [], []
    for ev in new:
        kind = classify(ev["xid"], classes)
        gpu = bus_to_gpu.get(bus_key(ev["pci"]))
        label = f"XID {ev['xid']} ({MEANING.get(ev['xid'], '?')}) on {'gpu%s' % gpu if gpu is not None else ev['pci']} x{ev['count']}"
        if kind == "job_caused":
            notes.append(f"{label}: caused by the job's code, not the node")
        elif kind == "informational":
            notes.append(f"{label}: informational")
        elif kind == "unclassified":
            odd.append((gpu, label, ev))
    for gpu, label, ev in odd:
        results.append(warn(NAME, f"{label}: not in the configured XID classes, expected none",
                            gpu=gpu, observed={"xid": ev["xid"]}, data={"line": ev["text"]},
                            next_step="look it up in NVIDIA's XID catalog and add it to health.xid"))
    if not results:
        text = "no critical XID since boot" + (f"; {'; '.join(notes)}" if notes else "")
        results.append(ok(NAME, text, data={"new": new} if new else None))
    elif notes:
        results.append(ok(NAME, "; ".join(notes), data={"new": [e for e in new if classify(e["xid"], classes) != "critical"]}))
    return results


@check(NAME)
def run(ctx) -> list[CheckResult]:
    records, boot, error = ctx.kernel_log()
    if error:
        return [unknown(NAME, error, next_step="run the check as root (the kernel log needs it)")]
    remembered = state.read(ctx.home, ctx.node, "kmsg")
    if remembered.get("boot_id") != boot:
        remembered = {"boot_id": boot}
    cursor = remembered.get("cursor")
    window = ctx.threshold("xid_window_s")
    up = None if boot.startswith("profile:") else kernel_log.uptime_s()
    window_start = (up - window) if (up is not None and window) else None
    new = dedupe(kernel_log.xids(select_new(records, cursor, window_start)))
    classes = ctx.cfg.get("health.xid")
    sticky = {(e["xid"], bus_key(e["pci"])): e for e in remembered.get("sticky", [])}
    for ev in new:
        if classify(ev["xid"], classes) == "critical":
            key = (ev["xid"], bus_key(ev["pci"]))
            if key in sticky:
                sticky[key]["count"] += ev["count"]
            else:
                sticky[key] = dict(ev, first_seen=time.time())
    bus_to_gpu = {bus_key(g.pci_bus_id): g.index for g in ctx.gpus().gpus if g.pci_bus_id}
    stamps = [r.ts for r in records if r.ts is not None]
    remembered.update({"cursor": {"ts": max(stamps) if stamps else None, "count": len(records)},
                       "sticky": list(sticky.values())})
    try:
        state.write(ctx.home, ctx.node, "kmsg", remembered)
    except OSError:
        pass
    return evaluate(new, list(sticky.values()), classes, bus_to_gpu)
