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
    text_embedding: np.ndarray | None = None
    image_embedding: np.ndarray | None = None

    @property
    def xy(self) -> tuple[float, float]:
        return self.pose.position[0], self.pose.position[1]

    def text(self) -> str:
        """The text a keyframe is known by: name, caption and objects."""
        parts = [self.name, self.caption]
        if self.objects:
            parts.append("Objects: " + ", ".join(self.objects) + ".")
        return " ".join(p.strip() for p in parts if p and p.strip())
