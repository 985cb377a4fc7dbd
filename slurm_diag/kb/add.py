"""Closed loop: a confirmed attribution plus the log excerpt that showed it becomes a new entry
in <home>/kb/added.jsonl, de-duplicated by signature; one taught by mistake can be forgotten."""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timezone

from slurm_diag.errors import UsageError
from slurm_diag.kb import entries as entries_mod
from slurm_diag.kb.sanitize import binary_reason, clean_text
from slurm_diag.kb.signatures import PatternError, compiled, vet_pattern

ACTION_BY_LABEL = {
    "gpu_hardware": "drain", "node_failure": "drain", "network": "drain", "slow_node": "drain",
    "gpu_throttle": "drain", "filesystem": "notify_user", "scheduler": "none", "time_limit": "notify_user",
    "gpu_oom": "notify_user", "host_oom": "notify_user", "user_code": "notify_user",
    "software_env": "notify_user", "unknown": "none",
}
_TIMESTAMP = re.compile(r"^\s*(\[[^\]]{1,40}\]\s*|\d{4}-\d\d-\d\d[T ][\d:.,]+\S*\s*|[A-Z][a-z]{2}\s+\d+\s+[\d:]+\s+\S+\s+)")
_TASK_LABEL = re.compile(r"^\s*\d+:\s+")      # srun -l's task number before each line
_INTERESTING = re.compile(r"error|fail|fatal|xid|kill|exception|timeout|oom|abort|denied|panic", re.IGNORECASE)
_WARNING = re.compile(r"warn", re.IGNORECASE)     # only when no line says more: a warning is mostly noise
_WORD = re.compile(r"[A-Za-z][A-Za-z_]{2,}")


def _key_line(excerpt: str) -> str:
    lines = [ln.strip() for ln in excerpt.split("\n") if ln.strip()]
    if not lines:
        raise UsageError("the log excerpt is empty", hint="pass the log lines that showed the failure")
    for line in lines:                       # an error line that is not a warning
        if _INTERESTING.search(line) and not _WARNING.search(line):
            return line
    for line in lines:
        if _INTERESTING.search(line) or _WARNING.search(line):
            return line
    return lines[0]


def signature_from_excerpt(excerpt: str) -> str:
    """A safe regex for the excerpt's key line: timestamps dropped, numbers and hex generalised."""
    line = _TASK_LABEL.sub("", _TIMESTAMP.sub("", _key_line(excerpt)))[:160]
    parts = re.split(r"(\b0x[0-9a-fA-F]+\b|\b[0-9a-fA-F]*\d[0-9a-fA-F]*\b|\d+)", line)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(r"\d+" if part.isdigit() else
                       "0x[0-9a-fA-F]+" if part.lower().startswith("0x") else "[0-9a-fA-F]+")
        else:
            out.append(re.sub(r"(\\ )+", r"\\s+", re.escape(part)))
    pattern = "".join(out).strip()
    vet_pattern(pattern)
    return pattern


WHY_PLACEHOLDER = "WHAT IT IS AND WHAT FIXES IT"


def teach_command(line: str, job_id: str | None = None) -> str:
    """The `kb add` command an administrator completes to teach the cause of ``line`` (shell-quoted:
    the line is a job's output, untrusted)."""
    import shlex

    return (f"sdiag-agent kb add --label LABEL --scope SCOPE --job {shlex.quote(job_id or 'JOBID')} "
            f"--why {shlex.quote(WHY_PLACEHOLDER)} --text {shlex.quote(line)}")


def attribution_from_words(label: str, scope: str, why: str, next_steps: list[str] | None = None,
                           job_id: str | None = None) -> dict:
    """An Attribution for `kb add --label ... --scope ... --why ...`: an administrator's own verdict,
    confirmed by a person, so no engine or agent run is needed to teach the knowledge base."""
    why = " ".join((why or "").split())
    if why == WHY_PLACEHOLDER:
        raise UsageError("--why is still the template's placeholder",
                         hint="say in a sentence what the failure is and what fixes it")
    if len(why) < 10:
        raise UsageError(f"--why {why!r} is too short to tell the next user anything",
                         hint="say in a sentence what the failure is and what fixes it")
    return {"job_id": job_id, "label": label, "scope": scope, "component": label, "confidence": 1.0,
            "supporting": [], "contradicting": [], "explanation": why,
            "next_steps": [" ".join(step.split()) for step in next_steps or [] if step.strip()]}


def public_explanation(text: str) -> str:
    """An engine's or a model's explanation without the log it quotes: the engine writes "what it is:
    the line (where)", so the part before the first ": " (a site entry is read by every user, and
    the log is the job owner's). A person's own words (`kb add --label --why`) are kept whole."""
    return text.split(": ", 1)[0].split("\n", 1)[0].strip()


def entry_from_attribution(attribution: dict, excerpt: str, signature: str | None = None, *,
                           own_words: bool = False) -> dict:
    from slurm_diag import schemas

    problems = schemas.errors("attribution", attribution)
    if problems:
        raise UsageError("the attribution does not match attribution.schema.json: " + "; ".join(problems[:5]),
                         hint="pass the Attribution JSON the agent produced")
    why = binary_reason(excerpt)
    if why:
        raise UsageError(f"the log excerpt is not text: found {why}",
                         hint="pass the log lines that showed the failure, as UTF-8 text")
    excerpt = clean_text(excerpt, 8192).strip()
    if signature:
        try:
            vet_pattern(signature)
        except PatternError as exc:
            raise UsageError(f"--signature {signature!r}: {exc}", hint="give a simple one-line regex") from None
    else:
        try:
            signature = signature_from_excerpt(excerpt)
        except PatternError as exc:
            raise UsageError(f"no safe signature could be derived from the excerpt's key line ({exc})",
                             hint="pass --signature with a one-line regex for the line") from None
    shown = _matched_lines(excerpt, signature)
    if excerpt and not shown:
        raise UsageError(f"the signature {signature!r} does not match the excerpt",
                         hint="pass a signature that matches one of the excerpt's lines")
    label = attribution["label"]
    words = [w.lower() for w in _WORD.findall(f"{attribution['component']} {shown[0] if shown else ''}")]
    keys = list(dict.fromkeys([label, attribution["component"].lower(), *words]))[:10]
    digest = hashlib.sha1(signature.encode()).hexdigest()[:10]
    steps = " ".join(attribution.get("next_steps", []))
    why = attribution["explanation"] if own_words else public_explanation(attribution["explanation"])
    component = re.sub(r"[^a-z0-9_]", "_", attribution["component"].lower())[:40].strip("_") or "unknown"
    if not component[0].isalpha():
        component = "c_" + component[:37]
    entry = {
        "id": f"added-{label.replace('_', '-')}-{digest}",
        "problemkey": [k[:60] for k in keys if len(k) >= 2] or [label],
        "rawtext": "\n".join(shown) if len("\n".join(shown)) >= 10 else f"{' '.join(shown) or signature} ({label})",
        "function": "agent.attribution",
        "result": (f"{why} Next: {steps}" if steps else why)[:4000],
        "label": label, "scope": attribution["scope"], "component": component,
        "severity": "critical" if attribution["scope"] == "infra" else "warning",
        "signatures": [signature], "action": ACTION_BY_LABEL[label],
        "source": {"kind": "attribution", "job_id": attribution.get("job_id"),
                   "attribution_id": attribution.get("id"),
                   "added": datetime.now(timezone.utc).isoformat(timespec="seconds")},
    }
    if len(entry["result"]) < 10:
        entry["result"] = f"{label}: {entry['result']} (confirmed attribution)"
    return entry


def _matched_lines(excerpt: str, signature: str) -> list[str]:
    """The excerpt's lines the signature matches (the first three), the only log text an entry
    keeps: every user can read the site's entries (`kb search`, `explain`), and the rest of a job's
    log (its paths, its other output) is its owner's."""
    rx = compiled(signature)
    return [ln.strip()[:400] for ln in excerpt.split("\n") if ln.strip() and rx.search(ln)][:3]


def add(attribution: dict, excerpt: str, signature: str | None = None, cfg=None, store=None, *,
        own_words: bool = False) -> dict:
    """Append the entry unless an existing one already carries the same signature; index it."""
    from slurm_diag.kb.api import _cfg, ensure_built, open_store

    cfg = _cfg(cfg)
    entry = entry_from_attribution(attribution, excerpt, signature, own_words=own_words)
    store = store or open_store(cfg)
    ensure_built(cfg, store)
    with store.writing():
        existing = entries_mod.load_all(cfg)
        for other in existing:
            if entry["signatures"][0] in other.signatures:
                return {"added": False, "duplicate_of": other.id, "signature": entry["signatures"][0]}
        entries_mod.parse_line(json.dumps(entry), "new entry")     # validate before writing
        path = entries_mod.added_path(cfg)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
        store.upsert([entries_mod.Entry.from_dict(entry)],
                     content=entries_mod.content_hash(entries_mod.load_all(cfg)))
    overlaps = [other.id for other in existing
                if any(compiled(p).search(ln) for p in other.signatures for ln in excerpt.split("\n"))]
    return {"added": True, "id": entry["id"], "signature": entry["signatures"][0], "text": entry["rawtext"],
            "also_matched_by": overlaps}


def forget(entry_id: str, cfg=None, store=None) -> dict:
    """Remove one entry this site added (a cause taught by mistake) from <home>/kb/added.jsonl and
    the index. Shipped entries cannot be forgotten. The rest of the file must read cleanly first
    (nothing changes otherwise); its lines are kept as they were, and so is the file's mode."""
    import shutil

    from slurm_diag.kb.api import _cfg, open_store

    cfg = _cfg(cfg)
    path = entries_mod.added_path(cfg)
    store = store or open_store(cfg)
    with store.writing():
        lines = entries_mod.read_lines(path, "run this as the owner of the knowledge base (root or SlurmUser)") \
            if path.exists() else []
        keep, dropped = [], None
        for n, line in enumerate(lines, 1):
            if dropped is None and _entry_id(line) == entry_id:
                dropped = entries_mod.parse_line(line, f"{path}:{n}")     # a malformed one says so
                continue
            if entries_mod.is_entry_line(line):
                entries_mod.parse_line(line, f"{path}:{n}")              # the file must stay loadable
            keep.append(line)
        if dropped is None:
            shipped = any(e.id == entry_id for e in entries_mod.load_dir(entries_mod.content_dir(cfg)))
            raise UsageError(f"{entry_id} is not among the entries this site added ({path})"
                             + (": it is shipped with slurm-diag" if shipped else ""),
                             hint="only entries added with `kb add` can be forgotten; `kb gaps --all` and "
                                  "`explain` name them (added-...)")
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text("".join(keep), encoding="utf-8")
        shutil.copymode(path, tmp)
        if store.exists():
            remaining = [e for e in entries_mod.load_all(cfg) if e.id != entry_id]
            store.delete([entry_id], content=entries_mod.content_hash(remaining))
        os.replace(tmp, path)
    return {"forgotten": entry_id, "label": dropped.label, "signature": dropped.signatures[0]}


def _entry_id(line: str) -> str | None:
    try:
        doc = json.loads(line)
    except ValueError:
        return None            # a malformed line is not ours to judge: kept as it is
    return doc.get("id") if isinstance(doc, dict) else None
