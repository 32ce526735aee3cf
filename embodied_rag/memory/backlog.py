"""Caption later: keyframes stored without a caption (no captioner was configured, or it failed: server down, bad
image) or without their embeddings are a backlog, worked through by ``embodied-rag caption`` and, periodically, by
the memory node.

Each keyframe is committed in its own transaction as soon as it is captioned, so a run that is killed loses at most
the batch in flight and the next run does only what remains. A failure is recorded per keyframe (attempts, last
error) and the keyframe stays in the backlog for a later run: nothing is dropped. Keyframes that failed least often
go first, so an image that always fails cannot starve the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from embodied_rag.memory.ingest import NO_DESCRIPTION, place_detections
from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.memory import Memory
from embodied_rag.models.protocols import Caption, Captioner, ImageEmbedder, TextEmbedder

log = logging.getLogger(__name__)


def needs_caption(kf: Keyframe) -> bool:
    """No text at all, but a picture a captioner can look at."""
    return not kf.text() and kf.image is not None


def needs_work(memory: Memory, kf: Keyframe, image_embedder: ImageEmbedder | None) -> bool:
    return (needs_caption(kf) or kf.id not in memory.leaves
            or (image_embedder is not None and kf.image is not None and kf.image_embedding is None))


def backlog_ids(memory: Memory, image_embedder: ImageEmbedder | None = None) -> list[int]:
    """Keyframes to caption or embed, those that failed least often first, then oldest first."""
    failures = memory.store.caption_failures()
    ids = [k for k, kf in memory.keyframes.items() if needs_work(memory, kf, image_embedder)]
    return sorted(ids, key=lambda k: (failures.get(k, (0, ""))[0], k))


@dataclass
class BacklogStats:
    captioned: int = 0  # got a caption (and its embeddings)
    embedded: int = 0  # had text, only embeddings were missing
    failed: int = 0  # caption failed in this run: kept, retried by a later run
    seconds: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "caption": 0.0, "embed": 0.0,
                                                                "commit": 0.0})


def _caption(captioner: Captioner, images: list[np.ndarray]) -> list[Caption]:
    """Captions of a batch; when the model raises, each image alone, so one bad image fails only itself."""
    try:
        return captioner.caption(images)
    except Exception as exc:  # noqa: BLE001 - any model failure is recorded per keyframe and retried later
        if len(images) == 1:
            return [Caption(text="", error=f"{type(exc).__name__}: {exc}")]
        return [c for im in images for c in _caption(captioner, [im])]


def caption_keyframes(memory: Memory, ids: list[int], text_embedder: TextEmbedder, captioner: Captioner,
                      image_embedder: ImageEmbedder | None = None, batch_size: int = 32,
                      on_done: Callable[[int], None] | None = None) -> BacklogStats:
    """Caption and embed these keyframes of a writable memory, in batches, committing each keyframe on its own;
    ``on_done(n)`` after each batch (a progress bar)."""
    stats = BacklogStats()
    cfg = memory.config.objects
    for start in range(0, len(ids), max(1, batch_size)):
        batch = [memory.keyframes[k] for k in ids[start:start + batch_size]]
        t0 = time.perf_counter()
        images = {kf.id: memory.store.read_image(kf.image) for kf in batch if kf.image is not None}
        stats.seconds["read"] += time.perf_counter() - t0
        errors: dict[int, str] = {kf.id: f"the image {kf.image} is missing or cannot be decoded"
                                  for kf in batch if kf.image is not None and images[kf.id] is None}
        to_caption = [kf for kf in batch if needs_caption(kf) and kf.id not in errors]
        t0 = time.perf_counter()
        captions = dict(zip([kf.id for kf in to_caption], _caption(captioner, [images[kf.id] for kf in to_caption])))
        stats.seconds["caption"] += time.perf_counter() - t0
        for kf in to_caption:
            cap = captions[kf.id]
            if not (cap.text or cap.name or cap.objects):
                errors[kf.id] = cap.error or f"{captioner.name} gave no caption"
                del captions[kf.id]
        t0 = time.perf_counter()
        new = {kf.id: _with_caption(kf, captions[kf.id]) if kf.id in captions else kf for kf in batch}
        reembed = [kf.id for kf in batch if kf.id in captions or kf.id not in memory.leaves]
        text_emb = dict(zip(reembed, text_embedder.embed_documents([new[k].text() or NO_DESCRIPTION
                                                                    for k in reembed])))
        image_emb: dict[int, np.ndarray] = {}
        if image_embedder is not None:
            want = [kf.id for kf in batch if kf.image_embedding is None and images.get(kf.id) is not None]
            if want:
                image_emb = dict(zip(want, image_embedder.embed_images([images[k] for k in want])))
        stats.seconds["embed"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        for kf in batch:
            if kf.id in text_emb or kf.id in image_emb:
                k = new[kf.id]
                observations = []
                cap = captions.get(kf.id)
                if cap is not None and cap.detections and cfg.enabled:
                    h, w = images[kf.id].shape[:2]  # boxes are in the pixels of the stored image it captioned
                    observations, _ = place_detections(cap.detections, w, h, None, None, kf.pose, cfg.max_depth_m)
                text = text_emb[kf.id] if kf.id in text_emb else memory.leaves.embedding(kf.id).copy()
                memory.update_text(kf.id, k.caption, k.name, k.objects, text, image_emb.get(kf.id), observations)
            if kf.id in errors:
                stats.failed += 1
                attempts = memory.record_caption_failure(kf.id, errors[kf.id])
                log.info("keyframe %d: no caption (attempt %d): %s", kf.id, attempts, errors[kf.id])
            elif kf.id in captions:
                stats.captioned += 1
            elif kf.id in text_emb or kf.id in image_emb:
                stats.embedded += 1
        stats.seconds["commit"] += time.perf_counter() - t0
        if on_done is not None:
            on_done(len(batch))
    return stats


def _with_caption(kf: Keyframe, cap: Caption) -> Keyframe:
    """The keyframe's text as the caption gives it (what the caption does not say is kept)."""
    return Keyframe(kf.id, kf.session, kf.stamp_ns, kf.pose, caption=cap.text, name=cap.name or kf.name,
                    objects=list(cap.objects or kf.objects))
