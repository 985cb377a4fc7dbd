"""The built collection really uses the offline MiniLM embedding: chromadb persists the function's
name and configuration, and the vectors it stored are our embedder's, not chromadb's default."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture()
def reopened(kb):
    """The collection as a fresh client sees it, with no embedding function passed in."""
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient
    from chromadb.config import Settings

    from slurm_diag.kb.embed import embedding_function
    from slurm_diag.kb.index import COLLECTION

    _, store, entries = kb
    embedding_function("auto", store.root / "model")       # registers our function with chromadb
    SharedSystemClient.clear_system_cache()
    client = chromadb.PersistentClient(path=str(store.chroma_dir),
                                       settings=Settings(anonymized_telemetry=False, allow_reset=True))
    try:
        yield store, entries, client.get_collection(COLLECTION)
    finally:
        SharedSystemClient.clear_system_cache()             # the store opens its own client afterwards


def test_collection_names_the_offline_minilm_function(reopened):
    store, _, col = reopened
    ef = col.configuration["embedding_function"]
    assert ef is not None and ef.name() == "sdiag-minilm-l6-v2"
    assert ef.get_config()["backend"] == store.backend
    assert col.metadata.get("hnsw:space") == "cosine"


def test_stored_vectors_are_our_embedders(reopened):
    from slurm_diag.kb.embed import get_model

    store, entries, col = reopened
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
