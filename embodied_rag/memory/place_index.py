"""The place index of a memory: local features per keyframe, a vocabulary trained on them and one VLAD vector per
keyframe, in RAM as one matrix (searched with one matrix-vector product) and persisted in the store.

Built incrementally: ``Memory.add`` stores each keyframe's features (and its VLAD vector once a vocabulary exists);
the first vocabulary is trained after ``places.train_after`` keyframes, and again when the memory has grown
``places.retrain_growth`` times (at the end of a build, or at an image query when the memory can be written).
Memories built before any of this (or with ``places.enabled: false``) are indexed at their first image query, from
their keyframe JPEGs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from embodied_rag.config import PlacesConfig
from embodied_rag.errors import UserError
from embodied_rag.memory.local_features import FeatureExtractor, LocalFeatures
from embodied_rag.memory.vocabulary import Vocabulary, train_vocabulary

if TYPE_CHECKING:
    from embodied_rag.memory.memory import Memory
    from embodied_rag.memory.store import MemoryStore

log = logging.getLogger(__name__)


def _progress(items: list, desc: str, enabled: bool) -> Iterable:
    if not enabled or len(items) < 20:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="image", file=sys.stderr, dynamic_ncols=True, disable=None)


class PlaceIndex:
    """Global descriptors of a memory's keyframes for the shortlist of query by image."""

    def __init__(self, config: PlacesConfig):
        self.config = config
        self.extractor = FeatureExtractor(config)
        self.vocabulary: Vocabulary | None = None
        self._vocab_checked = False
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self._row: dict[int, int] = {}
        self._loaded = False  # the matrix holds what the store had for the current vocabulary
        self.unreadable: set[int] = set()  # keyframes whose JPEG could not be read

    def __len__(self) -> int:
        return len(self.ids)

    # -- writing (Memory.add) -------------------------------------------------------------------------------
    def current_vocabulary(self, store: MemoryStore) -> Vocabulary | None:
        if not self._vocab_checked:
            self.vocabulary = store.load_vocabulary()
            self._vocab_checked = True
        return self.vocabulary

    def on_add(self, store: MemoryStore, keyframe_id: int, feats: LocalFeatures) -> None:
        """Inside the caller's transaction: store a new keyframe's features and, with a vocabulary, its vector."""
        store.save_place_features(keyframe_id, feats)
        if getattr(store, "shared", False) and store.vocabulary_id() != (self.vocabulary.id if self.vocabulary
                                                                           else None):
            self._reset(store.load_vocabulary())  # another writer trained one: encode with it from now on
        vocab = self.current_vocabulary(store)
        if vocab is not None:
            vector = vocab.encode(feats.descriptors)
            store.save_place_descriptors(vocab.id, [(keyframe_id, vector)])
            if self._loaded:
                self._append([keyframe_id], vector[None, :])

    # -- in RAM ---------------------------------------------------------------------------------------------
    def _reset(self, vocab: Vocabulary | None) -> None:
        self.vocabulary = vocab
        self._vocab_checked = True
        dim = vocab.dim if vocab is not None else 0
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, dim), dtype=np.float32)
        self._row = {}
        self._loaded = False

    def _append(self, ids: list[int], vectors: np.ndarray) -> None:
        keep = [i for i, k in enumerate(ids) if k not in self._row]
        if not keep:
            return
        new_ids = np.array([ids[i] for i in keep], dtype=np.int64)
        start = len(self.ids)
        self.ids = np.concatenate([self.ids, new_ids])
        self.matrix = np.vstack([self.matrix, vectors[keep].astype(np.float32)]) if len(self.matrix) else \
            vectors[keep].astype(np.float32)
        for offset, k in enumerate(new_ids.tolist()):
            self._row[k] = start + offset

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` keyframes whose VLAD vectors are most similar (cosine), best first."""
        if len(self.ids) == 0:
            return []
        scores = self.matrix @ vector.astype(np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.ids[i]), float(scores[i])) for i in top]

    # -- keeping up to date ---------------------------------------------------------------------------------
    def indexable(self, memory: Memory) -> list[int]:
        """Keyframes with an image, in id order."""
        return [k for k, kf in memory.keyframes.items() if kf.image]

    def missing(self, memory: Memory) -> list[int]:
        """Keyframes with an image that the index in RAM does not cover yet."""
        if not self._loaded:
            return self.indexable(memory)
        return [k for k in self.indexable(memory) if k not in self._row and k not in self.unreadable]

    def stale(self, memory: Memory) -> bool:
        """The vocabulary was trained on a much smaller memory than this one."""
        vocab = self.vocabulary
        return vocab is not None and len(self.indexable(memory)) >= max(
            self.config.train_after, vocab.trained_on * self.config.retrain_growth)

    def load(self, store: MemoryStore) -> None:
        """Take the store's current vocabulary and the vectors made with it (cheap when nothing changed)."""
        stored = store.load_vocabulary()
        mine = self.vocabulary
        if stored is None and mine is not None and mine.id < 0 and self._loaded:
            return  # trained in RAM by this process (the store could not be written)
        if self._loaded and stored is not None and mine is not None and stored.id == mine.id:
            after = int(self.ids.max()) if len(self.ids) else 0
            ids, matrix = store.load_place_descriptors(stored.id, after_id=after)
            if ids:
                self._append(ids, matrix)
            return
        self._reset(stored)
        if stored is not None:
            ids, matrix = store.load_place_descriptors(stored.id)
            if ids:
                self._append(ids, matrix)
        self._loaded = True

    def needs_work(self, memory: Memory) -> bool:
        """After :meth:`load`: something to compute (and worth persisting)."""
        return bool(self.indexable(memory)) and (self.vocabulary is None or bool(self.missing(memory))
                                                 or self.stale(memory))

    def sync(self, memory: Memory, writer: MemoryStore | None, progress: bool = False) -> None:
        """Cover every keyframe with an image: load what the store has, compute the rest (features from the
        JPEG when there are none), train the vocabulary when there is none (or it is stale and ``writer`` is
        given), and persist what was computed through ``writer`` (None: keep it in RAM only)."""
        self.load(memory.store)
        if not self.indexable(memory):
            raise UserError(f"{memory.dir} holds no images (it was built from captions only, or with "
                            "store.save_images false), so it cannot recognise a photo; ask in words.")
        if self.vocabulary is None or (writer is not None and self.stale(memory)):
            self._train(memory, writer, progress)
            return
        todo = self.missing(memory)
        if not todo:
            return
        feats = self._features(memory, todo, writer, progress)
        rows = [(k, self.vocabulary.encode(f.descriptors)) for k, f in feats.items()]
        if rows:
            self._append([k for k, _ in rows], np.array([v for _, v in rows]))
            if writer is not None:
                with writer.transaction():
                    writer.save_place_descriptors(self.vocabulary.id, rows)

    def _features(self, memory: Memory, ids: list[int], writer: MemoryStore | None,
                  progress: bool) -> dict[int, LocalFeatures]:
        """Stored features of these keyframes; the others extracted from their JPEGs (and stored via writer)."""
        feats = memory.store.load_place_features(ids)
        todo = [k for k in ids if k not in feats]
        new: list[tuple[int, LocalFeatures]] = []
        for k in _progress(todo, "indexing images", progress):
            image = memory.store.read_image(memory.keyframes[k].image or "")
            if image is None:
                self.unreadable.add(k)
                continue
            f = self.extractor.extract(image)
            feats[k] = f
            new.append((k, f))
            if writer is not None and len(new) >= 200:
                self._save_features(writer, new)
                new = []
        if writer is not None and new:
            self._save_features(writer, new)
        if self.unreadable:
            log.warning("%d keyframe images of %s cannot be read; they cannot be recognised", len(self.unreadable),
                        memory.dir)
        return feats

    @staticmethod
    def _save_features(writer: MemoryStore, rows: list[tuple[int, LocalFeatures]]) -> None:
        with writer.transaction():
            for k, f in rows:
                writer.save_place_features(k, f)

    def _train(self, memory: Memory, writer: MemoryStore | None, progress: bool) -> None:
        started = self.vocabulary.id if self.vocabulary is not None else None
        ids = self.indexable(memory)
        feats = self._features(memory, ids, writer, progress)
        c = self.config
        try:
            vocab = train_vocabulary([f.descriptors for f in feats.values()], c.vocabulary_size, c.descriptor_dims)
        except ValueError:
            raise UserError(f"The images of {memory.dir} show too little texture to recognise places in them "
                            "(too few local features to learn from).") from None
        rows = [(k, vocab.encode(f.descriptors)) for k, f in feats.items()]
        if writer is not None:
            with writer.transaction():
                # Writers of one PostgreSQL memory may train at once: under the memory's lock, one that finds a
                # vocabulary trained since it began adopts it rather than replacing it (and its descriptors).
                stored = writer.load_vocabulary() if getattr(writer, "shared", False) else None
                if stored is not None and stored.id != started:
                    vocab = stored
                    rows = [(k, vocab.encode(f.descriptors)) for k, f in feats.items()]
                else:
                    writer.save_vocabulary(vocab)
                writer.save_place_descriptors(vocab.id, rows)
        else:
            vocab.id = -1  # in RAM only
        self._reset(vocab)
        self._append([k for k, _ in rows], np.array([v for _, v in rows]) if rows else np.zeros((0, vocab.dim)))
        self._loaded = True
        log.info("place vocabulary trained on %d keyframes", vocab.trained_on)

    def maybe_train(self, memory: Memory, progress: bool = False) -> None:
        """For a writable memory: train the first vocabulary once enough keyframes have features (or again when
        stale), and index what is missing."""
        if not memory.writable or not self.indexable(memory):
            return
        vocab = self.current_vocabulary(memory.store)
        if vocab is None and len(self.indexable(memory)) < self.config.train_after:
            return
        if vocab is None or self.stale(memory) or self.missing(memory):
            self.sync(memory, memory.store, progress)

