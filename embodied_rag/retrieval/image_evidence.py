"""Images as retrieval evidence: open_clip text→image similarity fused with caption similarity.

Keyframes keep an open_clip image embedding when ``models.image_embedder`` is configured; a question is embedded a
second time by the same model's text tower, and each keyframe (and each area, by the image embeddings of its leaves)
gets a second similarity next to its caption's.

Calibration. The two similarities live on different scales: MiniLM query↔caption cosines spread over roughly
-0.1..0.8, CLIP text↔image cosines crowd into 0.15..0.35 with a spread a few times smaller. Added raw, captions would
swamp images (or, with another text model, the reverse). Each list is therefore turned into per-query z-scores, with
the mean and spread of that query's similarities over the memory's keyframes (a fixed sample of at most
``_SAMPLE`` of them, so a query costs the same at a million keyframes), and the two z-scores are averaged
(``retrieval.image_weight`` weighs the image one). Z-scores rather than rank fusion because the retriever's
thresholds (``min_score``, the nearest/choose margins, the mention bonus) and its area vote work on score
*differences*: the fused z-score is mapped back onto the caption scale (mean + z·spread of the caption
similarities), so a keyframe with a caption and no image keeps exactly its caption score, and one whose caption and
image agree keeps about it. A keyframe without a caption is scored by its image alone; in a memory with no captions
at all (camera only) there is no caption scale, and z-scores are mapped onto a typical one (``_REF_MEAN``,
``_REF_STD``: MiniLM question↔caption similarities on the shared data sets), so the same thresholds apply.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from embodied_rag.memory.forest import ForestNode
from embodied_rag.memory.memory import Memory
from embodied_rag.models.protocols import TextEmbedder

_SAMPLE = 4096  # keyframes whose similarities give a query's mean and spread
_MIN_STD = 1e-4  # below this a list carries no ranking (every caption empty, or one image repeated)
_REF_MEAN, _REF_STD = 0.12, 0.1  # the caption scale a memory without captions is put on
_AREAS = 4096  # areas whose image mean is kept (most recently used), as for the retriever's node cache


@dataclass
class FusedQuery:
    """One question's image-side vector and calibration (see the module docstring)."""

    vector: np.ndarray  # the question through the image model's text tower
    text_mean: float
    text_std: float
    image_mean: float
    image_std: float
    image_weight: float
    text_scale: bool  # captions give a scale (else every text similarity is ignored)

    def fuse(self, text: np.ndarray, image: np.ndarray, has_text: np.ndarray, has_image: np.ndarray) -> np.ndarray:
        """Fused scores on the caption scale, elementwise; an entry without text or image uses the other alone."""
        has_text = has_text & self.text_scale
        zt = (text - self.text_mean) / max(self.text_std, _MIN_STD)
        zi = (image - self.image_mean) / max(self.image_std, _MIN_STD)
        w = self.image_weight
        z = np.where(has_text & has_image, (1.0 - w) * zt + w * zi, np.where(has_image, zi, zt))
        if self.text_scale:
            return (self.text_mean + self.text_std * z).astype(np.float32)
        return (_REF_MEAN + _REF_STD * z).astype(np.float32)


class ImageEvidence:
    """Image embeddings aligned with the memory's leaf rows, area image means, and fused scoring."""

    def __init__(self, memory: Memory, embedder: TextEmbedder, image_weight: float = 0.5):
        self.memory = memory
        self.embedder = embedder  # the image model's text tower (open_clip's, or anything in its space)
        self.image_weight = image_weight
        self._n = 0
        self._img = np.zeros((0, embedder.dim), dtype=np.float32)
        self._has_image = np.zeros(0, dtype=bool)
        self._has_text = np.zeros(0, dtype=bool)
        self._areas: OrderedDict[int, tuple[tuple[int, int], np.ndarray, np.ndarray]] = OrderedDict()
        self._sample = np.zeros(0, dtype=np.int64)

    @staticmethod
    def usable(memory: Memory, embedder: object | None) -> bool:
        """Whether the memory holds image embeddings of this embedder's size."""
        if embedder is None or not hasattr(embedder, "embed_query"):
            return False
        dim = getattr(embedder, "dim", None)
        return any(kf.image_embedding is not None and kf.image_embedding.size == dim
                   for kf in memory.keyframes.values())

    def _sync(self) -> None:
        """Rows for keyframes added to the leaf index since the last query (a live memory grows)."""
        leaves = self.memory.leaves
        n = len(leaves)
        if n == self._n:
            return
        new_ids = leaves.ids[self._n:n]
        img = np.zeros((n - self._n, self._img.shape[1]), dtype=np.float32)
        has_image = np.zeros(n - self._n, dtype=bool)
        has_text = np.zeros(n - self._n, dtype=bool)
        for j, k in enumerate(new_ids.tolist()):
            kf = self.memory.keyframes[k]
            has_text[j] = bool(kf.text())
            e = kf.image_embedding
            if e is not None and e.size == img.shape[1]:
                norm = float(np.linalg.norm(e))
                if norm > 0:
                    img[j], has_image[j] = e / norm, True
        self._img = np.vstack([self._img, img])
        self._has_image = np.concatenate([self._has_image, has_image])
        self._has_text = np.concatenate([self._has_text, has_text])
        self._n = n
        self._sample = (np.arange(n) if n <= _SAMPLE else
                        np.sort(np.random.default_rng(0).choice(n, _SAMPLE, replace=False)))

    def query(self, text: str, text_vector: np.ndarray) -> FusedQuery:
        """Embed the question for images and calibrate both similarity lists on the memory's keyframes."""
        self._sync()
        v = np.asarray(self.embedder.embed_query(text), dtype=np.float32)
        rows = self._sample
        st = self.memory.leaves.embeddings[rows] @ text_vector
        si = self._img[rows] @ v
        t, i = self._has_text[rows], self._has_image[rows]
        text_scale = bool(t.sum() >= 2 and st[t].std() > _MIN_STD)
        return FusedQuery(v, float(st[t].mean()) if text_scale else 0.0, float(st[t].std()) if text_scale else 0.0,
                          float(si[i].mean()) if i.any() else 0.0, float(si[i].std()) if i.sum() >= 2 else 0.0,
                          self.image_weight, text_scale)

    def leaves(self, fq: FusedQuery, rows: np.ndarray, text_scores: np.ndarray) -> np.ndarray:
        """Fused scores of the keyframes at these leaf rows, given their caption similarities."""
        rows = np.asarray(rows, dtype=np.int64)
        return fq.fuse(text_scores, self._img[rows] @ fq.vector, self._has_text[rows], self._has_image[rows])

    def areas(self, fq: FusedQuery, nodes: list[ForestNode], text_scores: np.ndarray,
              exemplar_weight: float) -> np.ndarray:
        """Fused scores of areas: an area's image similarity is the better of its leaves' mean image embedding and
        its best exemplar's image (as for captions)."""
        mean = np.zeros((len(nodes), self._img.shape[1]), dtype=np.float32)
        image = np.zeros(len(nodes), dtype=np.float32)
        has = np.zeros(len(nodes), dtype=bool)
        for j, node in enumerate(nodes):
            m, ex = self._area(node)
            mean[j] = m
            has[j] = bool(m.any())
            if has[j]:
                image[j] = max(float(m @ fq.vector),
                               exemplar_weight * float((ex @ fq.vector).max()) if len(ex) else -1.0)
        # Areas carry captions when the memory does: their text similarity comes from their captioned leaves.
        return fq.fuse(text_scores, image, np.full(len(nodes), fq.text_scale), has)

    def _area(self, node: ForestNode) -> tuple[np.ndarray, np.ndarray]:
        """(unit mean image embedding, image embeddings of its exemplars), cached until the area changes."""
        key = (node.n, len(node.children))
        hit = self._areas.get(node.id)
        if hit is not None and hit[0] == key:
            self._areas.move_to_end(node.id)
            return hit[1], hit[2]
        self._sync()
        row = self.memory.leaves.row
        rows = np.array([row[k] for k in self.memory.forest.leaf_ids(node) if k in row], dtype=np.int64)
        rows = rows[self._has_image[rows]] if len(rows) else rows
        mean = self._img[rows].sum(axis=0) if len(rows) else np.zeros(self._img.shape[1], dtype=np.float32)
        norm = float(np.linalg.norm(mean))
        mean = mean / norm if norm > 0 else mean
        ex_rows = [row[e] for e in node.exemplar_ids if e in row and self._has_image[row[e]]]
        ex = self._img[ex_rows] if ex_rows else np.zeros((0, self._img.shape[1]), dtype=np.float32)
        self._areas[node.id] = (key, mean, ex)
        if len(self._areas) > _AREAS:
            self._areas.popitem(last=False)
        return mean, ex
