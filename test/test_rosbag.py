"""rosbag2 reading and writing through real bag files (mcap and sqlite3) made in tmp_path."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from scipy.spatial.transform import Rotation

from embodied_rag.config import IngestConfig, TopicsConfig, TransformConfig
from embodied_rag.errors import UserError
from embodied_rag.io.frame import Frame, SkipLog
from embodied_rag.io.images import encode_jpeg
from embodied_rag.io.rosbag import (
    CAPTION_MSGDEF,
    CAPTION_TYPE,
    DETECTION_MSGDEF,
    DETECTION_TYPE,
    STORAGES,
    RosbagRecording,
    convert_folder,
    detection_msgs,
    typestore,
    write_bag,
)
from embodied_rag.io.tum import TumFolder
from embodied_rag.memory.detection import Detection
from embodied_rag.memory.pose import Pose

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
S = 1_000_000_000
T0 = 1_700_000_000 * S  # a realistic epoch stamp
TOPICS = TopicsConfig()
LOOSE = IngestConfig(max_pose_gap_s=30.0)  # poses far apart still interpolate (tests that are not about gaps)


# -- a small bag builder that can write anything, including broken messages -----------------------------------


class Bag:
    def __init__(self, path: Path, storage: str = "mcap"):
        self.store = typestore()
        self.t = self.store.types
        self.writer = Writer(path, version=8, storage_plugin=STORAGES[storage])
        self.writer.open()
        self.conns: dict[str, object] = {}

    def __enter__(self) -> Bag:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self

    def __exit__(self, *exc) -> None:
        self.writer.close()

    def _conn(self, topic: str, msgtype: str):
        if topic not in self.conns:
            self.conns[topic] = self.writer.add_connection(topic, msgtype, typestore=self.store)
        return self.conns[topic]

    def raw(self, topic: str, msgtype: str, data: bytes, bag_ns: int) -> None:
        self.writer.write(self._conn(topic, msgtype), bag_ns, data)

    def put(self, topic: str, msg, bag_ns: int | None = None) -> None:
        """Write ``msg``; its bag (receive) time is its header stamp unless given."""
        if bag_ns is None:
            bag_ns = msg.header.stamp.sec * S + msg.header.stamp.nanosec or T0
        self.raw(topic, msg.__msgtype__, self.store.serialize_cdr(msg, msg.__msgtype__), bag_ns)

    def header(self, stamp: int, frame_id: str = "map"):
        return self.t["std_msgs/msg/Header"](
            stamp=self.t["builtin_interfaces/msg/Time"](sec=stamp // S, nanosec=stamp % S), frame_id=frame_id)

    def _pose(self, pos, quat):
        t = self.t
        return t["geometry_msgs/msg/Pose"](position=t["geometry_msgs/msg/Point"](*map(float, pos)),
                                          orientation=t["geometry_msgs/msg/Quaternion"](*map(float, quat)))

    def odom(self, stamp, pos, quat=(0, 0, 0, 1), topic="/odom", bag_ns=None):
        t = self.t
        msg = t["nav_msgs/msg/Odometry"](
            header=self.header(stamp, "odom"), child_frame_id="base_link",
            pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=self._pose(pos, quat), covariance=np.zeros(36)),
            twist=t["geometry_msgs/msg/TwistWithCovariance"](
                twist=t["geometry_msgs/msg/Twist"](linear=t["geometry_msgs/msg/Vector3"](0.0, 0.0, 0.0),
                                                   angular=t["geometry_msgs/msg/Vector3"](0.0, 0.0, 0.0)),
                covariance=np.zeros(36)))
        self.put(topic, msg, bag_ns)

    def pose_stamped(self, stamp, pos, quat=(0, 0, 0, 1), topic="/odom"):
        self.put(topic, self.t["geometry_msgs/msg/PoseStamped"](header=self.header(stamp), pose=self._pose(pos, quat)))

    def pose_cov(self, stamp, pos, quat=(0, 0, 0, 1), topic="/odom"):
        t = self.t
        self.put(topic, t["geometry_msgs/msg/PoseWithCovarianceStamped"](
            header=self.header(stamp), pose=t["geometry_msgs/msg/PoseWithCovariance"](
                pose=self._pose(pos, quat), covariance=np.zeros(36))))

    def image(self, stamp, data, encoding="rgb8", h=4, w=6, step=None, topic=TOPICS.image, bag_ns=None):
        data = np.frombuffer(bytes(data), dtype=np.uint8)
        channels = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "16UC1": 2, "32FC1": 4}.get(encoding, 2)
        self.put(topic, self.t["sensor_msgs/msg/Image"](
            header=self.header(stamp, "camera"), height=h, width=w, encoding=encoding, is_bigendian=0,
            step=w * channels if step is None else step, data=data), bag_ns)

    def jpeg(self, stamp, data: bytes, topic=TOPICS.compressed_image, bag_ns=None):
        self.put(topic, self.t["sensor_msgs/msg/CompressedImage"](
            header=self.header(stamp, "camera"), format="jpeg", data=np.frombuffer(data, dtype=np.uint8)), bag_ns)

    def caption(self, stamp, text, objects=(), topic=TOPICS.caption, detections=()):
        self.put(topic, self.t[CAPTION_TYPE](header=self.header(stamp, "camera"), text=text, objects=list(objects),
                                             detections=detection_msgs(self.store, detections)))


def rgb(h=4, w=6, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def smooth_rgb(h=48, w=64, seed=0) -> np.ndarray:
    """An image JPEG keeps nearly intact (random noise would not survive compression)."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y + seed * 20) * 255 // (w + h + 60)], axis=-1)
    return base.astype(np.uint8)


def read(path, ingest: IngestConfig | None = None) -> tuple[list[Frame], SkipLog]:
    skips = SkipLog()
    frames = list(RosbagRecording(path, ingest or IngestConfig(), skips))
    return frames, skips


def yaw_q(deg: float) -> tuple[float, ...]:
    return tuple(Rotation.from_euler("z", deg, degrees=True).as_quat())


# -- the Caption definition ---------------------------------------------------------------------------------


def test_caption_msgdef_matches_interface_package():
    msg_dir = REPO / "embodied_rag_msgs" / "msg"
    caption, detection = (msg_dir / "Caption.msg").read_text(), (msg_dir / "Detection.msg").read_text()
    assert get_types_from_msg(CAPTION_MSGDEF, CAPTION_TYPE) == get_types_from_msg(caption, CAPTION_TYPE)
    assert get_types_from_msg(DETECTION_MSGDEF, DETECTION_TYPE) == get_types_from_msg(detection, DETECTION_TYPE)
    ref = get_typestore(Stores.ROS2_JAZZY)
    ref.register(get_types_from_msg(detection, DETECTION_TYPE))
    ref.register(get_types_from_msg(caption, CAPTION_TYPE))
    assert typestore().hash_rihs01(CAPTION_TYPE) == ref.hash_rihs01(CAPTION_TYPE)


def test_caption_hash_matches_built_interface():
    """The type hash rosbags writes equals the one rosidl generated (so ROS 2 tools accept our bags)."""
    built = [p for p in (REPO / ".venv" / "share" / "embodied_rag_msgs" / "msg" / "Caption.json",) if p.is_file()]
    if not built:
        pytest.skip("embodied_rag_msgs is not built into .venv (no share/embodied_rag_msgs/msg/Caption.json)")
    hashes = json.loads(built[0].read_text())["type_hashes"]
    real = next(h["hash_string"] for h in hashes if h["type_name"] == CAPTION_TYPE)
    assert typestore().hash_rihs01(CAPTION_TYPE) == real


# -- round trips ----------------------------------------------------------------------------------------------


def sample_frames(n=5, with_depth=True) -> list[Frame]:
    frames = []
    for i in range(n):
        pose = Pose.checked([i * 0.5, -1.0 + i, 0.25], yaw_q(15 * i))
        depth = np.full((48, 64), 0.5 + i, dtype=np.float32) if with_depth else None
        frames.append(Frame(T0 + i * S // 3, pose, smooth_rgb(seed=i), caption=f"caption {i}" if i != 2 else "",
                            name="Hall" if i == 1 else "", objects=["chair", f"obj{i}"] if i % 2 else [],
                            depth=depth))
    return frames


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
@pytest.mark.parametrize("compressed", [True, False])
def test_round_trip(tmp_path, storage, compressed):
    frames = sample_frames()
    counts = write_bag(frames, tmp_path / "bag", storage=storage, compressed=compressed)
    assert counts == {"frames": 5, "images": 5, "poses": 5, "depth": 5, "captions": 4}
    rec = RosbagRecording(tmp_path / "bag", IngestConfig(), SkipLog())
    assert len(rec) == 5
    out = list(rec)
    assert not rec.skips.counts
    assert [f.stamp_ns for f in out] == [f.stamp_ns for f in frames]
    for a, b in zip(frames, out, strict=True):
        np.testing.assert_allclose(b.pose.position, a.pose.position, atol=1e-12)
        np.testing.assert_allclose(b.pose.orientation, a.pose.orientation, atol=1e-12)
        assert b.text() == a.text()  # the name travels at the start of the caption text
        assert b.objects == a.objects
        topic = TOPICS.compressed_image if compressed else TOPICS.image
        assert b.source == f"{topic}@{a.stamp_ns}"
        assert b.image.shape == a.image.shape
        if compressed:
            assert np.abs(b.image.astype(int) - a.image).mean() < 2.0
        else:
            np.testing.assert_array_equal(b.image, a.image)
        np.testing.assert_array_equal(b.depth, a.depth)
    assert out[1].caption == "Hall caption 1"


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_single_storage_file_and_folder_without_metadata(tmp_path, storage):
    write_bag(sample_frames(3, with_depth=False), tmp_path / "bag", storage=storage)
    (file,) = [p for p in (tmp_path / "bag").iterdir() if p.name != "metadata.yaml"]
    assert len(read(file)[0]) == 3
    (tmp_path / "bag" / "metadata.yaml").unlink()  # what a killed `ros2 bag record` leaves
    assert len(read(tmp_path / "bag")[0]) == 3


def test_caption_only_round_trip(tmp_path):
    frames = [Frame(T0 + i * S, Pose((float(i), 2.0 * i, 0.0)), None, caption=f"place {i}", name=f"Name {i}",
                    objects=["tree"] if i == 0 else []) for i in range(4)]
    counts = write_bag(frames, tmp_path / "bag", storage="sqlite3")
    assert counts["images"] == 0 and counts["captions"] == 4
    rec = RosbagRecording(tmp_path / "bag")
    assert rec.caption_only and len(rec) == 4
    out = list(rec)
    assert [f.text() for f in out] == [f.text() for f in frames]
    assert all(f.image is None for f in out)
    assert [f.pose.position for f in out] == [f.pose.position for f in frames]
    assert out[0].source == f"{TOPICS.caption}@{T0}"


def test_write_bag_refuses_to_overwrite_and_unknown_storage(tmp_path):
    (tmp_path / "bag").mkdir()
    with pytest.raises(UserError, match="exists already"):
        write_bag(sample_frames(1), tmp_path / "bag")
    with pytest.raises(UserError, match="Unknown bag storage"):
        write_bag(sample_frames(1), tmp_path / "new", storage="rosbag1")
    assert not (tmp_path / "new").exists()


def test_write_bag_leaves_nothing_when_frames_fail(tmp_path):
    def frames():
        yield from sample_frames(2)
        raise UserError("source broke")

    with pytest.raises(UserError, match="source broke"):
        write_bag(frames(), tmp_path / "bag")
    assert not (tmp_path / "bag").exists()


# -- poses ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["odom", "pose_stamped", "pose_cov"])
def test_pose_interpolation_and_body_to_camera(tmp_path, kind):
    body_q = (-0.5, 0.5, -0.5, 0.5)  # REP-103 body -> optical frame (z forward)
    ingest = IngestConfig(max_pose_gap_s=1.0,
                          body_to_camera=TransformConfig(translation=[0.2, 0.0, 0.5], rotation_xyzw=list(body_q)))
    with Bag(tmp_path / "bag") as bag:
        add = getattr(bag, kind)
        add(T0, (0, 0, 0), yaw_q(0))
        add(T0 + S, (2, 0, 0), yaw_q(90))
        bag.image(T0 + S // 2, rgb().tobytes())
    (f,), skips = read(tmp_path / "bag", ingest)
    robot = Rotation.from_euler("z", 45, degrees=True)
    np.testing.assert_allclose(f.pose.position, np.array([1.0, 0, 0]) + robot.apply([0.2, 0.0, 0.5]), atol=1e-9)
    expected = (robot * Rotation.from_quat(body_q)).as_quat()
    assert abs(abs(np.dot(f.pose.orientation, expected)) - 1) < 1e-9
    np.testing.assert_allclose(f.pose.view_direction(optical=True), robot.apply([1, 0, 0]), atol=1e-9)
    assert not skips.counts


def test_image_without_pose_within_gap_is_skipped(tmp_path):
    with Bag(tmp_path / "bag") as bag:
        bag.odom(T0, (0, 0, 0))
        bag.odom(T0 + 10 * S, (1, 0, 0))
        bag.image(T0 + S // 10, rgb().tobytes())  # 0.1 s from a pose: fine
        bag.image(T0 + 5 * S, rgb().tobytes())  # 5 s from either pose: no pose
        bag.image(T0 + 20 * S, rgb().tobytes())  # after the last pose
    frames, skips = read(tmp_path / "bag", IngestConfig(max_pose_gap_s=0.5))
    assert [f.stamp_ns for f in frames] == [T0 + S // 10]
    assert skips.counts["skipped:no_pose"] == 2


def test_bad_poses_are_skipped_and_quaternions_normalised(tmp_path):
    with Bag(tmp_path / "bag") as bag:
        bag.odom(T0, (float("nan"), 0, 0))
        bag.odom(T0 + 1, (0, float("inf"), 0))
        bag.odom(T0 + 2, (0, 0, 0), (0, 0, 0, 0))
        bag.odom(T0 + 3, (0, 0, 0), (0, 0, float("nan"), 1))
        bag.odom(T0 + 10, (1, 2, 3), (0, 0, 0, 2))  # not unit length: normalised, used
        bag.image(T0 + 10, rgb().tobytes())
        bag.image(T0 + 10 * S, rgb().tobytes())  # only the bad poses are near... none: no_pose
    (f,), skips = read(tmp_path / "bag", IngestConfig(max_pose_gap_s=0.5))
    assert skips.counts["skipped:bad_pose"] == 4
    assert skips.counts["quaternion_normalised"] == 1
    assert skips.counts["skipped:no_pose"] == 1
    assert f.pose.position == (1.0, 2.0, 3.0)
    np.testing.assert_allclose(f.pose.orientation, (0, 0, 0, 1))


# -- images -----------------------------------------------------------------------------------------------------


def test_bad_raw_images_are_counted_and_skipped(tmp_path):
    good = rgb()
    with Bag(tmp_path / "bag") as bag:
        bag.odom(T0, (0, 0, 0))
        bag.odom(T0 + 20 * S, (0, 0, 0))
        stamps = iter(range(T0 + S, T0 + 20 * S, S // 2))
        bag.image(next(stamps), good.tobytes())
        bag.image(next(stamps), good[..., ::-1].tobytes(), "bgr8")
        bag.image(next(stamps), np.dstack([good, np.full((4, 6), 255, np.uint8)]).tobytes(), "rgba8")
        bag.image(next(stamps), np.dstack([good[..., ::-1], np.zeros((4, 6), np.uint8)]).tobytes(), "bgra8")
        bag.image(next(stamps), good[..., 0].tobytes(), "mono8")
        padded = np.zeros((4, 20), np.uint8)
        padded[:, :18] = good.reshape(4, 18)
        bag.image(next(stamps), padded.tobytes(), step=20)  # row padding is legal
        bad = [
            (good.tobytes(), "yuv422", None, "unsupported_encoding"),
            (good.tobytes(), "16UC1", None, "unsupported_encoding"),  # depth on the colour topic
            (good.tobytes(), "rgb8", 10, "bad_image"),  # step smaller than a row
            (good.tobytes()[:-7], "rgb8", None, "bad_image"),  # data too short
            (b"", "rgb8", None, "bad_image"),
        ]
        for data, enc, step, _ in bad:
            bag.image(next(stamps), data, enc, step=step)
        bag.image(next(stamps), b"", "rgb8", h=0, w=0)  # zero-size
    frames, skips = read(tmp_path / "bag", LOOSE)
    assert len(frames) == 6
    for f in frames[:4] + frames[5:]:
        np.testing.assert_array_equal(f.image, good)
    np.testing.assert_array_equal(frames[4].image, good[..., 0])
    assert skips.counts["skipped:unsupported_encoding"] == 2
    assert skips.counts["skipped:bad_image"] == 4
    assert skips.skipped == 6


def test_bad_compressed_images_are_counted_and_skipped(tmp_path):
    jpeg = encode_jpeg(smooth_rgb())
    with Bag(tmp_path / "bag") as bag:
        bag.odom(T0, (0, 0, 0))
        bag.odom(T0 + 10 * S, (0, 0, 0))
        bag.jpeg(T0 + 1 * S, jpeg)
        bag.jpeg(T0 + 2 * S, b"")
        bag.jpeg(T0 + 3 * S, b"\xff\xd8garbage that is not a jpeg")
        bag.jpeg(T0 + 4 * S, jpeg[:40])  # truncated header
        bag.jpeg(T0 + 5 * S, jpeg)
    frames, skips = read(tmp_path / "bag", LOOSE)
    assert [f.stamp_ns for f in frames] == [T0 + S, T0 + 5 * S]
    assert skips.counts["skipped:bad_image"] == 3


def test_undecodable_message_is_counted(tmp_path):
    with Bag(tmp_path / "bag") as bag:
        bag.odom(T0, (0, 0, 0))
        bag.image(T0, rgb().tobytes())
        bag.raw(TOPICS.image, "sensor_msgs/msg/Image", b"\x00\x01\x00\x00\xff\xff", T0 + 1)
        bag.raw(TOPICS.pose, "nav_msgs/msg/Odometry", b"\x00\x01", T0 + 2)
    frames, skips = read(tmp_path / "bag")
    assert len(frames) == 1
    assert skips.counts["skipped:bad_message"] == 2


def test_out_of_order_stamps_are_sorted_and_counted(tmp_path):
    with Bag(tmp_path / "bag") as bag:
        bag.odom(T0, (0, 0, 0))
        bag.odom(T0 + 10 * S, (10, 0, 0))
        # Bag (receive) order 3, 1, 2, 5, 4: two images step back in stamp.
        for i, s in enumerate([3, 1, 2, 5, 4]):
            bag.image(T0 + s * S, rgb(seed=s).tobytes(), bag_ns=T0 + 20 * S + i)
    frames, skips = read(tmp_path / "bag", IngestConfig(max_pose_gap_s=10.0))
    assert [f.stamp_ns for f in frames] == [T0 + s * S for s in (1, 2, 3, 4, 5)]
    for f, s in zip(frames, (1, 2, 3, 4, 5), strict=True):
        np.testing.assert_array_equal(f.image, rgb(seed=s))  # each image keeps its own pixels and pose
        assert f.pose.position[0] == pytest.approx(s)
    assert skips.counts["stamp_backwards"] == 2
    assert skips.skipped == 0


def test_duplicates_are_dropped_and_zero_stamps_use_bag_time(tmp_path):
    with Bag(tmp_path / "bag") as bag:
        bag.odom(T0, (0, 0, 0))
        bag.odom(T0, (5, 5, 5), bag_ns=T0 + 1)  # same topic and stamp: the first one wins
        bag.image(T0, rgb(seed=1).tobytes())
        bag.image(T0, rgb(seed=2).tobytes(), bag_ns=T0 + 2)
        bag.image(0, rgb(seed=3).tobytes(), bag_ns=T0 + S // 10)  # no header stamp: receive time stands in
    frames, skips = read(tmp_path / "bag")
    assert [f.stamp_ns for f in frames] == [T0, T0 + S // 10]
    np.testing.assert_array_equal(frames[0].image, rgb(seed=1))
    assert frames[0].pose.position == (0.0, 0.0, 0.0)
    assert skips.counts["skipped:duplicate"] == 2
    assert skips.counts["stamp_from_bag_time"] == 1


def test_depth_is_kept_for_the_matching_image(tmp_path):
    depth_mm = np.arange(24, dtype=np.uint16).reshape(4, 6) * 100
    with Bag(tmp_path / "bag") as bag:
        bag.odom(T0, (0, 0, 0))
        bag.odom(T0 + 2 * S, (0, 0, 0))
        bag.image(T0 + S // 2, rgb().tobytes())
        bag.image(T0 + S, depth_mm.tobytes(), "16UC1", topic="/cam/depth")  # found by name, not configured
        bag.image(T0 + S + S // 100, rgb().tobytes())
        bag.image(T0 + S + S // 2, b"\x00" * 5, "16UC1", topic="/cam/depth")  # broken depth
        bag.image(T0 + S + S // 2, rgb().tobytes())
    frames, skips = read(tmp_path / "bag", LOOSE)
    assert [f.depth is not None for f in frames] == [False, True, False]
    np.testing.assert_allclose(frames[1].depth, depth_mm / 1000.0)
    assert frames[1].depth.dtype == np.float32
    assert skips.counts["skipped:bad_depth"] == 1
    assert len(frames) == 3


def test_captions_pair_by_nearest_stamp_within_gap(tmp_path):
    with Bag(tmp_path / "bag") as bag:
        bag.odom(T0, (0, 0, 0))
        bag.odom(T0 + 5 * S, (0, 0, 0))
        for s in (1, 2, 3):
            bag.image(T0 + s * S, rgb().tobytes())
        bag.caption(T0 + S + S // 20, "a red chair", ["chair"])  # 50 ms after image 1
        bag.caption(T0 + 2 * S - S // 50, "", ["sofa", "lamp"])  # objects only
        bag.caption(T0 + 3 * S + S // 2, "far from every image")
        bag.caption(T0 + 4 * S, "", [])
    frames, skips = read(tmp_path / "bag", IngestConfig(max_pose_gap_s=30.0, caption_max_gap_s=0.1))
    assert [(f.caption, f.objects) for f in frames] == [("a red chair", ["chair"]), ("", ["sofa", "lamp"]), ("", [])]
    assert skips.counts["caption_unmatched"] == 1
    assert skips.counts["skipped:empty_caption"] == 1


def test_detections_and_camera_info_travel_with_frames(tmp_path):
    chair = Detection("chair", (1.0, 2.0, 30.0, 40.0), 0.75, {"colour": "red"})  # float32-exact score
    with Bag(tmp_path / "bag") as bag:
        bag.odom(T0, (0, 0, 0))
        bag.odom(T0 + 5 * S, (0, 0, 0))
        for s in (1, 2, 3):
            bag.image(T0 + s * S, rgb(48, 64).tobytes(), h=48, w=64)
        info = bag.t["sensor_msgs/msg/CameraInfo"]
        for s, f in ((0, 50.0), (3, 60.0)):
            bag.put(TOPICS.camera_info, info(
                header=bag.header(T0 + s * S, "camera"), height=48, width=64, distortion_model="plumb_bob",
                d=np.zeros(5), k=np.array([f, 0, 32, 0, f, 24, 0, 0, 1.0]), r=np.eye(3).ravel(), p=np.zeros(12),
                binning_x=0, binning_y=0, roi=bag.t["sensor_msgs/msg/RegionOfInterest"](
                    x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)))
        bag.caption(T0 + S, "", [], detections=[chair])  # boxes only: still a caption
        bag.caption(T0 + 2 * S, "a sofa", ["sofa"])
    frames, skips = read(tmp_path / "bag", IngestConfig(max_pose_gap_s=30.0))
    assert [f.detections for f in frames] == [[chair], [], []]
    assert frames[0].detections[0].colour == "red" and frames[0].detections[0].score == 0.75
    # Each image takes the camera info nearest in time.
    assert [f.camera.fx for f in frames] == [50.0, 60.0, 60.0]
    assert frames[0].camera.cx == 32 and skips.skipped == 0


def test_captions_recorded_before_detections_existed_still_read(tmp_path):
    """Bags recorded with the older Caption (text and objects only) keep their captions."""
    old = get_typestore(Stores.ROS2_JAZZY)
    old.register(get_types_from_msg("std_msgs/Header header\nstring text\nstring[] objects\n", CAPTION_TYPE))
    with Bag(tmp_path / "bag") as bag:
        bag.odom(T0, (0, 0, 0))
        bag.odom(T0 + 5 * S, (0, 0, 0))
        bag.image(T0 + S, rgb().tobytes())
        msg = old.types[CAPTION_TYPE](header=bag.header(T0 + S, "camera"), text="an old caption", objects=["lamp"])
        bag.raw(TOPICS.caption, CAPTION_TYPE, old.serialize_cdr(msg, CAPTION_TYPE), T0 + S)
    frames, skips = read(tmp_path / "bag", IngestConfig(max_pose_gap_s=30.0))
    assert [(f.caption, f.objects, f.detections) for f in frames] == [("an old caption", ["lamp"], [])]
    assert skips.skipped == 0


# -- topics and whole-bag errors --------------------------------------------------------------------------------


def test_unconfigured_topics_are_used_when_unambiguous(tmp_path, caplog):
    with Bag(tmp_path / "bag") as bag:
        bag.pose_stamped(T0, (1, 2, 3), topic="/robot/pose")
        bag.jpeg(T0, encode_jpeg(smooth_rgb()), topic="/front/image/compressed")
        bag.caption(T0, "hello", topic="/captioner/out")
    with caplog.at_level(logging.INFO, logger="embodied_rag.io.rosbag"):
        rec = RosbagRecording(tmp_path / "bag")
    assert rec.topics == {"image": "/front/image/compressed", "depth": None, "pose": "/robot/pose",
                          "caption": "/captioner/out", "camera_info": None}
    assert "using /front/image/compressed as the image topic" in caplog.text
    (f,) = list(rec)
    assert f.caption == "hello" and f.pose.position == (1.0, 2.0, 3.0)


def test_raw_and_compressed_of_one_camera_prefer_raw(tmp_path):
    with Bag(tmp_path / "bag") as bag:
        bag.odom(T0, (0, 0, 0))
        bag.image(T0, rgb().tobytes(), topic="/front/image")
        bag.jpeg(T0, encode_jpeg(smooth_rgb()), topic="/front/image/compressed")
    assert RosbagRecording(tmp_path / "bag").image_topic == "/front/image"


def test_missing_or_ambiguous_topics_are_one_sentence(tmp_path):
    with Bag(tmp_path / "noimage") as bag:
        bag.odom(T0, (0, 0, 0))
        bag.put("/chatter", bag.t["std_msgs/msg/String"](data="hi"), T0)
    with pytest.raises(UserError, match=r"no image topic .* its topics are: /chatter \(std_msgs/msg/String\), /odom "
                                        r"\(nav_msgs/msg/Odometry\)\.$"):
        RosbagRecording(tmp_path / "noimage")

    with Bag(tmp_path / "nopose") as bag:
        bag.image(T0, rgb().tobytes())
    with pytest.raises(UserError, match=r"no pose topic .*/camera/image_raw \(sensor_msgs/msg/Image\)\.$"):
        RosbagRecording(tmp_path / "nopose")

    with Bag(tmp_path / "twoposes") as bag:
        bag.image(T0, rgb().tobytes())
        bag.pose_stamped(T0, (0, 0, 0), topic="/a")
        bag.pose_stamped(T0, (0, 0, 0), topic="/b")
    with pytest.raises(UserError, match="several pose topics"):
        RosbagRecording(tmp_path / "twoposes")
    ingest = IngestConfig(topics=TopicsConfig(pose="/b"))
    assert RosbagRecording(tmp_path / "twoposes", ingest).pose_topic == "/b"


def test_empty_and_unreadable_bags(tmp_path):
    with Bag(tmp_path / "empty") as bag:
        bag._conn(TOPICS.image, "sensor_msgs/msg/Image")
        bag._conn(TOPICS.pose, "nav_msgs/msg/Odometry")
    with pytest.raises(UserError, match="has no messages"):
        RosbagRecording(tmp_path / "empty")
    with pytest.raises(UserError, match="does not exist"):
        RosbagRecording(tmp_path / "nothing_here")
    (tmp_path / "junk.mcap").write_bytes(b"\x89MCAP0\r\n" + b"\x00" * 100)
    with pytest.raises(UserError, match="Cannot read bag"):
        RosbagRecording(tmp_path / "junk.mcap")
    (tmp_path / "plain").mkdir()
    with pytest.raises(UserError, match="not a rosbag2 folder"):
        RosbagRecording(tmp_path / "plain")


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_damaged_bag_never_crashes(tmp_path, storage):
    """A cut-off file is one sentence at open; bytes overwritten inside it give frames and/or counted skips."""
    write_bag(sample_frames(8, with_depth=False), tmp_path / "bag", storage=storage)
    (file,) = [p for p in (tmp_path / "bag").iterdir() if p.name != "metadata.yaml"]
    data = file.read_bytes()
    cut = tmp_path / f"cut{file.suffix}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(UserError, match=f"Cannot read bag {cut}: .+"):
        read(cut)
    overwritten = tmp_path / f"overwritten{file.suffix}"
    overwritten.write_bytes(data[: len(data) // 2] + b"\xa5" * 2000 + data[len(data) // 2 + 2000:])
    frames, skips = read(overwritten)  # must not raise
    assert len(frames) == 8 or skips.skipped >= 1


# -- the shared data sets through convert -> bag -> read -------------------------------------------------------


@pytest.mark.parametrize("name", ["coex_lobby", "preqa_house", "cmu_streetview"])
def test_convert_shared_dataset_round_trip(tmp_path, name):
    folder = DATASETS / name
    if not folder.is_dir():
        pytest.skip(f"shared data set {folder} is absent (tests read ../shared/datasets next to the repository)")
    expected = list(TumFolder(folder))
    counts = convert_folder(folder, tmp_path / "bag", progress=True)
    assert counts["frames"] == len(expected) and counts["skipped"] == 0
    rec = RosbagRecording(tmp_path / "bag")
    got = list(rec)
    assert len(rec) == len(expected) == len(got)
    assert not rec.skips.counts
    for a, b in zip(expected, got, strict=True):
        assert b.stamp_ns == a.stamp_ns
        np.testing.assert_allclose(b.pose.position, a.pose.position, atol=1e-6)
        assert abs(abs(np.dot(b.pose.orientation, a.pose.orientation)) - 1) < 1e-6
        assert b.objects == a.objects
        assert b.text() == a.text()
        if a.name:  # Caption.msg has no name: it leads the caption text
            assert b.caption == f"{a.name} {a.caption}"
        else:
            assert b.caption == a.caption
        if a.image is None:
            assert b.image is None
        else:
            assert b.image.shape == a.image.shape
            assert np.abs(b.image[::8, ::8].astype(int) - a.image[::8, ::8]).mean() < 4.0
