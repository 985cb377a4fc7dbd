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
