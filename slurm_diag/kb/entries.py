"""Knowledge-base entries: JSONL files, one entry per line, validated against
kb_entry.schema.json. A malformed line is reported as FILE:LINE and the field at fault."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from slurm_diag.errors import UsageError

SHIPPED_DIR = Path(__file__).resolve().parent / "content"   # package data: found from a wheel too
ADDED_FILE = "added.jsonl"     # under <home>/kb/: entries from `kb add`


class EntryError(UsageError):
    """A knowledge-base line is malformed; the message names file:line and the field."""


@dataclass(frozen=True)
class Entry:
    id: str
    problemkey: tuple[str, ...]
    rawtext: str
    function: str
    result: str
    label: str
    scope: str
    component: str
    severity: str
    signatures: tuple[str, ...]
    action: str
    source: dict | None = field(default=None, compare=False, hash=False)
    origin: str = field(default="", compare=False)      # file:line it came from

    @classmethod
    def from_dict(cls, doc: dict, origin: str = "") -> "Entry":
        return cls(id=doc["id"], problemkey=tuple(doc["problemkey"]), rawtext=doc["rawtext"],
                   function=doc["function"], result=doc["result"], label=doc["label"],
                   scope=doc["scope"], component=doc["component"], severity=doc["severity"],
                   signatures=tuple(doc["signatures"]), action=doc["action"],
                   source=doc.get("source"), origin=origin)

    def to_dict(self) -> dict:
        doc = {"id": self.id, "problemkey": list(self.problemkey), "rawtext": self.rawtext,
               "function": self.function, "result": self.result, "label": self.label,
               "scope": self.scope, "component": self.component, "severity": self.severity,
               "signatures": list(self.signatures), "action": self.action}
        if self.source:
            doc["source"] = self.source
        return doc

    def document(self) -> str:
        """The text that is embedded: keywords and symptoms (what a query log looks like)."""
        return f"{', '.join(self.problemkey)}. {self.rawtext}"


def _field_errors(doc, schema: bool = True) -> list[str]:
    """What is wrong with an entry: its fields against the schema (``schema``), then each signature
    as a pattern slurm-diag will compile."""
    from slurm_diag.kb.signatures import PatternError, vet_pattern

    if schema:
        from slurm_diag import schemas

        problems = schemas.errors("kb_entry", doc)
    else:
        problems = [] if isinstance(doc, dict) else ["(root): not an object"]
    if not problems and isinstance(doc, dict):
        for i, pattern in enumerate(doc.get("signatures", [])):
            try:
                vet_pattern(pattern)
            except PatternError as exc:
                problems.append(f"signatures/{i}: {exc}: {pattern!r}")
    return problems


def parse_line(text: str, origin: str, shipped: bool = False) -> Entry:
    """One entry line. ``shipped``: a line of slurm-diag's own content, whose fields the test suite
    holds to the schema (tests/kb/test_entries.py), so explain does not load jsonschema for it; its
    signatures are vetted like any other's."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EntryError(f"{origin}: not valid JSON (column {exc.colno}: {exc.msg})",
                         hint="each line must be one JSON object; fix or remove that line") from None
    problems = _field_errors(doc, schema=not shipped)
    if problems:
        raise EntryError(f"{origin}: " + "; ".join(problems[:5]),
                         hint="fix the field named above (schema: slurm_diag/schemas/kb_entry.schema.json)")
    try:
        return Entry.from_dict(doc, origin)
    except (KeyError, TypeError) as exc:
        raise EntryError(f"{origin}: a field is missing or of the wrong type ({exc})",
                         hint="fix the field named above (schema: slurm_diag/schemas/kb_entry.schema.json)") from None


def read_lines(path: Path, unreadable_hint: str = "check the file exists and is readable (mode 644) by the "
                                                 "users who run explain") -> list[str]:
    """The file's lines, line ends kept; EntryError when it cannot be read or is not UTF-8 text."""
    try:
        return path.read_text(encoding="utf-8").splitlines(keepends=True)
    except OSError as exc:
        raise EntryError(f"cannot read {path}: {exc.strerror}", hint=unreadable_hint) from None
    except UnicodeDecodeError:
        raise EntryError(f"{path}: expected UTF-8 JSON lines, found undecodable bytes",
                         hint="fix or remove the line that is not text") from None


def is_entry_line(line: str) -> bool:
    """Not blank and not a // comment."""
    return bool(line.strip()) and not line.lstrip().startswith("//")


def load_file(path: Path) -> list[Entry]:
    shipped = path.resolve().parent == SHIPPED_DIR
    return [parse_line(line, f"{path}:{n}", shipped) for n, line in enumerate(read_lines(path), 1)
            if is_entry_line(line)]


def content_dir(cfg=None) -> Path:
    configured = cfg.get("kb.content_dir") if cfg is not None else ""
    return Path(os.path.expanduser(configured)) if configured else SHIPPED_DIR


def added_path(cfg) -> Path:
    return cfg.home / "kb" / ADDED_FILE


def load_dir(directory: Path) -> list[Entry]:
    if not directory.is_dir():
        raise EntryError(f"knowledge-base directory {directory} does not exist",
                         hint="set kb.content_dir in the config to the directory holding *.jsonl")
    entries: list[Entry] = []
    for path in sorted(directory.glob("*.jsonl")):
        entries.extend(load_file(path))
    return entries


def check_unique(entries: list[Entry]) -> None:
    seen: dict[str, str] = {}
    for e in entries:
        if e.id in seen:
            raise EntryError(f"{e.origin}: id {e.id!r} already used at {seen[e.id]}",
                             hint="give every entry its own id")
        seen[e.id] = e.origin


def load_all(cfg=None) -> list[Entry]:
    """Shipped entries plus those added from confirmed attributions under <home>/kb/."""
    if cfg is None:
        from slurm_diag import config
        cfg = config.load()
    directory, extra = content_dir(cfg), added_path(cfg)
    files = sorted(directory.glob("*.jsonl")) if directory.is_dir() else []
    try:
        extra_stat = extra.stat()
    except PermissionError as exc:         # <home>/kb not enterable: the site's entries are unknown
        raise EntryError(f"cannot read {extra}: {exc.strerror}",
                         hint=f"make {extra.parent} readable (mode 755) by the users who run explain") from None
    except OSError:                        # no such file, or no such directory yet: none added
        extra_stat = None
    stats = [(p, _stat(p)) for p in files] + [(extra, extra_stat)]
    key = tuple((str(p), st.st_mtime_ns, st.st_size) for p, st in stats if st)
    cached = _CACHE.get(str(directory))
    if cached and cached[0] == key:
        return list(cached[1])
    entries = load_dir(directory)
    if extra_stat is not None:
        entries.extend(load_file(extra))
    check_unique(entries)
    _CACHE[str(directory)] = (key, tuple(entries))
    return entries


_CACHE: dict[str, tuple] = {}    # content dir -> (file stats, entries): a long-lived agent re-reads only on change


def _stat(path: Path):
    try:
        return path.stat()
    except OSError:
        return None


def content_hash(entries: list[Entry]) -> str:
    digest = hashlib.sha256()
    for e in sorted(entries, key=lambda x: x.id):
        digest.update(json.dumps(e.to_dict(), sort_keys=True).encode())
    return digest.hexdigest()[:16]
