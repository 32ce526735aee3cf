"""Stamp pairing of live streams (embodied_rag.io.pairing) without ROS: a fake clock, plain values."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_rag.config import IngestConfig, TransformConfig
from embodied_rag.io.frame import SkipLog
from embodied_rag.io.images import BadImage
from embodied_rag.io.pairing import CAPTION, DEPTH, DETECTIONS, StampPairer
from embodied_rag.memory.detection import CameraModel, Detection
from embodied_rag.memory.pose import Pose

S = 1_000_000_000
MS = 1_000_000
T0 = 1_700_000_000 * S
IMG = np.zeros((4, 6, 3), np.uint8)
CHAIR = Detection("chair", (1.0, 1.0, 3.0, 3.0), 0.9, {"colour": "red"})


def pose(x: float) -> Pose:
    return Pose((x, 0.0, 0.0))


def walk(p: StampPairer, seconds: float, now: float = 0.0) -> None:
    """Poses every 0.1 s from T0 for ``seconds``, 1 m/s along x."""
    for i in range(int(round(seconds * 10)) + 1):
        p.add_pose(T0 + i * 100 * MS, pose(0.1 * i), now)


def pairer(expects: tuple[str, ...] = (), **kw) -> StampPairer:
    kw.setdefault("skips", SkipLog())
    return StampPairer(IngestConfig(max_pose_gap_s=0.5, caption_max_gap_s=0.1), pose_wait_s=0.5, side_wait_s=0.5,
                       expects=lambda name: name in expects, **kw)


def test_image_waits_for_the_pose_after_its_stamp_and_is_interpolated():
    p = pairer()
    assert p.add_pose(T0, pose(0.0), now=0.0) == []
    assert p.add_image(T0 + 100 * MS, "/cam", now=0.01, image=IMG) == []  # no pose at or after its stamp yet
    assert len(p.waiting) == 1
    (out,) = p.add_pose(T0 + 200 * MS, pose(2.0), now=0.02)
    f = out.frame
    assert f.stamp_ns == T0 + 100 * MS and f.image is IMG and f.source == f"/cam@{T0 + 100 * MS}"
    assert f.pose.position == pytest.approx((1.0, 0.0, 0.0))
    assert f.caption == "" and f.objects == [] and f.detections == [] and f.depth is None and f.camera is None
    assert not p.waiting and p.counts["poses"] == 2


def test_body_to_camera_is_composed_after_interpolation():
    ingest = IngestConfig(body_to_camera=TransformConfig([0.5, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]))
    p = StampPairer(ingest)
    p.add_pose(T0, pose(0.0), 0.0)
    (out,) = p.add_image(T0, "/cam", 0.0, IMG)
    assert out.frame.pose.position == pytest.approx((0.5, 0.0, 1.0))


def test_pose_wait_ends_in_wall_time_and_a_lone_image_has_no_pose():
    skips = SkipLog()
    p = pairer(skips=skips)
    p.add_pose(T0, pose(0.0), 0.0)
    assert p.add_image(T0 + 200 * MS, "/cam", now=1.0, image=IMG) == []
    assert p.release(now=1.4) == []  # still waiting
    (out,) = p.release(now=1.5)  # waited pose_wait_s: the nearest pose (0.2 s away, within the gap) is used
    assert out.frame.pose.position == pytest.approx((0.0, 0.0, 0.0))
    assert p.add_image(T0 + 2 * S, "/cam", now=2.0, image=IMG) == []
    assert p.release(now=3.0) == [] and not p.waiting  # released, but no pose within max_pose_gap_s
    assert skips.counts["skipped:no_pose"] == 1


def test_caption_and_its_detections_pair_by_nearest_stamp_within_the_gap():
    p = pairer()
    p.add_caption(T0 - 50 * MS, "farther", [], [], 0.0)
    p.add_caption(T0 + 20 * MS, "  A red chair.  ", ["chair", " ", ""], [CHAIR], 0.0)
    p.add_caption(T0 + 300 * MS, "too late", [], [], 0.0)
    walk(p, 1.0)
    (out,) = p.add_image(T0, "/cam", 0.0, IMG)
    f = out.frame
    assert f.caption == "A red chair." and f.objects == ["chair"]
    assert f.detections == [CHAIR] and f.detections[0].colour == "red"
    (out,) = p.add_image(T0 + 600 * MS, "/cam", 0.0, IMG)  # nothing within 0.1 s
    assert out.frame.caption == "" and out.frame.detections == []
    assert p.counts["captions"] == 3


def test_a_caption_with_only_boxes_counts_and_an_empty_one_is_skipped():
    skips = SkipLog()
    p = pairer(skips=skips)
    p.add_caption(T0, "", ["  "], [], 0.0)
    assert skips.counts["skipped:empty_caption"] == 1
    p.add_caption(T0, "", [], [CHAIR], 0.0)
    assert p.counts["captions"] == 1


def test_detections_pair_like_captions_and_add_to_the_caption_boxes():
    table = Detection("table", (0.0, 0.0, 5.0, 4.0), 0.7)
    p = pairer()
    walk(p, 1.0)
    p.add_caption(T0, "A chair.", [], [CHAIR], 0.0)
    p.add_detections(T0 + 30 * MS, [table], 0.0)
    p.add_detections(T0 + 500 * MS, [Detection("bed", (0, 0, 1, 1))], 0.0)
    (out,) = p.add_image(T0, "/cam", 0.0, IMG)
    assert out.frame.detections == [CHAIR, table]
    assert p.counts["detections"] == 2


def test_depth_pairs_by_nearest_stamp_and_is_decoded_only_then():
    decoded = []

    def decode(raw):
        if raw == "corrupt":
            raise BadImage("data has 3 bytes")
        decoded.append(raw)
        return np.full((2, 3), float(raw), np.float32)

    skips = SkipLog()
    p = pairer(skips=skips, decode_depth=decode)
    for i, raw in enumerate(["1", "2", "3"]):
        p.add_depth(T0 + i * 100 * MS, raw, 0.0)
    p.add_depth(T0 + S, "corrupt", 0.0)
    walk(p, 2.0)
    assert decoded == []
    (out,) = p.add_image(T0 + 130 * MS, "/cam", 0.0, IMG)
    assert decoded == ["2"] and out.frame.depth.shape == (2, 3) and float(out.frame.depth[0, 0]) == 2.0
    (out,) = p.add_image(T0 + 700 * MS, "/cam", 0.0, IMG)  # no depth within 0.1 s
    assert out.frame.depth is None
    (out,) = p.add_image(T0 + S, "/cam", 0.0, IMG)  # a corrupt depth: the frame is kept without it
    assert out.frame.depth is None and skips.counts["skipped:bad_depth"] == 1


def test_frames_take_the_latest_camera_model():
    p = pairer()
    walk(p, 1.0)
    (out,) = p.add_image(T0, "/cam", 0.0, IMG)
    assert out.frame.camera is None
    cam = CameraModel.from_k(6, 4, [5.0, 0, 3.0, 0, 5.0, 2.0, 0, 0, 1])
    p.set_camera(cam)
    (out,) = p.add_image(T0 + 10 * MS, "/cam", 0.0, IMG)
    assert out.frame.camera == cam and (out.frame.camera.fx, out.frame.camera.cx) == (5.0, 3.0)


@pytest.mark.parametrize("stream", [CAPTION, DETECTIONS, DEPTH])
def test_images_wait_for_an_expected_stream_until_it_comes_passes_or_the_wait_ends(stream):
    def send(p: StampPairer, stamp: int, now: float):
        if stream == CAPTION:
            return p.add_caption(stamp, "A hall.", [], [], now)
        if stream == DETECTIONS:
            return p.add_detections(stamp, [CHAIR], now)
        return p.add_depth(stamp, np.ones((2, 2), np.float32), now)

    def has_it(out) -> bool:
        f = out.frame
        return {CAPTION: f.caption == "A hall.", DETECTIONS: f.detections == [CHAIR],
                DEPTH: f.depth is not None}[stream]

    p = pairer(expects=(stream,))
    walk(p, 10.0)
    # 1. It comes: the image leaves with it.
    assert p.add_image(T0, "/cam", now=0.0, image=IMG) == []
    (out,) = send(p, T0 + 50 * MS, now=0.1)
    assert out.frame.stamp_ns == T0 and has_it(out)
    # 2. The stream moves past the image's stamp (+ the gap): nothing for it will come, it leaves at once.
    assert p.add_image(T0 + S, "/cam", now=0.2, image=IMG) == []
    (out,) = send(p, T0 + S + 200 * MS, now=0.25)
    assert out.frame.stamp_ns == T0 + S and not has_it(out)
    # 3. Nothing comes: the wait ends after side_wait_s.
    assert p.add_image(T0 + 3 * S, "/cam", now=1.0, image=IMG) == []
    assert p.release(now=1.4) == []
    (out,) = p.release(now=1.5)
    assert out.frame.stamp_ns == T0 + 3 * S and not has_it(out)
    # A stream nobody publishes is not waited for.
    q = pairer()
    walk(q, 1.0)
    assert len(q.add_image(T0, "/cam", now=0.0, image=IMG)) == 1


def test_buffer_overflow_drops_the_oldest_waiting_image():
    skips = SkipLog()
    p = pairer(skips=skips, image_buffer=3)
    p.add_pose(T0, pose(0.0), 0.0)
    for i in range(1, 6):
        assert p.add_image(T0 + i * 100 * MS, "/cam", now=0.0, image=IMG) == []
    assert len(p.waiting) == 3 and p.counts["dropped_image_buffer"] == 2
    assert skips.counts["skipped:image_buffer_full"] == 2
    out = p.add_pose(T0 + S, pose(1.0), now=0.1)
    assert [o.frame.stamp_ns for o in out] == [T0 + i * 100 * MS for i in (3, 4, 5)]


def test_stamps_going_backwards_still_pair_and_keep_the_poses_they_need():
    p = pairer()
    for i in range(31):
        p.add_pose(T0 + i * 100 * MS, pose(0.1 * i), 0.0)
    (late,) = p.add_image(T0 + 2900 * MS, "/cam", 0.0, IMG)
    assert late.frame.pose.position == pytest.approx((2.9, 0.0, 0.0))
    # Poses more than two gaps before what the waiting images need are forgotten ...
    assert p.poses.at(T0 + 200 * MS) is None and len(p.poses) < 31
    # ... an older image waiting keeps what it needs ...
    assert p.add_image(T0 + 2950 * MS, "/cam", 0.0, IMG) != []
    # ... and an older image arriving later is still paired when its poses come again (the policy judges order).
    p.add_pose(T0 + 150 * MS, pose(0.15), 0.0)
    p.add_pose(T0 + 250 * MS, pose(0.25), 0.0)
    (early,) = p.add_image(T0 + 200 * MS, "/cam", 0.0, IMG)
    assert early.frame.pose.position == pytest.approx((0.2, 0.0, 0.0))


def test_images_leave_in_arrival_order_and_one_waiting_holds_back_the_rest():
    p = pairer()
    walk(p, 1.0)
    assert p.add_image(T0 + 1200 * MS, "/cam", 0.0, IMG) == []  # A waits for a pose after its stamp
    assert p.add_image(T0 + 500 * MS, "/cam", 0.1, IMG) == []  # B could go, but waits behind A
    out = p.add_pose(T0 + 1300 * MS, pose(1.3), 0.2)
    assert [o.frame.stamp_ns for o in out] == [T0 + 1200 * MS, T0 + 500 * MS]
    assert [o.frame.pose.position[0] for o in out] == pytest.approx([1.2, 0.5])


def test_payload_travels_with_an_undecoded_image():
    p = pairer()
    walk(p, 1.0)
    (out,) = p.add_image(T0, "/cam/compressed", 0.0, None, payload=b"jpeg")
    assert out.frame.image is None and out.payload == b"jpeg"
