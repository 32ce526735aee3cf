"""Embeddings of fixed lists of texts (question prototypes, uses of things), computed once per embedder object and
shared by every retriever that uses it: a query node makes a new view of a memory as it grows, and re-embedding
hundreds of fixed texts each time took seconds (tens of seconds on a loaded machine) inside a question."""

from __future__ import annotations

import weakref

import numpy as np

from embodied_rag.models.protocols import TextEmbedder

_CACHE: dict[int, dict[str, np.ndarray]] = {}  # by id(embedder), dropped when the embedder is


def embedded(embedder: TextEmbedder, name: str, texts: list[str]) -> np.ndarray:
    """Unit rows embedding ``texts`` (one list per ``name``), computed on the first call for this embedder."""
    key = id(embedder)
    if key not in _CACHE:
        try:
            weakref.finalize(embedder, _CACHE.pop, key, None)
        except TypeError:  # an embedder that cannot be weakly referenced: embed every time
            return np.asarray(embedder.embed_documents(texts), dtype=np.float32)
        _CACHE[key] = {}
    per = _CACHE[key]
    rows = per.get(name)
    if rows is None or len(rows) != len(texts):
        rows = per[name] = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    return rows
