"""The ingest pipeline shared by the CLI build and the memory node: keyframe policy first (cheap), then captions
and embeddings in batches, then one committed transaction per keyframe."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from embodied_rag.io.frame import Frame, SkipLog
from embodied_rag.memory.detection import CameraModel, Detection
from embodied_rag.memory.keyframe import Keyframe, view_distance
from embodied_rag.memory.keyframe_policy import KeyframePolicy
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.objects import DEPTH, Observation, locate
from embodied_rag.memory.pose import Pose
from embodied_rag.models.protocols import Captioner, ImageEmbedder, TextEmbedder

log = logging.getLogger(__name__)

_TEXT_CACHE_MAX = 50_000  # distinct caption embeddings kept (~80 MB at 384-d)
NO_DESCRIPTION = "(no description)"  # what a keyframe without any text is embedded as


@dataclass
class IngestStats:
    frames: int = 0
    keyframes: int = 0
    dropped_by_policy: int = 0
    already_in_memory: int = 0  # frames of a resumed build that an earlier run committed (or dropped)
    observations: int = 0  # detections placed in the memory frame
    from_depth: int = 0  # of those, placed with depth (the rest at their viewpoint)
    reasons: Counter = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=lambda: Counter())

    def timed(self, stage: str, start: float) -> None:
        self.seconds[stage] += time.perf_counter() - start


def place_detections(detections: list[Detection], width: int, height: int, depth: np.ndarray | None,
                     camera: CameraModel | None, pose: Pose, max_depth_m: float
                     ) -> tuple[list[Observation], list[Detection]]:
    """(observations in the memory frame, detections whose box lies outside the ``width`` x ``height`` image)."""
    out, bad = [], []
    for d in detections:
        if d.valid(width, height):
            out.append(locate(d, depth, camera, pose, max_depth_m))
        else:
            bad.append(d)
    return out, bad


class Ingestor:
    """Turns frames into keyframes of a memory. ``offer`` is cheap; model work happens in ``flush``."""

    def __init__(self, memory: Memory, text_embedder: TextEmbedder, image_embedder: ImageEmbedder | None = None,
                 captioner: Captioner | None = None, skips: SkipLog | None = None, batch_size: int | None = None):
        self.memory = memory
        self.text_embedder = text_embedder
        self.image_embedder = image_embedder
        self.captioner = captioner
        self.skips = skips or SkipLog()
        self.policy = KeyframePolicy(memory.config.keyframes)
        self.batch_size = batch_size or memory.config.ingest.embed_batch_size
        self.pending: list[Frame] = []
        self.stats = IngestStats()
        self._last_stamp: int | None = None
        # Resume: frames up to this stamp were handled by an earlier run; they only replay the keyframe policy so
        # that the frames after them are judged exactly as an uninterrupted run would.
        self.replay_until_ns: int | None = None
        self._text_cache: dict[str, np.ndarray] = {}
        memory.bind_text_embedder(text_embedder.name, text_embedder.dim)

    def offer(self, frame: Frame) -> bool:
        """Apply the keyframe policy; queue the frame if it is a keyframe. Returns True when queued."""
        t0 = time.perf_counter()
        self.stats.frames += 1
        if self._last_stamp is not None and frame.stamp_ns < self._last_stamp:
            self.skips.skip("stamp_backwards",
                            f"frame at {frame.stamp_ns / 1e9:.3f} s is older than the last one "
                            f"({self._last_stamp / 1e9:.3f} s)")
            return False
        reason = self.policy.reason(frame.stamp_ns, frame.pose, frame.text(), frame.image)
        self.stats.timed("policy", t0)
        if self.replay_until_ns is not None and frame.stamp_ns <= self.replay_until_ns:
            self.stats.frames -= 1
            self.stats.already_in_memory += 1
            if reason is not None:
                self._last_stamp = frame.stamp_ns
                self.policy.accept(frame.stamp_ns, frame.pose, frame.text(), frame.image)
            return False
        if reason is None:
            self.stats.dropped_by_policy += 1
            return False
        self._last_stamp = frame.stamp_ns
        self.policy.accept(frame.stamp_ns, frame.pose, frame.text(), frame.image)
        self.stats.reasons[reason] += 1
        self.pending.append(frame)
        if len(self.pending) >= self.batch_size:
            self.flush()
        return True

    def flush(self) -> list[Keyframe]:
        """Caption, embed and commit all queued keyframes."""
        if not self.pending:
            return []
        frames, self.pending = self.pending, []
        failed: dict[int, str] = {}  # id(frame) -> why the captioner gave it no caption (retried by caption later)
        if self.captioner is not None:
            need = [f for f in frames if not f.text() and f.image is not None]
            if need:
                t0 = time.perf_counter()
                for f, cap in zip(need, self.captioner.caption([f.image for f in need])):
                    f.caption, f.name, f.objects = cap.text, cap.name or f.name, cap.objects or f.objects
                    f.detections = cap.detections or f.detections
                    if not f.text():
                        failed[id(f)] = cap.error or f"{self.captioner.name} gave no caption"
                self.stats.timed("caption", t0)
        t0 = time.perf_counter()
        texts = [f.text() or NO_DESCRIPTION for f in frames]
        text_emb = self._embed(texts)
        self.stats.timed("text_embedding", t0)
        image_emb: list[np.ndarray | None] = [None] * len(frames)
        if self.image_embedder is not None:
            with_image = [i for i, f in enumerate(frames) if f.image is not None and f.image.ndim == 3]
            if with_image:
                t0 = time.perf_counter()
                rows = self.image_embedder.embed_images([frames[i].image for i in with_image])
                for i, row in zip(with_image, rows):
                    image_emb[i] = row
                self.stats.timed("image_embedding", t0)
        t0 = time.perf_counter()
        out = []
        for f, te, ie in zip(frames, text_emb, image_emb):
            observations = self._observations(f)
            base = self.memory.base_pose(f.pose)
            if f.depth is not None and f.camera is not None:
                self.memory.free_space.add_depth(f.depth, f.camera, f.pose, base)
            else:
                self.memory.free_space.add_robot(base)
            kf = Keyframe(id=self.memory.next_id(), session=self.memory.session or 0, stamp_ns=f.stamp_ns,
                          pose=f.pose, caption=f.caption, name=f.name, objects=list(f.objects), source=f.source,
                          text_embedding=te, image_embedding=ie, view_distance=view_distance(f.depth))
            out.append(self.memory.add(kf, f.image, observations))
            if id(f) in failed and kf.image is not None:
                self.memory.record_caption_failure(kf.id, failed[id(f)])
        self.memory.save_free_space()
        self.stats.keyframes += len(out)
        self.stats.timed("store_and_forest", t0)
        return out

    def _observations(self, f: Frame) -> list[Observation]:
        """The frame's detections placed in the memory frame (with depth when it has it)."""
        cfg = self.memory.config.objects
        if not cfg.enabled or not f.detections:
            return []
        if f.camera is not None:
            w, h = f.camera.width, f.camera.height
        elif f.image is not None:
            h, w = f.image.shape[:2]
        else:
            w = h = 2**31
        out, bad = place_detections(f.detections, w, h, f.depth, f.camera, f.pose, cfg.max_depth_m)
        for d in bad:
            self.skips.skip("bad_detection", f"{f.source}: box {d.box} of '{d.label[:40]}' is outside the image")
        self.stats.observations += len(out)
        self.stats.from_depth += sum(o.source == DEPTH for o in out)
        return out

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts, each distinct text once: detector-style captions repeat a lot ("In a corridor. I see a
        fire extinguisher."), and the model is the expensive part of ingest."""
        new = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
        if new:
            if len(self._text_cache) + len(new) > _TEXT_CACHE_MAX:
                self._text_cache.clear()
            for t, e in zip(new, self.text_embedder.embed_documents(new)):
                self._text_cache[t] = e
        return np.array([self._text_cache[t] for t in texts], dtype=np.float32)

    def finish(self) -> None:
        """Flush the queue and record this session's counters."""
        self.flush()
        counts = dict(self.skips.counts)
        counts["frames"] = self.stats.frames
        counts["keyframes"] = self.stats.keyframes
        counts["dropped_by_policy"] = self.stats.dropped_by_policy
        if self.stats.already_in_memory:
            counts["already_in_memory"] = self.stats.already_in_memory
        if self.memory.session is not None:
            self.memory.store.add_counters(self.memory.session, counts)
