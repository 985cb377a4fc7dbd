"""Job logs are untrusted input: cap their size and strip control characters before any regex
or model sees them."""

from __future__ import annotations

import re

DEFAULT_MAX_BYTES = 256 * 1024
MAX_LINE_CHARS = 2000          # a regex never sees a longer line
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029]")
_ANSI = re.compile(r"\x1b\[[0-9;?]{0,32}[A-Za-z]")


def clean_text(text: str | bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Keep the last `max_bytes` (errors sit at the end of a log), drop ANSI colour codes and
    control characters, normalise line ends, and cut every line to MAX_LINE_CHARS."""
    if isinstance(text, bytes):
        text = text[-max_bytes:].decode("utf-8", errors="replace")
    elif len(text) > max_bytes:
        text = text[-max_bytes:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", _ANSI.sub("", text))
    return "\n".join(line[:MAX_LINE_CHARS] for line in text.split("\n"))


def binary_reason(data: bytes | str) -> str | None:
    """Why ``data`` is not a text log excerpt (NUL bytes, bytes that are not UTF-8, mostly control
    characters), or None when it is text. Binary must never become a knowledge-base entry."""
    if isinstance(data, str):
        if any("\udc80" <= ch <= "\udcff" for ch in data):    # bytes that were not UTF-8 (surrogateescape)
            return "bytes that are not UTF-8"
        if "\ufffd" in data:
            return "bytes that are not UTF-8 (U+FFFD replacement characters)"
        text = data
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"bytes that are not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
    if "\x00" in text:
        return f"a NUL byte at offset {text.index(chr(0))}"
    controls = len(_CONTROL.findall(_ANSI.sub("", text)))
    if text and controls > max(2, len(text) // 20):
        return f"{controls} control characters in {len(text)} (binary data)"
    return None


def as_log_text(data: bytes | str) -> str:
    """Log text from whatever arrived: bytes that are not UTF-8 become U+FFFD (a log may hold
    some; they are data to search, not a reason to fail)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return data.decode("utf-8", errors="replace")
