"""Contiguous arrays of keyframe positions and text embeddings, grown in place for fast vector search."""

from __future__ import annotations

import numpy as np


class LeafIndex:
    """Keyframe id → row in a position matrix (N, 3) and a unit-norm embedding matrix (N, D)."""

    def __init__(self, dim: int | None = None, capacity: int = 1024):
        self.dim = dim
        self.n = 0
        self.ids = np.zeros(capacity, dtype=np.int64)
        self._pos = np.zeros((capacity, 3), dtype=np.float64)
        self._emb = np.zeros((capacity, dim or 1), dtype=np.float32)
        self.row: dict[int, int] = {}

    def _grow(self, need: int) -> None:
        cap = len(self.ids)
        if need <= cap:
            return
        new = max(need, cap * 2)
        self.ids = np.resize(self.ids, new)
        pos = np.zeros((new, 3), dtype=np.float64)
        pos[: self.n] = self._pos[: self.n]
        emb = np.zeros((new, self._emb.shape[1]), dtype=np.float32)
        emb[: self.n] = self._emb[: self.n]
        self._pos, self._emb = pos, emb

    def add(self, kf_id: int, position, embedding: np.ndarray) -> int:
        e = np.asarray(embedding, dtype=np.float32).ravel()
        if self.dim is None:
            self.dim = e.size
            self._emb = np.zeros((len(self.ids), self.dim), dtype=np.float32)
        if e.size != self.dim:
            raise ValueError(f"embedding has {e.size} dimensions, the memory uses {self.dim}")
        norm = float(np.linalg.norm(e))
        self._grow(self.n + 1)
        r = self.n
        self.ids[r] = kf_id
        self._pos[r] = position
        self._emb[r] = e / norm if norm > 0 else e
        self.row[kf_id] = r
        self.n += 1
        return r

    def update(self, kf_id: int, embedding: np.ndarray) -> np.ndarray:
        """Replace a keyframe's embedding (its caption came later); returns the old unit row."""
        r = self.row[kf_id]
        e = np.asarray(embedding, dtype=np.float32).ravel()
        if e.size != self.dim:
            raise ValueError(f"embedding has {e.size} dimensions, the memory uses {self.dim}")
        old = self._emb[r].copy()
        norm = float(np.linalg.norm(e))
        self._emb[r] = e / norm if norm > 0 else e
        return old

    def extend(self, kf_ids: np.ndarray, positions: np.ndarray, embeddings: np.ndarray) -> None:
        """Add many keyframes at once (as :meth:`add` one by one, without a Python call per keyframe)."""
        e = np.asarray(embeddings, dtype=np.float32)
        if self.dim is None:
            self.dim = e.shape[1]
            self._emb = np.zeros((len(self.ids), self.dim), dtype=np.float32)
        if e.shape[1] != self.dim:
            raise ValueError(f"embedding has {e.shape[1]} dimensions, the memory uses {self.dim}")
        m = len(kf_ids)
        self._grow(self.n + m)
        rows = slice(self.n, self.n + m)
        self.ids[rows] = kf_ids
        self._pos[rows] = positions
        norms = np.linalg.norm(e, axis=1, keepdims=True)
        self._emb[rows] = np.divide(e, norms, out=e.copy(), where=norms > 0)
        self.row.update(zip(np.asarray(kf_ids).tolist(), range(self.n, self.n + m)))
        self.n += m

    @property
    def positions(self) -> np.ndarray:
        return self._pos[: self.n]

    @property
    def embeddings(self) -> np.ndarray:
        return self._emb[: self.n]

    def position(self, kf_id: int) -> np.ndarray:
        return self._pos[self.row[kf_id]]

    def embedding(self, kf_id: int) -> np.ndarray:
        return self._emb[self.row[kf_id]]

    def __len__(self) -> int:
        return self.n

    def __contains__(self, kf_id: int) -> bool:
        return kf_id in self.row
