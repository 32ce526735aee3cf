"""What an object detector reports for one image, and the pinhole camera that took it.

Detections come from a detector node (``embodied_rag_msgs/Caption`` boxes or ``vision_msgs/Detection2DArray``),
from captioners that return boxes, from label files (``labels.jsonl``) or from the simulator's detector; the camera
model comes from ``sensor_msgs/CameraInfo``. Boxes are pixel coordinates of the image they were detected in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CameraModel:
    """Pinhole intrinsics of a (rectified) image: focal lengths and principal point in pixels."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @staticmethod
    def from_k(width: int, height: int, k: Any) -> CameraModel | None:
        """From a row-major 3x3 K (``CameraInfo.k``); None when it is unusable (zero focal length, NaN)."""
        k = [float(v) for v in list(k)[:9]]
        if len(k) < 9 or width <= 0 or height <= 0 or not all(math.isfinite(v) for v in k):
            return None
        if k[0] <= 0 or k[4] <= 0:
            return None
        return CameraModel(int(width), int(height), k[0], k[4], k[2], k[5])

    @staticmethod
    def from_fov(width: int, height: int, fov_deg: float) -> CameraModel:
        """A camera of the given horizontal field of view with its principal point at the image centre."""
        f = (width / 2) / math.tan(math.radians(fov_deg) / 2)
        return CameraModel(width, height, f, f, width / 2, height / 2)

    def scaled(self, width: int, height: int) -> CameraModel:
        """The same camera for an image resized to ``width`` x ``height``."""
        sx, sy = width / self.width, height / self.height
        return CameraModel(width, height, self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy)

    @property
    def k(self) -> list[float]:
        """Row-major 3x3 K, as in ``CameraInfo.k``."""
        return [self.fx, 0.0, self.cx, 0.0, self.fy, self.cy, 0.0, 0.0, 1.0]

    def ray(self, u: float, v: float) -> np.ndarray:
        """Direction (optical frame, z = 1) through pixel (u, v)."""
        return np.array([(u - self.cx) / self.fx, (v - self.cy) / self.fy, 1.0])

    def to_json(self) -> dict[str, float]:
        return {"width": self.width, "height": self.height, "fx": self.fx, "fy": self.fy, "cx": self.cx,
                "cy": self.cy}


@dataclass(frozen=True)
class Detection:
    """One detected object: a class label, its pixel box (x0, y0, x1, y1), a score and optional attributes
    (e.g. ``{"colour": "red"}``)."""

    label: str
    box: tuple[float, float, float, float]
    score: float = 1.0
    attributes: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def colour(self) -> str:
        return self.attributes.get("colour", "")

    def valid(self, width: int, height: int) -> bool:
        """A usable box: finite, non-empty after clipping to the image, with a label."""
        x0, y0, x1, y1 = self.box
        if not self.label.strip() or not all(math.isfinite(v) for v in self.box):
            return False
        return min(x1, width) - max(x0, 0) >= 1 and min(y1, height) - max(y0, 0) >= 1

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "box": [round(v, 1) for v in self.box],
                               "score": round(self.score, 3)}
        if self.attributes:
            out["attributes"] = dict(self.attributes)
        return out

    @staticmethod
    def from_json(d: dict[str, Any]) -> Detection:
        attrs = {str(k): str(v) for k, v in (d.get("attributes") or {}).items()}
        if d.get("colour") and "colour" not in attrs:
            attrs["colour"] = str(d["colour"])
        box = tuple(float(v) for v in d["box"])
        if len(box) != 4:
            raise ValueError("a box needs 4 numbers")
        return Detection(str(d["label"]), box, float(d.get("score", 1.0)), attrs)  # type: ignore[arg-type]
