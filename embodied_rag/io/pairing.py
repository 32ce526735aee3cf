"""Stamp pairing of live streams into posed frames, without ROS (the job ``message_filters`` does in C++ ROS).

The caller hands in stamped values as they arrive (images, poses, captions with their boxes, detections, depth
images, camera models), each call with a monotonic clock value in seconds; nothing here reads a clock, so the
waits are tested at any speed. Images wait in arrival order and leave as :class:`Paired` frames:

- **Pose**: the robot pose at the image's stamp, interpolated between the poses around it
  (``ingest.max_pose_gap_s``) and composed with ``ingest.body_to_camera``. An image waits until a pose at or after
  its stamp has arrived, at most ``pose_wait_s``; then it is paired with what there is (``no_pose`` when nothing is
  close enough).
- **Caption, detections, depth**: the nearest one within ``ingest.caption_max_gap_s`` of the image's stamp. An image
  without one waits only while the caller expects that stream (``expects(name)``, e.g. a publisher exists) and
  nothing stamped after the image's stamp plus the gap has arrived yet, at most ``side_wait_s``.
- **Camera**: the latest camera model (intrinsics rarely change).

At most ``image_buffer`` images wait; beyond that the oldest is dropped (``image_buffer_full``). Poses that no waiting
image can need are forgotten. Stamps may go backwards: such an image is paired like any other (the keyframe policy
decides what to do with it) and the poses kept reach back to what the oldest waiting image needs.

Skip reasons: ``image_buffer_full``, ``no_pose``, ``empty_caption``, ``bad_depth`` (the frame is kept without depth).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embodied_rag.config import IngestConfig
from embodied_rag.io.frame import Frame, SkipLog
from embodied_rag.io.images import BadImage
from embodied_rag.memory.detection import CameraModel, Detection
from embodied_rag.memory.pose import Pose, PoseBuffer, transform_pose

NS = 1_000_000_000
CAPTION = "caption"
DETECTIONS = "detections"
DEPTH = "depth"
STREAMS = (CAPTION, DETECTIONS, DEPTH)


@dataclass
class Caption:
    """What a captioner or detector said about the image with the same stamp."""

    text: str = ""
    objects: list[str] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)


@dataclass
class Paired:
    """A frame ready for the keyframe policy, with what the caller gave with its image (e.g. a compressed message
    whose pixels are decoded later, only for keyframes; ``frame.image`` is None then)."""

    frame: Frame
    payload: Any = None


@dataclass
class _Waiting:
    stamp: int
    topic: str
    arrived: float  # the caller's monotonic seconds
    image: np.ndarray | None
    payload: Any


class _Stream:
    """Recent stamped values of one side stream, paired with images by nearest stamp."""

    def __init__(self, max_len: int):
        self.items: deque[tuple[int, Any]] = deque(maxlen=max_len)

    def add(self, stamp: int, value: Any) -> None:
        self.items.append((stamp, value))

    def nearest(self, stamp: int, gap: int) -> Any | None:
        best, best_d = None, None
        for s, v in self.items:
            d = abs(s - stamp)
            if d <= gap and (best_d is None or d < best_d):
                best, best_d = v, d
        return best

    def passed(self, stamp: int, gap: int) -> bool:
        """True when the stream has moved past ``stamp``: the latest value is too late to pair with it."""
        return bool(self.items) and self.items[-1][0] > stamp + gap


class StampPairer:
    """Pairs stamped images with poses, captions, detections, depth and the camera model (see the module doc)."""

    def __init__(self, ingest: IngestConfig | None = None, *, pose_wait_s: float = 0.5, side_wait_s: float = 0.5,
                 image_buffer: int = 16, skips: SkipLog | None = None, expects: Callable[[str], bool] | None = None,
                 decode_depth: Callable[[Any], np.ndarray] | None = None, max_poses: int = 20_000,
                 max_captions: int = 512, max_depths: int = 16):
        self.ingest = ingest or IngestConfig()
        self.pose_wait_s = float(pose_wait_s)
        self.side_wait_s = float(side_wait_s)
        self.image_buffer = max(1, int(image_buffer))
        self.skips = skips or SkipLog()
        self.expects = expects or (lambda _name: False)
        self.decode_depth = decode_depth or (lambda d: d)
        self.body_to_camera: Pose = transform_pose(self.ingest.body_to_camera)
        self.gap_ns = int(self.ingest.caption_max_gap_s * NS)
        self.poses = PoseBuffer(self.ingest.max_pose_gap_s, max_len=max_poses)
        self.streams = {CAPTION: _Stream(max_captions), DETECTIONS: _Stream(max_captions), DEPTH: _Stream(max_depths)}
        self.camera: CameraModel | None = None
        self.waiting: deque[_Waiting] = deque()
        self.counts: Counter[str] = Counter()

    # -- inputs -------------------------------------------------------------------------------------------------
    def add_pose(self, stamp: int, pose: Pose, now: float) -> list[Paired]:
        """A (checked) robot pose in the memory frame."""
        self.counts["poses"] += 1
        self.poses.add(stamp, pose)
        return self.release(now)

    def add_caption(self, stamp: int, text: str, objects: Iterable[str], detections: Iterable[Detection],
                    now: float) -> list[Paired]:
        """A caption: free text, object labels and boxes; one with none of them is skipped (``empty_caption``)."""
        text = str(text).strip()
        labels = [str(o).strip() for o in objects if str(o).strip()]
        dets = list(detections)
        if not text and not labels and not dets:
            self.skips.skip("empty_caption", f"caption at {stamp / NS:.6f} s has no text and no objects")
            return []
        self.counts["captions"] += 1
        self.streams[CAPTION].add(stamp, Caption(text, labels, dets))
        return self.release(now)

    def add_detections(self, stamp: int, detections: Iterable[Detection], now: float) -> list[Paired]:
        """A detector's boxes for the image with this stamp (an empty list says it found nothing there)."""
        self.counts["detections"] += 1
        self.streams[DETECTIONS].add(stamp, list(detections))
        return self.release(now)

    def add_depth(self, stamp: int, depth: Any, now: float) -> list[Paired]:
        """A depth image: metres as an array, or anything ``decode_depth`` turns into one (decoded only when an
        image is paired with it)."""
        self.counts["depths"] += 1
        self.streams[DEPTH].add(stamp, depth)
        return self.release(now)

    def set_camera(self, camera: CameraModel) -> None:
        """The camera model of the images from now on."""
        self.camera = camera

    def add_image(self, stamp: int, topic: str, now: float, image: np.ndarray | None = None,
                  payload: Any = None) -> list[Paired]:
        """An image (decoded pixels, or None with a ``payload`` the caller decodes later) from ``topic``."""
        if len(self.waiting) >= self.image_buffer:
            old = self.waiting.popleft()
            self.counts["dropped_image_buffer"] += 1
            self.skips.skip("image_buffer_full", f"{old.topic}@{old.stamp}: no pose/caption in time and the "
                                                 "waiting buffer is full")
        self.waiting.append(_Waiting(stamp, topic, now, image, payload))
        return self.release(now)

    # -- pairing ------------------------------------------------------------------------------------------------
    def release(self, now: float) -> list[Paired]:
        """Pair the waiting images whose pose (and caption, detections, depth) is known or whose wait is over, in
        arrival order: one that must still wait holds back those behind it."""
        out: list[Paired] = []
        expected: dict[str, bool] = {}  # asked at most once per call (a graph query in ROS)
        while self.waiting:
            w = self.waiting[0]
            waited = now - w.arrived
            latest = self.poses.latest_stamp
            if (latest is None or latest < w.stamp) and waited < self.pose_wait_s:
                return out
            for name in STREAMS:
                stream = self.streams[name]
                if stream.nearest(w.stamp, self.gap_ns) is not None:
                    continue
                if name not in expected:
                    expected[name] = bool(self.expects(name))
                if expected[name] and not stream.passed(w.stamp, self.gap_ns) and waited < self.side_wait_s:
                    return out
            self.waiting.popleft()
            paired = self._pair(w)
            if paired is not None:
                out.append(paired)
        return out

    def _pair(self, w: _Waiting) -> Paired | None:
        robot = self.poses.at(w.stamp)
        if robot is None:
            self.skips.skip("no_pose", f"{w.topic}@{w.stamp}: no pose within {self.ingest.max_pose_gap_s:g} s of "
                                       f"{w.stamp / NS:.6f} s")
            return None
        # Interpolate the robot pose, then compose (as the bag reader does).
        pose = robot.compose(self.body_to_camera)
        # Forget poses no waiting image can need (stamps may go backwards: keep what the oldest one needs).
        oldest = min([w.stamp, *(x.stamp for x in self.waiting)])
        self.poses.drop_before(oldest - 2 * self.poses.max_gap_ns)
        caption: Caption = self.streams[CAPTION].nearest(w.stamp, self.gap_ns) or Caption()
        detections = list(caption.detections)
        detections += self.streams[DETECTIONS].nearest(w.stamp, self.gap_ns) or []
        frame = Frame(w.stamp, pose, w.image, caption.text, "", list(caption.objects), source=f"{w.topic}@{w.stamp}",
                      depth=self._depth_for(w.stamp), detections=detections, camera=self.camera)
        return Paired(frame, w.payload)

    def _depth_for(self, stamp: int) -> np.ndarray | None:
        raw = self.streams[DEPTH].nearest(stamp, self.gap_ns)
        if raw is None:
            return None
        try:
            return self.decode_depth(raw)
        except BadImage as exc:
            self.skips.skip("bad_depth", f"depth at {stamp / NS:.6f} s: {exc}; the frame is kept without depth")
            return None
