"""Decides which frames become keyframes, cheaply and before any model runs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from embodied_rag.config import KeyframeConfig
from embodied_rag.memory.pose import Pose, distance, rotation_angle

_THUMB = (32, 24)


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A tiny normalised grey thumbnail: enough to tell a new view from the same one, at ~0.1 ms a frame."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, _THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
    return (small - small.mean()) / (small.std() + 1e-3)


@dataclass
class _Last:
    stamp_ns: int
    pose: Pose
    text: str
    thumb: np.ndarray | None


class KeyframePolicy:
    """A frame is a keyframe when the camera moved or turned enough, after a maximum interval, when its supplied
    caption changed, or (optionally) when its image looks different enough from the last keyframe's."""

    def __init__(self, config: KeyframeConfig):
        self.config = config
        self._last: _Last | None = None

    def reason(self, stamp_ns: int, pose: Pose, text: str = "", image: np.ndarray | None = None) -> str | None:
        """Why this frame should be a keyframe ("first", "moved", ...), or None to drop it."""
        last = self._last
        c = self.config
        if last is None:
            return "first"
        if distance(last.pose, pose) >= c.min_distance_m:
            return "moved"
        if rotation_angle(last.pose, pose) >= math.radians(c.min_angle_deg):
            return "turned"
        if abs(stamp_ns - last.stamp_ns) >= c.max_interval_s * 1e9:
            return "interval"
        if c.caption_change and text and text != last.text:
            return "caption"
        if c.novelty and image is not None and last.thumb is not None:
            # Correlation of normalised thumbnails: 1 for the same view, near 0 for an unrelated one.
            similarity = float(np.mean(thumbnail(image) * last.thumb))
            if similarity < c.novelty_max_similarity:
                return "novel"
        return None

    def accept(self, stamp_ns: int, pose: Pose, text: str = "", image: np.ndarray | None = None) -> None:
        """Record that this frame became a keyframe."""
        thumb = thumbnail(image) if (self.config.novelty and image is not None) else None
        self._last = _Last(stamp_ns, pose, text, thumb)
