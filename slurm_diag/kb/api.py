"""What the CLI and the diagnosis agent call: build, search, stats, add."""

from __future__ import annotations

from slurm_diag.kb import entries as entries_mod
from slurm_diag.kb.retrieve import Hit, query_text, rank
from slurm_diag.kb.sanitize import clean_text
from slurm_diag.kb.signatures import scan


def _cfg(cfg):
    if cfg is None:
        from slurm_diag import config
        cfg = config.load()
    return cfg


def open_store(cfg=None):
    from slurm_diag.kb.index import KbIndex

    return KbIndex(_cfg(cfg))


def build(cfg=None, rebuild: bool = False, store=None) -> dict:
    """Index the shipped and added entries (upsert changed, drop vanished; --rebuild starts over)."""
    import time

    cfg = _cfg(cfg)
    store = store or open_store(cfg)
    entries = entries_mod.load_all(cfg)
    start = time.perf_counter()
    with store.writing():
        if rebuild or not store.exists():
            store.rebuild(entries)
            info = {"indexed": len(entries), "removed": 0}
        else:
            info = store.sync(entries)
    info["seconds"] = round(time.perf_counter() - start, 2)
    info["rebuilt"] = bool(rebuild)
    return info


def ensure_built(cfg, store) -> None:
    """A fresh install builds the index on first use."""
    if not store.exists():
        with store.writing():
            if not store.exists():
                store.rebuild(entries_mod.load_all(cfg))


def search(text: str, top: int = 5, label: str | None = None, component: str | None = None,
           cfg=None, store=None, entries=None) -> list[Hit]:
    """Hybrid search over the knowledge base for a (untrusted) log excerpt or description."""
    from slurm_diag.schemas import ATTRIBUTION_LABELS
    from slurm_diag.errors import UsageError

    if label is not None and label not in ATTRIBUTION_LABELS:
        raise UsageError(f"unknown label {label!r}", hint="use one of: " + ", ".join(ATTRIBUTION_LABELS))
    cfg = _cfg(cfg)
    store = store or open_store(cfg)
    ensure_built(cfg, store)
    entries = entries if entries is not None else entries_mod.load_all(cfg)
    by_id = {e.id: e for e in entries}
    cleaned = clean_text(text, cfg.get("kb.max_log_bytes"))
    lines = [ln for ln in cleaned.split("\n") if ln.strip()]
    sig_hits = scan(lines, entries)
    where = {k: v for k, v in (("label", label), ("component", component)) if v}
    if len(where) > 1:
        where = {"$and": [{k: v} for k, v in where.items()]}
    vector = store.query(query_text(cleaned), max(top * 4, 20), where) if lines else []
    return rank(by_id, sig_hits, vector, top, label, component, cfg.get("kb.min_similarity"))


def stats(cfg=None, store=None) -> dict:
    from collections import Counter

    cfg = _cfg(cfg)
    store = store or open_store(cfg)
    entries = entries_mod.load_all(cfg)
    stamp = store.stamp()
    current = entries_mod.content_hash(entries)
    return {
        "entries": len(entries),
        "added": sum(1 for e in entries if e.source),
        "signatures": sum(len(e.signatures) for e in entries),
        "by_label": dict(sorted(Counter(e.label for e in entries).items())),
        "by_file": dict(sorted(Counter(e.origin.rsplit(":", 1)[0].rsplit("/", 1)[-1]
                                       for e in entries).items())),
        "index": {"path": str(store.chroma_dir), "built": store.exists(),
                  "indexed": stamp.get("count", 0),
                  "stale": store.exists() and stamp.get("content") != current,
                  "backend": cfg.get("kb.backend")},
    }
