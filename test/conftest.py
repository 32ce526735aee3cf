"""Shared fixtures: the packaged text embedder (loaded once), the shared data sets, synthetic recordings."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


def dataset(name: str) -> Path:
    path = DATASETS / name
    if not path.is_dir():
        pytest.skip(f"shared data set {name} not found at ../shared/datasets/{name}")
    return path


@pytest.fixture(scope="session")
def minilm():
    from embodied_rag.models.text_embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


ROOMS = [
    ("kitchen", ["fridge", "sink", "microwave"], "A small kitchen with a white fridge, a sink and a microwave."),
    ("office", ["desk", "monitor", "office chair"], "An office with a desk, a computer monitor and a chair."),
    ("lobby", ["vending machine", "sofa", "plant"], "A lobby with a vending machine selling drinks and a sofa."),
    ("bathroom", ["toilet", "sink", "mirror"], "A bathroom with a toilet, a washbasin and a mirror."),
]


def write_tum_folder(root: Path, n_per_room: int = 6, spacing: float = 1.0, with_images: bool = True,
                     image_size: tuple[int, int] = (64, 48)) -> Path:
    """A TUM-style folder: a walk through four rooms along x, captions per frame, camera looking along +x."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    rgb, gt, caps = ["# timestamp filename"], ["# timestamp tx ty tz qx qy qz qw"], []
    # Optical frame looking along world +x: rotation with columns (x_opt, y_opt, z_opt) = (-y, -z, +x).
    q = (-0.5, 0.5, -0.5, 0.5)
    rng = np.random.default_rng(0)
    i = 0
    for r, (_room, objects, caption) in enumerate(ROOMS):
        for j in range(n_per_room):
            t = 1000.0 + i * 1.0
            x, y = r * 20.0 + j * spacing, math.sin(j) * 0.3
            name = f"images/{i:05d}.jpg"
            if with_images:
                img = (rng.random((image_size[1], image_size[0], 3)) * 255).astype(np.uint8)
                cv2.imwrite(str(root / name), img)
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


@pytest.fixture
def tum_folder(tmp_path: Path) -> Path:
    return write_tum_folder(tmp_path / "walk")
