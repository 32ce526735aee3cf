import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from embodied_rag.config import KeyframeConfig
from embodied_rag.memory.keyframe_policy import KeyframePolicy
from embodied_rag.memory.pose import Pose, distance, rotation_angle, yaw_quaternion

S = 1_000_000_000


def run(policy, frames):
    kept = []
    for stamp, pose, text, image in frames:
        if policy.reason(stamp, pose, text, image):
            policy.accept(stamp, pose, text, image)
            kept.append(stamp)
    return kept


def test_reasons():
    p = KeyframePolicy(KeyframeConfig(min_distance_m=1.0, min_angle_deg=30, max_interval_s=5, caption_change=True))
    assert p.reason(0, Pose((0, 0, 0))) == "first"
    p.accept(0, Pose((0, 0, 0)))
    assert p.reason(S, Pose((0.5, 0, 0))) is None
    assert p.reason(S, Pose((1.5, 0, 0))) == "moved"
    assert p.reason(S, Pose((0, 0, 0), yaw_quaternion(math.radians(40)))) == "turned"
    assert p.reason(6 * S, Pose((0, 0, 0))) == "interval"
    assert p.reason(S, Pose((0, 0, 0)), "a new caption") == "caption"


def test_novelty_uses_cheap_thumbnails():
    p = KeyframePolicy(KeyframeConfig(min_distance_m=10, min_angle_deg=90, max_interval_s=100, novelty=True))
    rng = np.random.default_rng(1)
    a = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    b = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    p.accept(0, Pose((0, 0, 0)), "", a)
    assert p.reason(S, Pose((0, 0, 0)), "", a.copy()) is None
    assert p.reason(S, Pose((0, 0, 0)), "", b) == "novel"


@settings(max_examples=50, deadline=None)
@given(steps=st.lists(st.tuples(st.floats(0, 0.6), st.floats(-0.3, 0.3)), min_size=2, max_size=60))
def test_consecutive_keyframes_respect_thresholds(steps):
    cfg = KeyframeConfig(min_distance_m=1.0, min_angle_deg=20, max_interval_s=1e9, caption_change=False)
    frames, x, yaw = [], 0.0, 0.0
    for i, (dx, dyaw) in enumerate(steps):
        x += dx
        yaw += dyaw
        frames.append((i * S, Pose((x, 0, 0), yaw_quaternion(yaw)), "", None))
    poses = dict((s, p) for s, p, _, _ in frames)
    kept = run(KeyframePolicy(cfg), frames)
    assert kept[0] == 0
    for a, b in zip(kept, kept[1:]):
        moved = distance(poses[a], poses[b]) >= 1.0 or rotation_angle(poses[a], poses[b]) >= math.radians(20)
        assert moved
