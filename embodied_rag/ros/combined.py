"""``embodied_rag_node``: the memory node and the query node in one process with one executor (small robots).

The text embedder is loaded once and shared; calls into it are serialised by a lock because the memory node's
worker thread and the query service may embed at the same time. Two executor threads: a slow query does not stall
the sensor callbacks, and each node's callbacks stay mutually exclusive among themselves.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from embodied_rag.api import Models
from embodied_rag.config import Config
from embodied_rag.ros.memory_node import MemoryNode, run_nodes
from embodied_rag.ros.query_node import QueryNode


class LockedEmbedder:
    """A text embedder whose calls are serialised (one model, two threads)."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> Any:
        with self.lock:
            return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> Any:
        with self.lock:
            return self.inner.embed_query(text)


def _models(config: Config) -> Models:
    from embodied_rag.models import registry

    return Models.for_ingest(config, text=LockedEmbedder(registry.create_text_embedder(config.models.text_embedder)))


def create_nodes() -> list[Any]:
    """Both nodes; the query node reuses the memory node's embedder (both read the same parameters)."""
    memory = MemoryNode(models_factory=_models)
    try:
        query = QueryNode(text_embedder=memory.models.text)
    except Exception:
        memory.close()
        raise
    return [memory, query]


def main(argv: list[str] | None = None) -> int:
    return run_nodes(create_nodes, argv, threads=2)


if __name__ == "__main__":
    sys.exit(main())
