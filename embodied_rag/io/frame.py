"""What a reader yields: a posed frame with optional image and text, and a log of what was skipped and why."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from embodied_rag.memory.detection import CameraModel, Detection
from embodied_rag.memory.pose import Pose

log = logging.getLogger(__name__)


@dataclass
class Frame:
    stamp_ns: int
    pose: Pose  # camera pose in the memory frame
    image: np.ndarray | None = None  # RGB (or grey) uint8
    caption: str = ""
    name: str = ""
    objects: list[str] = field(default_factory=list)
    source: str = ""
    depth: np.ndarray | None = None  # metres, float32
    detections: list[Detection] = field(default_factory=list)  # boxes in the image's pixels
    camera: CameraModel | None = None  # intrinsics of the image (and of depth, scaled to its size)

    def text(self) -> str:
        parts = [self.name, self.caption]
        if self.objects:
            parts.append("Objects: " + ", ".join(self.objects) + ".")
        return " ".join(p.strip() for p in parts if p and p.strip())


class SkipLog:
    """Counts skipped inputs by reason and logs the first few of each kind as one clear line."""

    def __init__(self, max_lines_per_reason: int = 3):
        self.counts: Counter[str] = Counter()
        self.max_lines = max_lines_per_reason

    def skip(self, reason: str, detail: str) -> None:
        key = f"skipped:{reason}"
        self.counts[key] += 1
        n = self.counts[key]
        if n <= self.max_lines:
            log.warning("skipped (%s): %s", reason, detail)
        elif n == self.max_lines + 1:
            log.warning("skipped (%s): more of these follow; only counted from now on", reason)

    def count(self, name: str, n: int = 1) -> None:
        """Count something that is not a skip (e.g. frames dropped by the keyframe policy)."""
        self.counts[name] += n

    @property
    def skipped(self) -> int:
        return sum(v for k, v in self.counts.items() if k.startswith("skipped:"))
