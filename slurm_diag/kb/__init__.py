"""Knowledge base of failure patterns: JSONL content in kb/content/, a chromadb index with offline
MiniLM embeddings, and hybrid retrieval (signature regexes first, then vector similarity).

`match_signatures` is pure regex and never imports chromadb; `search` builds the index on first
use. Heavy packages (chromadb, onnxruntime, torch) load only inside the functions that need them.
"""

from __future__ import annotations

from slurm_diag.kb.entries import Entry, EntryError, load_all
from slurm_diag.kb.retrieve import Hit
from slurm_diag.kb.signatures import SignatureHit
from slurm_diag.kb.signatures import match_signatures as _match_signatures


def match_signatures(text: str, entries=None, max_bytes: int | None = None) -> list[SignatureHit]:
    """Which knowledge-base signatures match this (untrusted) log text (the shipped and added
    entries unless ``entries`` is given). Pure regex; needs no chromadb."""
    return _match_signatures(text, load_all() if entries is None else entries, max_bytes)


def search(text: str, top: int = 5, label: str | None = None, component: str | None = None, cfg=None):
    from slurm_diag.kb.api import search as _search

    return _search(text, top=top, label=label, component=component, cfg=cfg)


def build(cfg=None, rebuild: bool = False) -> dict:
    from slurm_diag.kb.api import build as _build

    return _build(cfg, rebuild=rebuild)


__all__ = ["Entry", "EntryError", "Hit", "SignatureHit", "build", "load_all", "match_signatures", "search"]
