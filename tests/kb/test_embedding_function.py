"""The built collection really uses the offline MiniLM embedding: chromadb persists the function's
name and configuration, and the vectors it stored are our embedder's, not chromadb's default."""

from __future__ import annotations

import numpy as np


def _reopened_collection(store):
    """The collection as a fresh client sees it, with no embedding function passed in."""
    import chromadb
    from chromadb.config import Settings

    from slurm_diag.kb.embed import embedding_function
    from slurm_diag.kb.store import COLLECTION

    embedding_function("auto", store.root / "model")       # registers our function with chromadb
    client = chromadb.PersistentClient(path=str(store.chroma_dir),
                                       settings=Settings(anonymized_telemetry=False))
    return client.get_collection(COLLECTION)


def test_collection_names_the_offline_minilm_function(kb):
    _, store, _ = kb
    col = _reopened_collection(store)
    ef = col.configuration["embedding_function"]
    assert ef is not None and ef.name() == "sdiag-minilm-l6-v2"
    assert ef.get_config()["backend"] == store.backend
    assert col.metadata.get("hnsw:space") == "cosine"


def test_stored_vectors_are_our_embedders(kb):
    from slurm_diag.kb.embed import get_model

    _, store, entries = kb
    col = _reopened_collection(store)
    some = entries[:3]
    got = col.get(ids=[e.id for e in some], include=["embeddings", "documents"])
    stored = {i: np.asarray(v) for i, v in zip(got["ids"], got["embeddings"])}
    ours = get_model(store.backend, store.root / "model").embed([e.document() for e in some])
    assert ours.shape == (len(some), 384)
    for entry, vec in zip(some, ours):
        assert stored[entry.id].shape == (384,)
        assert np.allclose(stored[entry.id], vec, atol=1e-4), f"{entry.id} was embedded by another function"
    # a query text goes through the same function: the collection's own function gives our vector
    text = "NCCL WARN NET/IB : Got completion with error 12"
    model = get_model(store.backend, store.root / "model")
    from_collection = np.asarray(col.configuration["embedding_function"]([text])[0])
    assert np.allclose(from_collection, model.embed([text])[0], atol=1e-4)
