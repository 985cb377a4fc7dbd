"""The chromadb index of the knowledge base under <home>/kb/chroma.

One writer at a time (an exclusive flock on <home>/kb/write.lock). After every write the writer
bumps <home>/kb/stamp.json; readers compare the stamp before each query and reopen the client
when it changed, because a long-lived chromadb client misses or trips over another process's
writes.

A knowledge base shared read-only (another user's index, a read-only mount) is still searchable:
chromadb writes to its SQLite file even to read, so a reader that may not write the index opens a
private copy of it in a temporary directory (about a megabyte), removed when the process ends.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from slurm_diag.errors import EnvironmentProblem

COLLECTION = "sdiag_kb"


def _chromadb():
    try:
        import chromadb
        from chromadb.config import Settings
    except ImportError:
        raise EnvironmentProblem("chromadb is not installed", hint="pip install 'slurm-diag[kb]'") from None
    return chromadb, Settings


class KbIndex:
    def __init__(self, cfg):
        self.cfg = cfg
        self.root = cfg.home / "kb"
        configured = cfg.get("kb.chroma_dir")
        self.chroma_dir = Path(os.path.expanduser(configured)) if configured else self.root / "chroma"
        self.stamp_path = self.root / "stamp.json"
        self.backend = cfg.get("kb.backend")
        self._client = None
        self._collection = None
        self._seen_stamp: str | None = None

    # ---- stamp and lock -------------------------------------------------------------------
    def stamp(self) -> dict:
        try:
            return json.loads(self.stamp_path.read_text())
        except (OSError, ValueError):
            return {}

    def _bump(self, **info) -> None:
        doc = {**self.stamp(), **info, "token": uuid.uuid4().hex, "time": time.time()}
        tmp = self.stamp_path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, self.stamp_path)

    def writable(self) -> bool:
        """May this process write the index (the lock, the stamp and chromadb's files)?"""
        probe = self.chroma_dir if self.chroma_dir.exists() else self.root
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        files = [self.chroma_dir / "chroma.sqlite3", self.stamp_path]
        return (os.access(probe, os.W_OK) and os.access(self.root if self.root.exists() else probe, os.W_OK)
                and all(os.access(f, os.W_OK) for f in files if f.exists()))

    def _read_only_problem(self, exc: OSError | None = None) -> EnvironmentProblem:
        why = f"{exc.strerror or exc}" if exc is not None else "it is read-only for this user"
        return EnvironmentProblem(
            f"cannot create or write the knowledge base under {self.root} ({why})",
            hint=f"build it as the owner of {self.root} (readers can still search a built index), "
                 "or point SDIAG_HOME at a directory you may write")

    @contextlib.contextmanager
    def writing(self):
        """Hold the single-writer lock; on exit, publish the change to readers."""
        if not self.writable():
            raise self._read_only_problem()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = open(self.root / "write.lock", "w")
        except OSError as exc:
            raise self._read_only_problem(exc) from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self
            finally:
                self._close()

    # ---- client ---------------------------------------------------------------------------
    def _close(self) -> None:
        if self._client is not None:
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
        self._client = self._collection = None

    def embedding_function(self):
        from slurm_diag.kb.embed import embedding_function

        return embedding_function(self.backend, self.root / "model")

    def collection(self):
        """The collection, reopened when another process has written since we opened it."""
        token = self.stamp().get("token")
        if self._collection is not None and token != self._seen_stamp:
            self._close()
        if self._collection is None:
            chromadb, Settings = _chromadb()
            path = self.chroma_dir
            if self.writable():
                path.mkdir(parents=True, exist_ok=True)
            else:
                path = _private_copy(self.chroma_dir)
            self._client = chromadb.PersistentClient(
                path=str(path), settings=Settings(anonymized_telemetry=False, allow_reset=True))
            self._collection = self._client.get_or_create_collection(
                COLLECTION, embedding_function=self.embedding_function(),
                metadata={"hnsw:space": "cosine"})
            self._seen_stamp = token
        return self._collection

    def exists(self) -> bool:
        return bool(self.stamp().get("count"))

    # ---- writes (call inside `with store.writing():`) -------------------------------------
    def rebuild(self, entries) -> None:
        from slurm_diag.kb.entries import content_hash

        entries = list(entries)
        chromadb, Settings = _chromadb()
        self._close()
        self.chroma_dir.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(self.chroma_dir),
                                           settings=Settings(anonymized_telemetry=False, allow_reset=True))
        with contextlib.suppress(Exception):
            client.delete_collection(COLLECTION)
        self._client = client
        self._collection = client.create_collection(
            COLLECTION, embedding_function=self.embedding_function(), metadata={"hnsw:space": "cosine"})
        self.upsert(entries, content=content_hash(entries))

    def upsert(self, entries, batch: int = 256, content: str | None = None) -> None:
        col = self.collection()
        entries = list(entries)
        for start in range(0, len(entries), batch):
            chunk = entries[start:start + batch]
            col.upsert(ids=[e.id for e in chunk], documents=[e.document() for e in chunk],
                       metadatas=[{"label": e.label, "component": e.component, "scope": e.scope,
                                   "severity": e.severity} for e in chunk])
        self._bump(count=col.count(), **({"content": content} if content else {}))

    def sync(self, entries) -> dict:
        """Bring the index in line with `entries`: upsert changed ones, delete vanished ones."""
        from slurm_diag.kb.entries import content_hash

        col = self.collection()
        have = set(col.get(include=[])["ids"])
        want = {e.id for e in entries}
        gone = sorted(have - want)
        if gone:
            col.delete(ids=gone)
        self.upsert(entries, content=content_hash(entries))
        return {"indexed": len(want), "removed": len(gone)}

    def delete(self, ids: list[str], content: str | None = None) -> None:
        col = self.collection()
        col.delete(ids=list(ids))
        self._bump(count=col.count(), **({"content": content} if content else {}))

    # ---- reads ----------------------------------------------------------------------------
    def query(self, text: str, top: int, where: dict | None = None) -> list[tuple[str, float]]:
        col = self.collection()
        n = col.count()
        if n == 0:
            return []
        res = col.query(query_texts=[text], n_results=min(top, n), where=where or None,
                        include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]


def _private_copy(chroma_dir: Path) -> Path:
    """A copy of a read-only index that chromadb may write to; removed when the process ends."""
    if not (chroma_dir / "chroma.sqlite3").exists():
        raise EnvironmentProblem(f"no knowledge base index at {chroma_dir}, and this user may not build one there",
                                 hint=f"run `sdiag-agent kb build` as the owner of {chroma_dir.parent}, "
                                      "or point SDIAG_HOME at a directory you may write")
    scratch = Path(tempfile.mkdtemp(prefix="sdiag-kb-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    try:
        shutil.copytree(chroma_dir, scratch / "chroma")
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read the knowledge base index {chroma_dir}: {exc.strerror or exc}",
                                 hint="ask its owner to make it readable (o+rX), or point SDIAG_HOME at "
                                      "your own copy") from None
    return scratch / "chroma"
