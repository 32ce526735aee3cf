"""A visual vocabulary learnt from the memory's own images, and VLAD global descriptors with it.

ORB descriptors (256 bits as ±1) are centred and projected by PCA to ``dims`` dimensions, then assigned to the
nearest of ``size`` k-means centres; the VLAD vector is the per-centre sum of residuals, power- and intra-normalised
and L2-normalised (``size * dims`` values; 32 x 64 = 2048 by default). Persisted as raw float32 arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from embodied_rag.memory.local_features import descriptor_bits

MAX_TRAINING_DESCRIPTORS = 40_000


@dataclass
class Vocabulary:
    mean: np.ndarray  # 256 float32
    projection: np.ndarray  # 256 x dims float32
    centres: np.ndarray  # size x dims float32
    trained_on: int = 0  # keyframes whose features it was trained on
    id: int = 0  # row id in the store (0: not stored)

    def __post_init__(self) -> None:
        self._half_norms = 0.5 * np.einsum("ij,ij->i", self.centres, self.centres)

    @property
    def dim(self) -> int:
        return int(self.centres.shape[0] * self.centres.shape[1])

    def encode(self, descriptors: np.ndarray) -> np.ndarray:
        """The VLAD vector (unit length; zeros for an image without features)."""
        size, dims = self.centres.shape
        if len(descriptors) == 0:
            return np.zeros(size * dims, np.float32)
        x = (descriptor_bits(descriptors) - self.mean) @ self.projection
        nearest = (x @ self.centres.T - self._half_norms).argmax(axis=1)
        counts = np.bincount(nearest, minlength=size).astype(np.float32)
        onehot = np.zeros((len(x), size), np.float32)
        onehot[np.arange(len(x)), nearest] = 1.0
        v = onehot.T @ x - counts[:, None] * self.centres  # per-centre sums of residuals
        v = np.sign(v) * np.sqrt(np.abs(v))
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        flat = v.ravel()
        return (flat / max(float(np.linalg.norm(flat)), 1e-12)).astype(np.float32)

    def to_blobs(self) -> tuple[bytes, bytes, bytes]:
        return tuple(np.ascontiguousarray(a, dtype="<f4").tobytes()
                     for a in (self.mean, self.projection, self.centres))  # type: ignore[return-value]

    @classmethod
    def from_blobs(cls, mean: bytes, projection: bytes, centres: bytes, size: int, dims: int, trained_on: int,
                   vocab_id: int) -> Vocabulary:
        def arr(b: bytes) -> np.ndarray:
            return np.frombuffer(b, dtype="<f4").astype(np.float32)

        return cls(arr(mean), arr(projection).reshape(-1, dims), arr(centres).reshape(size, dims), trained_on,
                   vocab_id)


def train_vocabulary(descriptor_sets: list[np.ndarray], size: int, dims: int, seed: int = 0) -> Vocabulary:
    """PCA and k-means on (a sample of) the descriptors of the memory's keyframes. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    everything = np.vstack([d for d in descriptor_sets if len(d)]) if any(len(d) for d in descriptor_sets) \
        else np.zeros((0, 32), np.uint8)
    if len(everything) > MAX_TRAINING_DESCRIPTORS:
        everything = everything[rng.choice(len(everything), MAX_TRAINING_DESCRIPTORS, replace=False)]
    x = descriptor_bits(everything)
    if len(x) < max(size, dims) * 2:
        raise ValueError(f"only {len(x)} local features to train a vocabulary of {size} x {dims}")
    mean = x.mean(axis=0)
    centred = x - mean
    # PCA from the 256 x 256 covariance (an SVD of the whole sample is ~100 times slower).
    values, vectors = np.linalg.eigh((centred.T @ centred).astype(np.float64))
    projection = np.ascontiguousarray(vectors[:, np.argsort(values)[::-1][:dims]], dtype=np.float32)
    z = (centred @ projection).astype(np.float32)
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 15, 1e-3)
    _, _, centres = cv2.kmeans(z, size, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    return Vocabulary(mean.astype(np.float32), projection, centres.astype(np.float32),
                      trained_on=sum(1 for d in descriptor_sets if len(d)))
