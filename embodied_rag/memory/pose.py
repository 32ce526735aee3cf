"""Poses in the memory frame, their validation, composition and interpolation in time."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from embodied_rag.config import TransformConfig
from embodied_rag.errors import UserError

# Positions beyond this are treated as corrupt (no robot maps 100 km).
MAX_ABS_COORD_M = 1.0e5


class InvalidPose(ValueError):
    """A pose that cannot be used: NaN/inf, absurd coordinates or a zero quaternion."""


@dataclass(frozen=True)
class Pose:
    """Position (metres) and orientation quaternion (x, y, z, w) in a fixed frame."""

    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)

    @staticmethod
    def checked(position, orientation) -> Pose:
        """Validate and normalise; raises InvalidPose with a one-line reason."""
        p = np.asarray(position, dtype=float).reshape(3)
        q = np.asarray(orientation, dtype=float).reshape(4)
        if not np.all(np.isfinite(p)):
            raise InvalidPose(f"position is not finite: {p.tolist()}")
        if np.any(np.abs(p) > MAX_ABS_COORD_M):
            raise InvalidPose(f"position is out of range (>{MAX_ABS_COORD_M:g} m): {p.tolist()}")
        if not np.all(np.isfinite(q)):
            raise InvalidPose(f"orientation is not finite: {q.tolist()}")
        n = float(np.linalg.norm(q))
        if n < 1e-6:
            raise InvalidPose("orientation quaternion has zero length")
        q = q / n
        return Pose(tuple(float(v) for v in p), tuple(float(v) for v in q))

    @property
    def rotation(self) -> Rotation:
        return Rotation.from_quat(self.orientation)

    def compose(self, other: Pose) -> Pose:
        """self * other: ``other`` expressed in this pose's frame, mapped to this pose's parent frame."""
        r = self.rotation
        p = np.asarray(self.position) + r.apply(other.position)
        q = (r * other.rotation).as_quat()
        return Pose(tuple(float(v) for v in p), tuple(float(v) for v in q))

    def inverse(self) -> Pose:
        r = self.rotation.inv()
        p = -r.apply(self.position)
        return Pose(tuple(float(v) for v in p), tuple(float(v) for v in r.as_quat()))

    def view_direction(self, optical: bool = True) -> np.ndarray:
        """Unit vector the camera looks along (optical frames look along +z, body frames along +x)."""
        axis = np.array([0.0, 0.0, 1.0]) if optical else np.array([1.0, 0.0, 0.0])
        return self.rotation.apply(axis)

    def heading(self, optical: bool = True) -> float | None:
        """Yaw (rad, about world z) of the viewing direction; None when looking straight up or down."""
        d = self.view_direction(optical)
        if float(np.hypot(d[0], d[1])) < 1e-3:
            return None
        return float(np.arctan2(d[1], d[0]))


def rotation_angle(a: Pose, b: Pose) -> float:
    """Angle (rad) of the relative rotation between two poses."""
    return float((a.rotation.inv() * b.rotation).magnitude())


def distance(a: Pose, b: Pose) -> float:
    return float(np.linalg.norm(np.subtract(a.position, b.position)))


def yaw_quaternion(yaw: float) -> tuple[float, float, float, float]:
    q = Rotation.from_euler("z", yaw).as_quat()
    return tuple(float(v) for v in q)


class PoseBuffer:
    """Time-ordered poses; interpolates the pose at a stamp (linear position, slerp orientation)."""

    def __init__(self, max_gap_s: float, max_len: int = 100_000):
        self.max_gap_ns = int(max_gap_s * 1e9)
        self.max_len = max_len
        self._stamps: list[int] = []
        self._poses: list[Pose] = []

    def __len__(self) -> int:
        return len(self._stamps)

    def add(self, stamp_ns: int, pose: Pose) -> None:
        """Insert in stamp order (out-of-order poses are placed where they belong; duplicates replace)."""
        i = bisect.bisect_left(self._stamps, stamp_ns)
        if i < len(self._stamps) and self._stamps[i] == stamp_ns:
            self._poses[i] = pose
            return
        self._stamps.insert(i, stamp_ns)
        self._poses.insert(i, pose)
        if len(self._stamps) > self.max_len:
            del self._stamps[: len(self._stamps) - self.max_len]
            del self._poses[: len(self._poses) - self.max_len]

    def drop_before(self, stamp_ns: int) -> None:
        """Forget poses older than the one just before ``stamp_ns`` (keep one for interpolation)."""
        i = bisect.bisect_left(self._stamps, stamp_ns) - 1
        if i > 0:
            del self._stamps[:i]
            del self._poses[:i]

    @property
    def latest_stamp(self) -> int | None:
        return self._stamps[-1] if self._stamps else None

    def at(self, stamp_ns: int) -> Pose | None:
        """Pose at ``stamp_ns``, or None when no pose lies within the max gap on a usable side."""
        if not self._stamps:
            return None
        i = bisect.bisect_left(self._stamps, stamp_ns)
        if i < len(self._stamps) and self._stamps[i] == stamp_ns:
            return self._poses[i]
        if 0 < i < len(self._stamps):
            t0, t1 = self._stamps[i - 1], self._stamps[i]
            if t1 - t0 <= 2 * self.max_gap_ns:
                return interpolate(self._poses[i - 1], self._poses[i], (stamp_ns - t0) / (t1 - t0))
        # Not bracketed closely enough to interpolate: the nearest sample, if it is within the max gap.
        candidates = [j for j in (i - 1, i) if 0 <= j < len(self._stamps)]
        j = min(candidates, key=lambda k: abs(self._stamps[k] - stamp_ns))
        if abs(self._stamps[j] - stamp_ns) <= self.max_gap_ns:
            return self._poses[j]
        return None


def interpolate(a: Pose, b: Pose, t: float) -> Pose:
    """Pose a fraction ``t`` of the way from a to b."""
    p = (1.0 - t) * np.asarray(a.position) + t * np.asarray(b.position)
    slerp = Slerp([0.0, 1.0], Rotation.from_quat([a.orientation, b.orientation]))
    q = slerp([t]).as_quat()[0]
    return Pose(tuple(float(v) for v in p), tuple(float(v) for v in q))


def transform_pose(t: TransformConfig, what: str = "ingest.body_to_camera") -> Pose:
    """A configured transform as a Pose; a bad one is a one-sentence error naming the key."""
    try:
        return Pose.checked(t.translation, t.rotation_xyzw)
    except (InvalidPose, ValueError) as exc:
        raise UserError(f"Config key '{what}' is not a valid transform: {exc}.") from None
