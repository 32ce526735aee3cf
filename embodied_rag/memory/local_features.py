"""Local image features for place recognition: ORB keypoints and binary descriptors (OpenCV, no learned weights).

Images are turned grey and scaled to ``places.image_side`` on their longer side (up or down, so that a small or a
cropped photo is compared at the scale of the memory's keyframes). (Contrast equalisation, CLAHE, was tried: it
found features on flat walls but made them less distinctive, and lost 4-24 points of top-1 on cropped photos.)
Stored per keyframe as raw blobs: points float32 (N x 2, pixels of the scaled image) and descriptors uint8 (N x 32).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from embodied_rag.config import PlacesConfig

DESCRIPTOR_BYTES = 32


@dataclass
class LocalFeatures:
    points: np.ndarray  # N x 2 float32, pixels of the scaled grey image
    descriptors: np.ndarray  # N x 32 uint8 (256-bit ORB)
    size: tuple[int, int]  # (width, height) of the scaled image

    def __len__(self) -> int:
        return len(self.descriptors)

    def to_blobs(self) -> tuple[bytes, bytes]:
        return (np.ascontiguousarray(self.points, dtype="<f4").tobytes(),
                np.ascontiguousarray(self.descriptors, dtype=np.uint8).tobytes())

    @classmethod
    def from_blobs(cls, points: bytes, descriptors: bytes, width: int, height: int) -> LocalFeatures:
        pts = np.frombuffer(points, dtype="<f4").astype(np.float32).reshape(-1, 2)
        des = np.frombuffer(descriptors, dtype=np.uint8).reshape(-1, DESCRIPTOR_BYTES).copy()
        return cls(pts, des, (int(width), int(height)))


class FeatureExtractor:
    """ORB on a scaled, contrast-equalised grey image. One per process (OpenCV objects are reused)."""

    def __init__(self, config: PlacesConfig):
        self.side = int(config.image_side)
        # A FAST threshold below OpenCV's 20: blurred and dim photos still give corners.
        self._orb = cv2.ORB_create(nfeatures=int(config.max_features), fastThreshold=10)

    def grey(self, image: np.ndarray) -> np.ndarray:
        g = image if image.ndim == 2 else cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2GRAY)
        h, w = g.shape[:2]
        scale = self.side / max(h, w)
        if abs(scale - 1.0) > 1e-3:
            g = cv2.resize(g, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR)
        return np.ascontiguousarray(g, dtype=np.uint8)

    def extract(self, image: np.ndarray) -> LocalFeatures:
        """Features of an RGB (or grey) uint8 image."""
        g = self.grey(image)
        keypoints, descriptors = self._orb.detectAndCompute(g, None)
        size = (int(g.shape[1]), int(g.shape[0]))
        if descriptors is None or not keypoints:
            return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8), size)
        points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
        return LocalFeatures(points, descriptors, size)


def descriptor_bits(descriptors: np.ndarray) -> np.ndarray:
    """Binary descriptors as ±1 float32 vectors (N x 256), the space the vocabulary is trained in."""
    return np.unpackbits(np.asarray(descriptors, dtype=np.uint8), axis=1).astype(np.float32) * 2.0 - 1.0
