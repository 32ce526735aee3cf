"""A test-only surrogate for a CLIP model on simulated buildings (no CLIP weights exist offline).

It implements the ImageEmbedder and TextEmbedder protocols in one space, like open_clip: a question goes through the
packaged MiniLM (the "text tower"); an image is mapped to what the simulator rendered in it (the room it was taken
in and the coloured objects covering its pixels, from the renderer's ground truth, looked up by the image's own
pixels) and that description goes through MiniLM (the "image tower"). Unknown pixels are an error, never a guess.

Like a real CLIP, its image embeddings share a large common component (the "modality gap"): text↔image cosines
crowd into a narrow band far from the text↔text ones, so adding them raw to caption similarities would be wrong;
the retriever's per-query calibration has to handle it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np

from embodied_rag.io.frame import Frame
from embodied_rag.sim.tour import Tour

GAP = 0.9  # weight of the common component: the content part of an image embedding is sqrt(1 - GAP²) ≈ 0.44


def _digest(image: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest() + bytes(image.shape)


class SimVisionEmbedder:
    def __init__(self, text):
        self.text = text
        self.name = f"sim-vision:{text.name}"
        self.dim = text.dim
        self._seen: dict[bytes, str] = {}
        common = np.random.default_rng(12).standard_normal(self.dim).astype(np.float32)
        self._common = common / np.linalg.norm(common)

    def watch(self, tour: Tour) -> Iterator[Frame]:
        """The tour's frames, remembering what each rendered image shows (room type, visible objects by pixels)."""
        objs = tour.building.objects
        for i, frame in enumerate(tour):
            room = tour.base_poses[i].room
            place = tour.building.rooms[room].type if room >= 0 else "doorway"
            visible = sorted(tour.visible[i].items(), key=lambda t: -t[1])[:8]
            things = ", ".join(dict.fromkeys(f"{objs[o].colour} {objs[o].cls}" for o, _ in visible))
            self._seen[_digest(frame.image)] = f"a photo of a {place}" + (f" with {things}" if things else "")
            yield frame

    def describe(self, image: np.ndarray) -> str:
        return self._seen[_digest(image)]

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        content = self.text.embed_documents([self.describe(im) for im in images])
        return (np.sqrt(1.0 - GAP**2) * content + GAP * self._common).astype(np.float32)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self.text.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.text.embed_query(text)
