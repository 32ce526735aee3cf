"""rosbag2 recordings (mcap or sqlite3) read into posed :class:`Frame` objects, and folders written as bags.

Reading takes two passes over the bag so that memory stays bounded by the poses and captions, not the images:
pass 1 deserialises everything once to collect poses, captions, image and depth stamps (and drops duplicates and
undecodable messages); pass 2 reads only the image and depth topics again and yields frames in header-stamp order.

Captions carry object detections (boxes) when the detector gave them; each image takes the ``CameraInfo``
nearest in time as its camera model.

Stamps are header stamps; a zero (or negative) header stamp falls back to the bag's receive time. Images whose
stamps go backwards in bag order are **not** dropped: frames are yielded sorted by stamp, and each image whose stamp
precedes the previous image's is counted as ``stamp_backwards`` (a count, not a skip) and logged once.

Skip reasons (``SkipLog.skip``): ``bad_message`` (undecodable CDR), ``duplicate`` (same topic and stamp as an
earlier message), ``bad_pose`` (NaN/inf, absurd position, zero quaternion), ``no_pose`` (no pose within
``max_pose_gap_s``), ``unsupported_encoding``, ``bad_image`` (corrupt, empty, wrong step or size), ``bad_depth``
(the frame is kept without depth), ``empty_caption``, ``bad_camera_info``, ``bag_read_error`` (a truncated or
corrupt bag: what was read before the damage is kept). Counts (``SkipLog.count``): ``stamp_backwards``,
``stamp_from_bag_time``, ``quaternion_normalised``, ``caption_unmatched``.
"""

from __future__ import annotations

import bisect
import functools
import logging
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from embodied_rag.config import IngestConfig, TopicsConfig
from embodied_rag.errors import UserError
from embodied_rag.io.frame import Frame, SkipLog
from embodied_rag.io.images import (
    COLOUR_ENCODINGS,
    DEPTH_ENCODINGS,
    BadImage,
    decode_compressed,
    decode_depth,
    decode_image,
    encode_jpeg,
)
from embodied_rag.io.tum import TumFolder
from embodied_rag.memory.detection import CameraModel, Detection
from embodied_rag.memory.pose import InvalidPose, Pose, PoseBuffer, transform_pose

log = logging.getLogger(__name__)

CAPTION_TYPE = "embodied_rag_msgs/msg/Caption"
DETECTION_TYPE = "embodied_rag_msgs/msg/Detection"
# Kept here (not read from embodied_rag_msgs/msg/*.msg) because an installed package has no repo around it;
# a test checks that they parse to the same fields and type hashes as the .msg files.
DETECTION_MSGDEF = """\
string label
float32 score
float32 x_min
float32 y_min
float32 x_max
float32 y_max
string colour
"""
CAPTION_MSGDEF = """\
std_msgs/Header header
string text
string[] objects
embodied_rag_msgs/Detection[] detections
"""
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
ODOMETRY = "nav_msgs/msg/Odometry"
POSE_STAMPED = "geometry_msgs/msg/PoseStamped"
POSE_COV = "geometry_msgs/msg/PoseWithCovarianceStamped"
POSE_TYPES = (ODOMETRY, POSE_STAMPED, POSE_COV)
IMAGE_TYPES = (IMAGE, COMPRESSED)
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
BAG_FILE_SUFFIXES = (".mcap", ".db3")
NS = 1_000_000_000
QUATERNION_UNIT_TOLERANCE = 1e-3


def detections_from_msg(items: Iterable[Any]) -> list[Detection]:
    """Detections of a Caption message (rosbags or rclpy object): boxes that are not finite or empty are left out."""
    out = []
    for d in items:
        det = Detection(str(d.label).strip(), (float(d.x_min), float(d.y_min), float(d.x_max), float(d.y_max)),
                        float(d.score), {"colour": str(d.colour).strip()} if str(d.colour).strip() else {})
        if det.label and all(np.isfinite(det.box)) and det.box[2] > det.box[0] and det.box[3] > det.box[1]:
            out.append(det)
    return out


@functools.cache
def _legacy_store() -> Typestore:
    """A typestore with the Caption of bags recorded before it had detections."""
    store = get_typestore(Stores.ROS2_JAZZY)
    store.register(get_types_from_msg("std_msgs/Header header\nstring text\nstring[] objects\n", CAPTION_TYPE))
    return store


def typestore() -> Typestore:
    """A ROS 2 Jazzy typestore with ``embodied_rag_msgs/msg/Caption`` registered."""
    store = get_typestore(Stores.ROS2_JAZZY)
    store.register(get_types_from_msg(DETECTION_MSGDEF, DETECTION_TYPE))
    store.register(get_types_from_msg(CAPTION_MSGDEF, CAPTION_TYPE))
    return store


def _header_stamp(header: Any, bag_ns: int) -> tuple[int, bool]:
    """(stamp in ns, True when the bag receive time had to stand in for a zero or negative header stamp)."""
    ns = int(header.stamp.sec) * NS + int(header.stamp.nanosec)
    return (ns, False) if ns > 0 else (int(bag_ns), True)


@dataclass
class _Ref:
    """Where an image or depth message is in the bag (to find it again in pass 2) and its stamp."""

    key: tuple[str, int, int]  # topic, receive time, occurrence of that pair (stable across passes)
    stamp: int
    topic: str


@dataclass
class _Caption:
    stamp: int
    text: str
    objects: list[str]
    detections: list[Detection] = field(default_factory=list)
    used: bool = False


@dataclass
class _Plan:
    ref: _Ref
    pose: Pose | None
    depth: _Ref | None = None
    caption: _Caption | None = None
    camera: CameraModel | None = None


@dataclass
class _Pass1:
    poses: PoseBuffer
    images: list[_Ref] = field(default_factory=list)
    depths: list[_Ref] = field(default_factory=list)
    captions: list[_Caption] = field(default_factory=list)
    cameras: list[tuple[int, CameraModel]] = field(default_factory=list)  # (stamp, intrinsics) in stamp order


class RosbagRecording:
    """A rosbag2 folder (or a single .mcap / .db3 file) read as posed frames in stamp order."""

    def __init__(self, path: str | Path, ingest: IngestConfig | None = None, skips: SkipLog | None = None):
        self.path = Path(path)
        self.ingest = ingest or IngestConfig()
        self.skips = skips or SkipLog()
        self.body_to_camera = transform_pose(self.ingest.body_to_camera)
        self.store = typestore()
        self._read_error_logged = False
        reader = self._open()
        try:
            infos = reader.topics
            self.topic_types: dict[str, str] = {name: info.msgtype or "?" for name, info in infos.items()}
            self.topic_counts: dict[str, int] = {name: info.msgcount for name, info in infos.items()}
            total = reader.message_count
        finally:
            reader.close()
        if total == 0:
            raise UserError(f"Bag {self.path} has no messages.")
        self._choose_topics()

    # -- opening and topics ------------------------------------------------------------------------------------

    def _bag_path(self) -> Path:
        if not self.path.exists():
            raise UserError(f"Bag {self.path} does not exist.")
        if self.path.is_dir() and not (self.path / "metadata.yaml").is_file():
            # A recording that was killed leaves its storage file without metadata.yaml: read the file directly.
            files = sorted(p for p in self.path.iterdir() if p.suffix in BAG_FILE_SUFFIXES)
            if len(files) == 1:
                log.warning("%s has no metadata.yaml; reading %s directly", self.path, files[0].name)
                return files[0]
            raise UserError(f"{self.path} is not a rosbag2 folder (no metadata.yaml and not one .mcap/.db3 file).")
        if self.path.is_file() and self.path.suffix not in BAG_FILE_SUFFIXES:
            raise UserError(f"{self.path} is not a rosbag2 file (expected a bag folder, .mcap or .db3).")
        return self.path

    def _open(self) -> Reader:
        path = self._bag_path()
        try:
            reader = Reader(path)
            reader.open()
        except Exception as exc:  # noqa: BLE001 - rosbags raises many kinds for damaged files; the user needs one sentence
            raise UserError(f"Cannot read bag {self.path}: {str(exc).rstrip('.')}.") from None
        return reader

    def _topic_list(self) -> str:
        return ", ".join(f"{t} ({ty})" for t, ty in sorted(self.topic_types.items())) or "none"

    def _pick(self, role: str, configured: list[str], types: tuple[str, ...], candidates: list[str]) -> str | None:
        """The configured topic when the bag has it, else the only candidate of the right type, else None."""
        for topic in configured:
            if topic in self.topic_types:
                if self.topic_types[topic] in types:
                    return topic
                log.warning("topic %s has type %s, not %s; ignored as %s topic", topic, self.topic_types[topic],
                            " or ".join(types), role)
        if len(candidates) == 1:
            log.info("using %s as the %s topic (configured %s is not in the bag)", candidates[0], role,
                     " / ".join(configured))
            return candidates[0]
        return None

    def _choose_topics(self) -> None:
        t = self.ingest.topics
        of_type = {ty: sorted(n for n, x in self.topic_types.items() if x == ty)
                   for ty in (*IMAGE_TYPES, *POSE_TYPES, CAPTION_TYPE)}
        depth_like = [n for n in of_type[IMAGE] if "depth" in n.lower()]
        self.depth_topic = self._pick("depth", [t.depth], (IMAGE,), depth_like)

        images = [n for ty in IMAGE_TYPES for n in of_type[ty] if "depth" not in n.lower() and n != self.depth_topic]
        # Raw and compressed versions of one camera (image_transport) are one camera: prefer the lossless one.
        if len(images) == 2 and max(images, key=len) == min(images, key=len) + "/compressed":
            images = [min(images, key=len)]
        self.image_topic = self._pick("image", [t.image, t.compressed_image], IMAGE_TYPES, images)
        self.caption_topic = self._pick("caption", [t.caption], (CAPTION_TYPE,), of_type[CAPTION_TYPE])
        infos = sorted(n for n, x in self.topic_types.items() if x == CAMERA_INFO)
        self.camera_info_topic = self._pick("camera_info", [t.camera_info], (CAMERA_INFO,), infos)
        self.caption_only = self.image_topic is None and not images and self.caption_topic is not None
        if self.image_topic is None and not self.caption_only:
            which = "several image topics" if len(images) > 1 else "no image topic"
            raise UserError(f"Bag {self.path} has {which} matching ingest.topics.image ({t.image}) or "
                            f"ingest.topics.compressed_image ({t.compressed_image}); its topics are: "
                            f"{self._topic_list()}.")
        poses = [n for ty in POSE_TYPES for n in of_type[ty]]
        self.pose_topic = self._pick("pose", [t.pose], POSE_TYPES, poses)
        if self.pose_topic is None:
            which = "several pose topics" if len(poses) > 1 else "no pose topic"
            raise UserError(f"Bag {self.path} has {which} matching ingest.topics.pose ({t.pose}) "
                            f"(Odometry, PoseStamped or PoseWithCovarianceStamped); its topics are: "
                            f"{self._topic_list()}.")
        main = self.caption_topic if self.caption_only else self.image_topic
        assert main is not None
        if self.topic_counts.get(main, 0) == 0:
            raise UserError(f"Bag {self.path} has no messages on {main}.")
        if self.topic_counts.get(self.pose_topic, 0) == 0:
            raise UserError(f"Bag {self.path} has no messages on the pose topic {self.pose_topic}.")

    @property
    def topics(self) -> dict[str, str | None]:
        """The topic chosen for each role (None: not used)."""
        return {"image": self.image_topic, "depth": self.depth_topic, "pose": self.pose_topic,
                "caption": self.caption_topic, "camera_info": self.camera_info_topic}

    def __len__(self) -> int:
        """Number of image messages (caption messages for a caption-only bag): a progress bar's total."""
        main = self.caption_topic if self.caption_only else self.image_topic
        return self.topic_counts.get(main or "", 0)

    # -- reading -----------------------------------------------------------------------------------------------

    def _messages(self, reader: Reader, topics: set[str]) -> Iterator[tuple[str, str, int, Any, tuple]]:
        """(topic, type, receive time, raw, key) of the messages on ``topics``; stops quietly at bag damage."""
        conns = [c for c in reader.connections if c.topic in topics]
        occurrences: Counter[tuple[str, int]] = Counter()
        it = reader.messages(connections=conns)
        while True:
            try:
                conn, bag_ns, raw = next(it)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001 - truncated or corrupt storage: keep what was read before the damage
                if not self._read_error_logged:
                    self._read_error_logged = True
                    self.skips.skip("bag_read_error", f"{self.path}: {exc}; the rest of the bag is not read")
                return
            occurrences[(conn.topic, bag_ns)] += 1
            yield conn.topic, conn.msgtype, bag_ns, raw, (conn.topic, bag_ns, occurrences[(conn.topic, bag_ns)])

    def _decode(self, topic: str, msgtype: str, raw: Any, bag_ns: int) -> Any | None:
        try:
            return self.store.deserialize_cdr(raw, msgtype)
        except Exception as exc:  # noqa: BLE001 - any malformed CDR is a bad message, never a crash
            if msgtype == CAPTION_TYPE:
                try:  # recorded before Caption had detections
                    return _legacy_store().deserialize_cdr(raw, msgtype)
                except Exception:  # noqa: BLE001, S110 - reported below as the original error
                    pass
            self.skips.skip("bad_message", f"{topic} at {bag_ns / NS:.3f} s: {type(exc).__name__}: {exc}")
            return None

    def _pass1(self, reader: Reader) -> _Pass1:
        # Keep every pose (a bag longer than the buffer's default would otherwise lose its start).
        data = _Pass1(PoseBuffer(self.ingest.max_pose_gap_s, max_len=2**62))
        wanted = {t for t in (self.image_topic, self.depth_topic, self.pose_topic, self.caption_topic,
                              self.camera_info_topic) if t}
        seen: set[tuple[str, int]] = set()
        prev_image_stamp: int | None = None
        for topic, msgtype, bag_ns, raw, key in self._messages(reader, wanted):
            msg = self._decode(topic, msgtype, raw, bag_ns)
            if msg is None:
                continue
            stamp, fallback = _header_stamp(msg.header, bag_ns)
            if fallback:
                self.skips.count("stamp_from_bag_time")
            if (topic, stamp) in seen:
                self.skips.skip("duplicate", f"{topic} at {stamp / NS:.6f} s was already read")
                continue
            seen.add((topic, stamp))
            if topic == self.pose_topic:
                self._add_pose(data.poses, msg, topic, stamp)
            elif topic == self.image_topic:
                if prev_image_stamp is not None and stamp < prev_image_stamp:
                    if self.skips.counts["stamp_backwards"] == 0:
                        log.warning("%s: image stamps go backwards in bag order (%.6f s after %.6f s); frames are "
                                    "sorted by stamp", topic, stamp / NS, prev_image_stamp / NS)
                    self.skips.count("stamp_backwards")
                prev_image_stamp = stamp
                data.images.append(_Ref(key, stamp, topic))
            elif topic == self.depth_topic:
                data.depths.append(_Ref(key, stamp, topic))
            elif topic == self.caption_topic:
                text = str(msg.text).strip()
                objects = [str(o).strip() for o in msg.objects if str(o).strip()]
                detections = detections_from_msg(getattr(msg, "detections", []))
                if not text and not objects and not detections:
                    self.skips.skip("empty_caption", f"{topic} at {stamp / NS:.6f} s has no text and no objects")
                    continue
                data.captions.append(_Caption(stamp, text, objects, detections))
            elif topic == self.camera_info_topic:
                camera = CameraModel.from_k(msg.width, msg.height, msg.k)
                if camera is None:
                    self.skips.skip("bad_camera_info", f"{topic} at {stamp / NS:.6f} s: unusable K or size")
                else:
                    data.cameras.append((stamp, camera))
        data.images.sort(key=lambda r: (r.stamp, r.key))
        data.depths.sort(key=lambda r: (r.stamp, r.key))
        data.captions.sort(key=lambda c: c.stamp)
        data.cameras.sort(key=lambda c: c[0])
        return data

    def _add_pose(self, poses: PoseBuffer, msg: Any, topic: str, stamp: int) -> None:
        p = msg.pose.pose if msg.__msgtype__ in (ODOMETRY, POSE_COV) else msg.pose
        q = [p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w]
        try:
            pose = Pose.checked([p.position.x, p.position.y, p.position.z], q)
        except InvalidPose as exc:
            self.skips.skip("bad_pose", f"{topic} at {stamp / NS:.6f} s: {exc}")
            return
        if abs(float(np.linalg.norm(q)) - 1.0) > QUATERNION_UNIT_TOLERANCE:
            self.skips.count("quaternion_normalised")
        poses.add(stamp, pose)

    def _camera_pose(self, poses: PoseBuffer, stamp: int) -> Pose | None:
        # Interpolate the robot pose, then compose: interpolating composed poses would cut the lever arm's arc.
        robot = poses.at(stamp)
        return None if robot is None else robot.compose(self.body_to_camera)

    @staticmethod
    def _nearest(items: list, stamps: list[int], stamp: int, max_gap_ns: int) -> Any | None:
        i = bisect.bisect_left(stamps, stamp)
        best = None
        for j in (i - 1, i):
            if 0 <= j < len(stamps) and abs(stamps[j] - stamp) <= max_gap_ns and (
                    best is None or abs(stamps[j] - stamp) < abs(stamps[best] - stamp)):
                best = j
        return None if best is None else items[best]

    def __iter__(self) -> Iterator[Frame]:
        self._read_error_logged = False
        reader = self._open()
        try:
            data = self._pass1(reader)
            if self.caption_only:
                yield from self._caption_frames(data)
            else:
                yield from self._image_frames(reader, data)
        finally:
            reader.close()

    def _caption_frames(self, data: _Pass1) -> Iterator[Frame]:
        for c in data.captions:
            pose = self._camera_pose(data.poses, c.stamp)
            if pose is None:
                self.skips.skip("no_pose", f"caption at {c.stamp / NS:.6f} s: no pose within "
                                f"{self.ingest.max_pose_gap_s:g} s")
                continue
            yield Frame(c.stamp, pose, None, c.text, "", list(c.objects), source=f"{self.caption_topic}@{c.stamp}",
                        detections=list(c.detections))

    def _image_frames(self, reader: Reader, data: _Pass1) -> Iterator[Frame]:
        cap_stamps = [c.stamp for c in data.captions]
        depth_stamps = [d.stamp for d in data.depths]
        cam_stamps = [c[0] for c in data.cameras]
        cap_gap = int(self.ingest.caption_max_gap_s * NS)
        plan: list[_Plan] = []
        for ref in data.images:
            pose = self._camera_pose(data.poses, ref.stamp)
            p = _Plan(ref, pose)
            if pose is not None:
                # Depth pairs with its image by stamp, with the same tolerance as captions.
                p.depth = self._nearest(data.depths, depth_stamps, ref.stamp, cap_gap)
                p.caption = self._nearest(data.captions, cap_stamps, ref.stamp, cap_gap)
                if data.cameras:
                    # Intrinsics rarely change: the info nearest in time, however far.
                    p.camera = self._nearest(data.cameras, cam_stamps, ref.stamp, 2**62)[1]
            plan.append(p)
        need_image = {p.ref.key for p in plan if p.pose is not None}
        need_depth = Counter(p.depth.key for p in plan if p.depth is not None)
        raw_images: dict[tuple, Any] = {}
        raw_depths: dict[tuple, Any] = {}

        def ready(p: _Plan) -> bool:
            return p.pose is None or (p.ref.key in raw_images and (p.depth is None or p.depth.key in raw_depths))

        # Messages arrive in bag order; frames leave in stamp order, holding back only the raw bytes of those
        # that arrived early (none when the bag is in stamp order).
        i = 0
        topics = {t for t in (self.image_topic, self.depth_topic) if t}
        msgtypes = {t: self.topic_types[t] for t in topics}
        for _topic, _msgtype, _bag_ns, raw, key in self._messages(reader, topics):
            if key in need_image:
                raw_images[key] = raw
            elif key in need_depth:
                raw_depths[key] = raw
            else:
                continue
            while i < len(plan) and ready(plan[i]):
                frame = self._frame(plan[i], raw_images, raw_depths, need_depth, msgtypes)
                if frame is not None:
                    yield frame
                i += 1
        for p in plan[i:]:  # only after a damaged bag: whatever was read is still used
            if p.pose is None or p.ref.key in raw_images:
                frame = self._frame(p, raw_images, raw_depths, need_depth, msgtypes)
                if frame is not None:
                    yield frame
        unmatched = sum(1 for c in data.captions if not c.used)
        if unmatched:
            log.info("%d caption(s) had no image within %g s", unmatched, self.ingest.caption_max_gap_s)
            self.skips.count("caption_unmatched", unmatched)

    def _frame(self, p: _Plan, raw_images: dict, raw_depths: dict, need_depth: Counter, msgtypes: dict[str, str]
               ) -> Frame | None:
        ref = p.ref
        if p.pose is None:
            self.skips.skip("no_pose", f"{ref.topic}@{ref.stamp}: no pose within {self.ingest.max_pose_gap_s:g} s "
                            f"of {ref.stamp / NS:.6f} s")
            return None
        raw = raw_images.pop(ref.key)
        depth = None
        if p.depth is not None:
            draw = raw_depths.get(p.depth.key)
            need_depth[p.depth.key] -= 1
            if need_depth[p.depth.key] <= 0:
                raw_depths.pop(p.depth.key, None)
            if draw is not None:
                depth = self._depth(p.depth, draw)
        image = self._image(ref, msgtypes[ref.topic], raw)
        if image is None:
            return None
        text, objects, detections = "", [], []
        if p.caption is not None:
            p.caption.used = True
            text, objects, detections = p.caption.text, list(p.caption.objects), list(p.caption.detections)
        return Frame(ref.stamp, p.pose, image, text, "", objects, source=f"{ref.topic}@{ref.stamp}", depth=depth,
                     detections=detections, camera=p.camera)

    def _image(self, ref: _Ref, msgtype: str, raw: Any) -> np.ndarray | None:
        where = f"{ref.topic}@{ref.stamp}"
        msg = self._decode(ref.topic, msgtype, raw, ref.key[1])
        if msg is None:
            return None
        try:
            if msgtype == COMPRESSED:
                if "compresseddepth" in msg.format.lower():
                    self.skips.skip("unsupported_encoding", f"{where}: compressed depth ('{msg.format[:40]}') on "
                                    "the image topic")
                    return None
                return decode_compressed(msg.format, msg.data)
            enc = msg.encoding.strip()
            if enc not in COLOUR_ENCODINGS:
                hint = " (a depth encoding: set ingest.topics.depth)" if enc in DEPTH_ENCODINGS else ""
                self.skips.skip("unsupported_encoding", f"{where}: encoding '{enc[:32]}'{hint}; supported: "
                                f"{', '.join(COLOUR_ENCODINGS)}")
                return None
            return decode_image(enc, msg.height, msg.width, msg.step, msg.data, bool(msg.is_bigendian))
        except BadImage as exc:
            self.skips.skip("bad_image", f"{where}: {exc}")
            return None

    def _depth(self, ref: _Ref, raw: Any) -> np.ndarray | None:
        msg = self._decode(ref.topic, IMAGE, raw, ref.key[1])
        if msg is None:
            return None
        try:
            return decode_depth(msg.encoding, msg.height, msg.width, msg.step, msg.data, bool(msg.is_bigendian))
        except BadImage as exc:
            self.skips.skip("bad_depth", f"{ref.topic}@{ref.stamp}: {exc}; the frame is kept without depth")
            return None


# -- writing -----------------------------------------------------------------------------------------------------


class _BagWriter:
    """Writes standard messages with header stamps; connections are added on first use."""

    def __init__(self, writer: Writer, store: Typestore):
        self.writer = writer
        self.store = store
        self.types = store.types
        self.conns: dict[str, Any] = {}

    def header(self, stamp: int, frame_id: str) -> Any:
        t = self.types
        return t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=stamp // NS, nanosec=stamp % NS),
                                         frame_id=frame_id)

    def write(self, topic: str, msg: Any, stamp: int) -> None:
        msgtype = msg.__msgtype__
        if topic not in self.conns:
            self.conns[topic] = self.writer.add_connection(topic, msgtype, typestore=self.store)
        self.writer.write(self.conns[topic], stamp, self.store.serialize_cdr(msg, msgtype))


def _pose_msg(bw: _BagWriter, pose: Pose, header: Any) -> Any:
    t = bw.types
    x, y, z = pose.position
    qx, qy, qz, qw = pose.orientation
    return t[POSE_STAMPED](header=header, pose=t["geometry_msgs/msg/Pose"](
        position=t["geometry_msgs/msg/Point"](x=x, y=y, z=z),
        orientation=t["geometry_msgs/msg/Quaternion"](x=qx, y=qy, z=qz, w=qw)))


def _raw_image_msg(bw: _BagWriter, img: np.ndarray, header: Any, encoding: str) -> Any:
    data = np.ascontiguousarray(img)
    h, w = data.shape[:2]
    return bw.types[IMAGE](header=header, height=h, width=w, encoding=encoding, is_bigendian=0,
                           step=data.strides[0], data=data.reshape(-1).view(np.uint8))


def detection_msgs(store: Typestore, detections: Iterable[Detection]) -> list[Any]:
    """Caption detections (rosbags objects) for writing a bag."""
    make = store.types[DETECTION_TYPE]
    return [make(label=d.label, score=float(d.score), x_min=float(d.box[0]), y_min=float(d.box[1]),
                 x_max=float(d.box[2]), y_max=float(d.box[3]), colour=d.colour) for d in detections]


def write_bag(frames: Iterable[Frame], out: str | Path, storage: str = "mcap", topics: TopicsConfig | None = None,
              frame_id: str = "map", compressed: bool = True, camera_frame_id: str = "camera_optical_frame",
              jpeg_quality: int = 95) -> dict[str, int]:
    """Write frames as a rosbag2: image (JPEG CompressedImage or raw rgb8/mono8), PoseStamped of the camera pose,
    32FC1 depth when present and a Caption when the frame has text; bag time = header stamp.

    Caption.msg has no name field, so a frame's name is written as the start of the caption text: the frame's
    ``text()`` survives the round trip unchanged. Returns message counts. Never overwrites ``out``.
    """
    out = Path(out)
    topics = topics or TopicsConfig()
    if out.exists() or out.is_symlink():
        raise UserError(f"{out} exists already; bags are never overwritten, choose a new path.")
    if storage not in STORAGES:
        raise UserError(f"Unknown bag storage '{storage}' (choose {' or '.join(STORAGES)}).")
    store = typestore()
    counts = Counter({"frames": 0, "images": 0, "poses": 0, "depth": 0, "captions": 0})
    writer = Writer(out, version=8, storage_plugin=STORAGES[storage])  # version 8: what Jazzy's rosbag2 writes
    try:
        writer.open()
    except OSError as exc:
        raise UserError(f"Cannot create bag {out}: {exc.strerror or exc}.") from None
    try:
        bw = _BagWriter(writer, store)
        for f in frames:
            stamp = int(f.stamp_ns)
            bw.write(topics.pose, _pose_msg(bw, f.pose, bw.header(stamp, frame_id)), stamp)
            counts["poses"] += 1
            if f.image is not None:
                cam = bw.header(stamp, camera_frame_id)
                if compressed:
                    msg = store.types[COMPRESSED](header=cam, format="jpeg", data=np.frombuffer(
                        encode_jpeg(f.image, jpeg_quality), dtype=np.uint8))
                    bw.write(topics.compressed_image, msg, stamp)
                else:
                    img = f.image.astype(np.uint8, copy=False)
                    bw.write(topics.image, _raw_image_msg(bw, img, cam, "mono8" if img.ndim == 2 else "rgb8"), stamp)
                counts["images"] += 1
            if f.depth is not None:
                depth = np.asarray(f.depth, dtype=np.float32)
                bw.write(topics.depth, _raw_image_msg(bw, depth, bw.header(stamp, camera_frame_id), "32FC1"), stamp)
                counts["depth"] += 1
            text = " ".join(p.strip() for p in (f.name, f.caption) if p and p.strip())
            if text or f.objects or f.detections:
                msg = store.types[CAPTION_TYPE](header=bw.header(stamp, camera_frame_id), text=text,
                                                objects=[str(o) for o in f.objects],
                                                detections=detection_msgs(store, f.detections))
                bw.write(topics.caption, msg, stamp)
                counts["captions"] += 1
            counts["frames"] += 1
        writer.close()
    except BaseException:
        # Leave nothing half-written behind: the path did not exist before we started.
        try:
            writer.abort()
        finally:
            shutil.rmtree(out, ignore_errors=True)
        raise
    return dict(counts)


def convert_folder(folder: str | Path, out: str | Path, storage: str = "mcap", progress: bool = True,
                   skips: SkipLog | None = None, topics: TopicsConfig | None = None,
                   compressed: bool = True) -> dict[str, int]:
    """Write a TUM-style folder (see :mod:`embodied_rag.io.tum`) as a rosbag2 with standard messages."""
    skips = skips or SkipLog()
    src = TumFolder(folder, skips)
    frames: Iterable[Frame] = src
    if progress:
        from tqdm import tqdm

        frames = tqdm(src, total=len(src), desc="convert", unit="frame", disable=None)  # None: only on a terminal
    counts = write_bag(frames, out, storage=storage, topics=topics, compressed=compressed)
    counts["skipped"] = skips.skipped
    return counts
