"""A tiny recording made on the spot: a walk through four rooms with posed images and the captions an external
captioner would publish, as a TUM-style folder. Used by the tests; the demo uses the simulator (embodied_rag.sim)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

ROOMS = [
    ("kitchen", ["fridge", "sink", "microwave"], "A small kitchen with a white fridge, a sink and a microwave.",
     (200, 200, 190)),
    ("office", ["desk", "monitor", "office chair"], "An office with a desk, a computer monitor and a chair.",
     (150, 170, 210)),
    ("lobby", ["vending machine", "sofa", "plant"], "A lobby with a vending machine selling drinks and a sofa.",
     (170, 140, 120)),
    ("bathroom", ["toilet", "sink", "mirror"], "A bathroom with a toilet, a washbasin and a mirror.",
     (210, 230, 230)),
]
# Optical frame of a camera looking along world +x (x right = -y, y down = -z, z forward = +x).
LOOK_ALONG_X = (-0.5, 0.5, -0.5, 0.5)


def _image(rng: np.random.Generator, wall: tuple[int, int, int], size: tuple[int, int]) -> np.ndarray:
    w, h = size
    img = np.empty((h, w, 3), dtype=np.uint8)
    img[: h // 2] = wall
    img[h // 2:] = (90, 80, 70)
    for _ in range(4):  # some furniture-like blocks so views differ
        x0, y0 = int(rng.integers(0, w - w // 5)), int(rng.integers(h // 4, h - h // 4))
        colour = [int(c) for c in rng.integers(0, 255, 3)]
        cv2.rectangle(img, (x0, y0), (x0 + w // 5, y0 + h // 5), colour, -1)
    return img


def write_example(root: Path, n_per_room: int = 6, spacing: float = 1.0, with_images: bool = True,
                  image_size: tuple[int, int] = (64, 48), seed: int = 0) -> Path:
    """Write a TUM-style folder (rgb.txt, groundtruth.txt, captions.jsonl, images/) walking through the rooms
    along x, rooms 20 m apart. Returns the folder."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    rgb, gt, caps = ["# timestamp filename"], ["# timestamp tx ty tz qx qy qz qw (camera-to-world, optical)"], []
    rng = np.random.default_rng(seed)
    q = LOOK_ALONG_X
    i = 0
    for r, (_room, objects, caption, wall) in enumerate(ROOMS):
        for j in range(n_per_room):
            t = 1000.0 + i * 1.0
            x, y = r * 20.0 + j * spacing, math.sin(j) * 0.3
            name = f"images/{i:05d}.jpg"
            if with_images:
                bgr = cv2.cvtColor(_image(rng, wall, image_size), cv2.COLOR_RGB2BGR)
                cv2.imwrite(str(root / name), bgr)
                rgb.append(f"{t:.6f} {name}")
            gt.append(f"{t:.6f} {x:.4f} {y:.4f} 1.2000 {q[0]} {q[1]} {q[2]} {q[3]}")
            caps.append(json.dumps({"timestamp": t, "image": name if with_images else None, "caption": caption,
                                    "objects": ", ".join(objects)}))
            i += 1
    if with_images:
        (root / "rgb.txt").write_text("\n".join(rgb) + "\n")
    (root / "groundtruth.txt").write_text("\n".join(gt) + "\n")
    (root / "captions.jsonl").write_text("\n".join(caps) + "\n")
    return root
