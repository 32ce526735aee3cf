"""The simulator's object detector and depth camera, perfect or with the faults real ones have.

The renderer knows which object every pixel shows; the detector turns that into what a 2D detector reports (label,
box, score, colour) and the depth camera into what a depth sensor returns. :class:`SensorFaults` sets the rates of
real faults: missed objects, spurious boxes, confused labels, jittered boxes, depth noise and holes. The memory
never reads the simulator's ground truth: object positions come from these boxes, the depth and the poses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from embodied_rag.memory.detection import Detection
from embodied_rag.sim.building import Building


@dataclass(frozen=True)
class SensorFaults:
    """Fault rates. ``miss``: a visible object is not reported; ``spurious``: a frame gets a box with a random
    label where there is no such object; ``confuse``: a box gets a wrong label; ``box_jitter``: box edges move by
    this fraction of the box size (standard deviation); ``depth_noise``: relative depth error (standard deviation,
    per pixel); ``depth_holes``: share of the depth image that reads 0 (no return), in a few blobs."""

    miss: float = 0.0
    spurious: float = 0.0
    confuse: float = 0.0
    box_jitter: float = 0.0
    depth_noise: float = 0.0
    depth_holes: float = 0.0

    @staticmethod
    def realistic() -> SensorFaults:
        """About 10 % misses, 5 % spurious and confused labels, 5 % depth noise and holes."""
        return SensorFaults(miss=0.10, spurious=0.05, confuse=0.05, box_jitter=0.05, depth_noise=0.05,
                            depth_holes=0.05)

    @property
    def any(self) -> bool:
        return any(v > 0 for v in (self.miss, self.spurious, self.confuse, self.box_jitter, self.depth_noise,
                                   self.depth_holes))


def object_boxes(object_ids: np.ndarray, visible: dict[int, int]) -> dict[int, tuple[float, float, float, float]]:
    """Pixel box (x0, y0, x1, y1; x1/y1 exclusive) of each visible object in an object-id image."""
    out = {}
    for oid in visible:
        ys, xs = np.nonzero(object_ids == oid)
        if xs.size:
            out[oid] = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
    return out


class SimDetector:
    """Detections and depth of rendered frames, with :class:`SensorFaults` drawn from its own seed."""

    def __init__(self, building: Building, faults: SensorFaults | None = None, seed: int = 0):
        self.building = building
        self.faults = faults or SensorFaults()
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.classes = sorted({o.cls for o in building.objects})

    def detect(self, visible: dict[int, int], boxes: dict[int, tuple[float, float, float, float]], width: int,
               height: int) -> list[Detection]:
        """Detections of one frame, largest objects first."""
        f, rng = self.faults, self.rng
        out: list[tuple[float, Detection]] = []
        for oid, px in sorted(visible.items(), key=lambda kv: (-kv[1], kv[0])):
            if oid not in boxes or (f.miss and rng.random() < f.miss):
                continue
            obj = self.building.objects[oid]
            label = obj.cls
            if f.confuse and rng.random() < f.confuse:
                label = rng.choice([c for c in self.classes if c != obj.cls] or [obj.cls])
            box = self._jitter(boxes[oid], width, height)
            score = round(0.6 + 0.4 * min(1.0, px / (0.05 * width * height)), 3)
            out.append((px, Detection(label, box, score, {"colour": obj.colour})))
        if f.spurious and rng.random() < f.spurious and self.classes:
            w, h = rng.uniform(0.08, 0.4) * width, rng.uniform(0.08, 0.4) * height
            x0, y0 = rng.uniform(0, width - w), rng.uniform(0, height - h)
            label = rng.choice(self.classes)
            out.append((0, Detection(label, (x0, y0, x0 + w, y0 + h), round(rng.uniform(0.3, 0.6), 3), {})))
        return [d for _, d in out]

    def _jitter(self, box: tuple[float, float, float, float], width: int, height: int
                ) -> tuple[float, float, float, float]:
        j = self.faults.box_jitter
        if not j:
            return box
        x0, y0, x1, y1 = box
        bw, bh = x1 - x0, y1 - y0
        g = self.rng.gauss
        x0, x1 = sorted((x0 + g(0, j * bw), x1 + g(0, j * bw)))
        y0, y1 = sorted((y0 + g(0, j * bh), y1 + g(0, j * bh)))
        x0, y0 = max(0.0, x0), max(0.0, y0)
        x1, y1 = min(float(width), max(x1, x0 + 1)), min(float(height), max(y1, y0 + 1))
        return (round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1))

    def depth(self, depth: np.ndarray) -> np.ndarray:
        """The depth image as the sensor returns it: multiplicative noise, and holes (0) in a few blobs."""
        f = self.faults
        out = depth.astype(np.float32, copy=True)
        if f.depth_noise:
            out *= (1.0 + self.np_rng.normal(0.0, f.depth_noise, out.shape)).astype(np.float32)
        if f.depth_holes:
            h, w = out.shape
            target = f.depth_holes * out.size
            holed = 0
            while holed < target:
                bh = int(self.np_rng.integers(max(1, h // 12), max(2, h // 4)))
                bw = int(self.np_rng.integers(max(1, w // 12), max(2, w // 4)))
                y, x = int(self.np_rng.integers(0, h - bh + 1)), int(self.np_rng.integers(0, w - bw + 1))
                out[y:y + bh, x:x + bw] = 0.0
                holed += bh * bw
        out[out < 0] = 0.0
        return out
