"""Query by image: "where was this photo taken?" -> the keyframe that saw the same view, with a confidence.

Classical visual place recognition built from the memory itself, no learned weights:
1. ORB features of the photo (``memory/local_features.py``) and its VLAD vector with the memory's own vocabulary
   (``memory/vocabulary.py``);
2. a shortlist of ``places.shortlist`` keyframes by VLAD similarity (one matrix-vector product over the index), widened
   by the nearest open_clip image embeddings when an image embedder is configured and keyframes have them;
3. geometric verification of the shortlist, best first: ratio-tested ORB matches and a RANSAC homography; the
   keyframe with the most inliers wins (the VLAD similarity breaks near ties). Verification stops early at a
   candidate with ``places.strong_inliers`` (once two were verified).
The confidence grows with the inliers and falls when a keyframe at another place verifies nearly as well; a place
is recognised with at least ``places.min_inliers`` inliers, twice those of any keyframe elsewhere, and (below
``places.strong_inliers``) 70 % of the ratio-tested matches. A photo with too
little texture for geometry may still be placed by its VLAD similarity alone when that stands out clearly (with a
confidence of at most 0.5, and the answer says so).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from embodied_rag.memory.local_features import LocalFeatures
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.place_index import PlaceIndex
from embodied_rag.retrieval.answer import Answer, kf_ref, node_ref
from embodied_rag.retrieval.goal import goal_for
from embodied_rag.retrieval.time_window import clock

MIN_MATCHES = 8  # fewer ratio-tested matches cannot support a homography worth counting
RATIO = 0.8  # Lowe's ratio test on Hamming distances
RANSAC_PX = 8.0  # reprojection threshold, pixels of the image_side-scaled images
GLOBAL_WEIGHT = 30.0  # inlier-equivalents of one unit of VLAD cosine (breaks near ties between candidates)
CONFIDENCE_SCALE = 25.0  # inliers at which confidence reaches 1 - 1/e (before the ambiguity factor)
# RANSAC finds 5-20 (at times up to ~50) "inliers" between photos of unrelated places: a place is recognised only
# when its inliers are at least this many times those of the best keyframe elsewhere (or of CHANCE_INLIERS).
# "Elsewhere" is farther than graph.proximity_radius_m: nearby keyframes see the same things (that is no rival).
RIVAL_RATIO = 2.0
CHANCE_INLIERS = 8
# Below places.strong_inliers, chance consensus (repeated patterns) shows as a low share of the ratio-tested matches
# in the homography: 0.38-0.73 for photos of other buildings, mostly 0.75-1.0 for re-shot photos of the same view.
MIN_INLIER_SHARE = 0.7
MIN_VERIFIED = 2  # candidates verified before stopping early, so that a rival is known
# Photos with too little texture for geometry (blurred white walls) are placed by appearance alone when the VLAD
# similarity of the best keyframe is at least APPEARANCE_MIN and APPEARANCE_RATIO times that of any keyframe
# elsewhere; their confidence is at most APPEARANCE_CONFIDENCE.
APPEARANCE_MIN = 0.2
APPEARANCE_RATIO = 2.0
APPEARANCE_CONFIDENCE = 0.5


class Shortlister(Protocol):
    """Anything that proposes candidate keyframes for a photo (VLAD, open_clip image embeddings, ...)."""

    def shortlist(self, image: np.ndarray, feats: LocalFeatures, k: int) -> list[tuple[int, float]]: ...


@dataclass
class Candidate:
    keyframe: int
    similarity: float  # global descriptor cosine
    inliers: int = 0
    matches: int = 0
    verified: bool = False


@dataclass
class PlaceMatch:
    """The recognised keyframe (None: not recognised), its confidence in [0, 1] and what it rests on."""

    keyframe: int | None
    confidence: float
    inliers: int
    features: int  # local features found in the photo
    candidates: list[Candidate] = field(default_factory=list)
    best_guess: int | None = None  # the closest keyframe even when not recognised
    timings_ms: dict[str, float] = field(default_factory=dict)
    by_appearance: bool = False  # placed by global appearance alone (geometry found too few features)


class VladShortlist:
    """Candidates by VLAD similarity over the memory's place index."""

    def __init__(self, index: PlaceIndex):
        self.index = index

    def shortlist(self, image: np.ndarray, feats: LocalFeatures, k: int) -> list[tuple[int, float]]:
        vocab = self.index.vocabulary
        if vocab is None or len(feats) == 0:
            return []
        return self.index.search(vocab.encode(feats.descriptors), k)


class ImageEmbeddingShortlist:
    """Candidates by open_clip image-embedding cosine (keyframes store their image embedding at ingest)."""

    def __init__(self, memory: Memory, embedder):
        self.embedder = embedder
        kfs = [kf for kf in memory.keyframes.values() if kf.image_embedding is not None]
        self.ids = np.array([kf.id for kf in kfs], dtype=np.int64)
        self.matrix = np.array([kf.image_embedding for kf in kfs], dtype=np.float32) if kfs else None

    def shortlist(self, image: np.ndarray, feats: LocalFeatures, k: int) -> list[tuple[int, float]]:
        if self.matrix is None or len(self.ids) == 0:
            return []
        q = np.asarray(self.embedder.embed_images([image])[0], dtype=np.float32)
        if q.shape[0] != self.matrix.shape[1]:
            return []  # keyframes embedded by another model: not comparable
        scores = self.matrix @ q
        top = np.argsort(-scores)[:k]
        return [(int(self.ids[i]), float(scores[i])) for i in top]


class PlaceRecognizer:
    def __init__(self, memory: Memory, index: PlaceIndex, extra: list[Shortlister] | None = None):
        self.memory = memory
        self.index = index
        self.config = memory.config.places
        self.shortlisters: list[Shortlister] = [VladShortlist(index), *(extra or [])]
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING)

    def recognise(self, image: np.ndarray) -> PlaceMatch:
        t0 = time.perf_counter()
        feats = self.index.extractor.extract(image)
        t1 = time.perf_counter()
        candidates: dict[int, Candidate] = {}
        for source in self.shortlisters:
            for kf_id, sim in source.shortlist(image, feats, self.config.shortlist):
                if kf_id not in candidates and kf_id in self.memory.keyframes:
                    # VLAD first, then the others' extra candidates (their similarity is on another scale).
                    candidates[kf_id] = Candidate(kf_id, sim if source is self.shortlisters[0] else 0.0)
        t2 = time.perf_counter()
        ranked = list(candidates.values())
        stored = self.memory.store.load_place_features([c.keyframe for c in ranked])
        for c in ranked:
            other = stored.get(c.keyframe)
            if other is None:
                other = self._features_of(c.keyframe)
            if other is None:
                continue
            c.inliers, c.matches = self.verify(feats, other)
            c.verified = True
            verified = sum(1 for x in ranked if x.verified)
            if verified >= MIN_VERIFIED and max(x.inliers for x in ranked) >= self.config.strong_inliers:
                break
        t3 = time.perf_counter()
        timings = {"features": (t1 - t0) * 1e3, "shortlist": (t2 - t1) * 1e3, "verify": (t3 - t2) * 1e3}
        if not ranked:
            return PlaceMatch(None, 0.0, 0, len(feats), [], None, timings)
        best = max(ranked, key=lambda c: c.inliers + GLOBAL_WEIGHT * c.similarity)
        rival = self.rival(best, ranked)
        confidence = self.confidence(best, rival)
        found = best.inliers >= max(self.config.min_inliers, RIVAL_RATIO * rival) and (
            best.inliers >= self.config.strong_inliers or best.inliers >= MIN_INLIER_SHARE * best.matches)
        if not found:
            look = self.by_appearance(ranked)
            if look is not None:
                return PlaceMatch(look[0].keyframe, look[1], look[0].inliers, len(feats), ranked, look[0].keyframe,
                                  timings, by_appearance=True)
        return PlaceMatch(best.keyframe if found else None, confidence, best.inliers, len(feats), ranked,
                          best.keyframe, timings)

    def by_appearance(self, ranked: list[Candidate]) -> tuple[Candidate, float] | None:
        """The VLAD favourite and its confidence, when it stands clearly above every keyframe elsewhere."""
        top = max(ranked, key=lambda c: c.similarity)
        if top.similarity < APPEARANCE_MIN:
            return None
        tx, ty = self.memory.keyframes[top.keyframe].xy
        radius = self.memory.config.graph.proximity_radius_m
        kfs = self.memory.keyframes
        elsewhere = max([0.05] + [c.similarity for c in ranked if math.hypot(
            kfs[c.keyframe].xy[0] - tx, kfs[c.keyframe].xy[1] - ty) > radius])
        if top.similarity < APPEARANCE_RATIO * elsewhere:
            return None
        return top, round(APPEARANCE_CONFIDENCE * (1.0 - elsewhere / top.similarity), 3)

    def _features_of(self, kf_id: int) -> LocalFeatures | None:
        """Features of a keyframe the store has none for (kept in RAM by a reader that could not write)."""
        kf = self.memory.keyframes[kf_id]
        image = self.memory.store.read_image(kf.image) if kf.image else None
        return self.index.extractor.extract(image) if image is not None else None

    def verify(self, query: LocalFeatures, other: LocalFeatures) -> tuple[int, int]:
        """(RANSAC homography inliers, ratio-tested matches) between two images' features."""
        if len(query) < MIN_MATCHES or len(other) < MIN_MATCHES:
            return 0, 0
        pairs = self._matcher.knnMatch(query.descriptors, other.descriptors, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
        if len(good) < MIN_MATCHES:
            return 0, len(good)
        src = query.points[[m.queryIdx for m in good]]
        dst = other.points[[m.trainIdx for m in good]]
        try:
            h, mask = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PX, maxIters=500)
        except cv2.error:
            return 0, len(good)
        if h is None or mask is None:
            return 0, len(good)
        return int(mask.sum()), len(good)

    def rival(self, best: Candidate, ranked: list[Candidate]) -> int:
        """Inliers of the best verified keyframe at another place (at least the chance level)."""
        bx, by = self.memory.keyframes[best.keyframe].xy
        kfs = self.memory.keyframes
        radius = self.memory.config.graph.proximity_radius_m
        return max([CHANCE_INLIERS] + [c.inliers for c in ranked if c is not best and c.verified and math.hypot(
            kfs[c.keyframe].xy[0] - bx, kfs[c.keyframe].xy[1] - by) > radius])

    @staticmethod
    def confidence(best: Candidate, rival: int) -> float:
        """1 - exp(-inliers / 25), scaled by how far the inliers stand above those of another place."""
        if best.inliers <= 0:
            return 0.0
        strength = 1.0 - math.exp(-best.inliers / CONFIDENCE_SCALE)
        distinct = max(0.0, 1.0 - rival / best.inliers)
        return round(float(strength * distinct), 3)


def place_answer(memory: Memory, match: PlaceMatch, where: Callable[[int], str]) -> Answer:
    """The answer to "where was this photo taken?": the keyframe's place in words, its goal pose (the keyframe's
    camera pose as a robot goal, as for any keyframe answer) and the confidence. ``where(kf_id)`` gives " in the
    lobby on the ground floor" or "". Not recognised: no goal, and the answer says why."""
    conf = match.confidence
    if match.keyframe is None:
        if match.features < MIN_MATCHES:
            text = (f"I cannot recognise a place in this photo: it shows too little texture ({match.features} local "
                    "features).")
            return Answer(text, "find", None, [], found=False, confidence=conf)
        guess = match.best_guess
        evidence = [kf_ref(guess)] if guess is not None else []
        near = where(guess) if guess is not None else ""
        text = (f"I do not recognise where this photo was taken: the closest view I hold{near} shares only "
                f"{match.inliers} consistent features with it (confidence {conf:.2f}).")
        return Answer(text, "find", None, evidence, found=False, confidence=conf)
    kf = memory.keyframes[match.keyframe]
    area = memory.forest.ancestors(kf.id)
    evidence = [kf_ref(kf.id)] + [node_ref(a.id) for a in area[:1]]
    stamp = clock(kf.stamp_ns, memory.config.retrieval.timezone)
    if match.by_appearance:
        text = (f"This looks like the place I saw{where(kf.id)} at {stamp}, judged by its overall appearance (too "
                f"few features matched to be sure; confidence {conf:.2f}).")
    else:
        text = (f"I recognise this place: I saw it{where(kf.id)} at {stamp} ({match.inliers} matching features, "
                f"confidence {conf:.2f}).")
    return Answer(text, "find", goal_for(memory, kf), evidence, 0, time_ns=kf.stamp_ns, confidence=conf)
