"""A keyframe: where the robot stood, what it saw, and what that was called."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from embodied_rag.memory.pose import Pose


@dataclass
class Keyframe:
    id: int
    session: int
    stamp_ns: int
    pose: Pose
    caption: str = ""
    name: str = ""
    objects: list[str] = field(default_factory=list)
    image: str | None = None  # path relative to the memory directory
    source: str = ""  # where the frame came from (file name in a recording), for evaluation and provenance
    # Carried from ingest to the store; a Memory then holds it only as a unit row of its leaf matrix
    # (``memory.leaves.embedding(id)``; ``id in memory.leaves`` says whether there is one) and sets this to None.
    text_embedding: np.ndarray | None = None
    image_embedding: np.ndarray | None = None
    view_distance: float | None = None  # metres to what the camera centred on (from depth), when known

    @property
    def xy(self) -> tuple[float, float]:
        return self.pose.position[0], self.pose.position[1]

    def text(self) -> str:
        """The text a keyframe is known by: name, caption and objects."""
        parts = [self.name, self.caption]
        if self.objects:
            parts.append("Objects: " + ", ".join(self.objects) + ".")
        return " ".join(p.strip() for p in parts if p and p.strip())


def view_distance(depth: np.ndarray | None) -> float | None:
    """Median depth (m) of the central third of a depth image: how far away what the camera looked at was."""
    if depth is None or depth.ndim != 2 or depth.size == 0:
        return None
    h, w = depth.shape
    centre = depth[h // 3: 2 * h // 3 or h, w // 3: 2 * w // 3 or w]
    valid = centre[np.isfinite(centre) & (centre > 0.1)]
    return float(np.median(valid)) if valid.size >= max(4, centre.size // 10) else None
