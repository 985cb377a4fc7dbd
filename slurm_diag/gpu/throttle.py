"""Clock-event (throttle) reason bits, decoded to names. Values are NVML's
``nvmlClocksEventReason*`` constants; kept here so decoding needs no NVML import."""

from __future__ import annotations

REASON_BITS = {
    "GPU_IDLE": 0x1,
    "APPLICATIONS_CLOCKS_SETTING": 0x2,
    "SW_POWER_CAP": 0x4,
    "HW_SLOWDOWN": 0x8,
    "SYNC_BOOST": 0x10,
    "SW_THERMAL_SLOWDOWN": 0x20,
    "HW_THERMAL_SLOWDOWN": 0x40,
    "HW_POWER_BRAKE_SLOWDOWN": 0x80,
    "DISPLAY_CLOCK_SETTING": 0x100,
}

# Reasons that mean the hardware is protecting itself: a GPU held here runs a job at a fraction
# of its speed and drags every rank of a synchronous job down with it.
HARMFUL = ("HW_SLOWDOWN", "HW_THERMAL_SLOWDOWN", "SW_THERMAL_SLOWDOWN", "HW_POWER_BRAKE_SLOWDOWN")


def decode(mask: int) -> tuple[str, ...]:
    names = [name for name, bit in REASON_BITS.items() if mask & bit]
    rest = mask & ~sum(REASON_BITS.values())
    if rest:
        names.append(f"UNKNOWN_0x{rest:x}")
    return tuple(names)


def encode(names) -> int:
    mask = 0
    for name in names:
        if name not in REASON_BITS:
            raise KeyError(name)
        mask |= REASON_BITS[name]
    return mask
