"""Record a robot tour of a building as a rosbag2 (mcap by default), with ground truth and queries beside it.

``out_dir/bag/`` holds, per frame and with one header stamp: ``nav_msgs/Odometry`` of the robot base on
``/odom`` (frame ``map``, child ``base_link``), ``sensor_msgs/CameraInfo``, the colour image (JPEG
``CompressedImage`` or raw ``rgb8`` ``Image``), the depth image (``32FC1``, metres) and an ``embodied_rag_msgs/Caption``
with the detected objects' labels and boxes (a detector with the faults of ``faults``, see
:class:`~embodied_rag.sim.detector.SensorFaults`; the depth image carries its depth faults);
``/tf_static`` holds base_link -> camera_optical_frame once. Topic names are those of
:class:`~embodied_rag.config.TopicsConfig`, so the default config reads the bag, provided ``ingest.body_to_camera``
is :data:`~embodied_rag.sim.tour.BODY_TO_CAMERA` (see :func:`ingest_config`).

``out_dir/ground_truth.json``: the building (rooms, objects, doors), the camera, the transform, the tour (per frame:
stamp, camera pose, room, visible object ids) and which objects were seen. ``out_dir/queries.jsonl``: generated
queries (see :mod:`embodied_rag.sim.queries`).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from embodied_rag.config import IngestConfig, TopicsConfig, TransformConfig
from embodied_rag.errors import UserError
from embodied_rag.io.images import encode_jpeg
from embodied_rag.io.rosbag import CAPTION_TYPE, detection_msgs, typestore
from embodied_rag.memory.detection import CameraModel
from embodied_rag.memory.pose import Pose
from embodied_rag.sim.building import Building
from embodied_rag.sim.queries import make_queries
from embodied_rag.sim.tour import BODY_TO_CAMERA, NS, Tour

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
MAP_FRAME = "map"
BASE_FRAME = "base_link"
CAMERA_FRAME = "camera_optical_frame"


def ingest_config(topics: TopicsConfig | None = None) -> IngestConfig:
    """An ingest config that reads recorded tours: the default topics and the robot's camera mount."""
    t = BODY_TO_CAMERA
    return IngestConfig(topics=topics or TopicsConfig(),
                        body_to_camera=TransformConfig(list(t.position), list(t.orientation)))


class _Msgs:
    """Builds and writes the messages of one bag (connections added on first use)."""

    def __init__(self, writer: Writer):
        self.writer = writer
        self.store = typestore()
        self.t = self.store.types
        self.conns: dict[str, Any] = {}

    def write(self, topic: str, msg: Any, stamp: int) -> None:
        if topic not in self.conns:
            self.conns[topic] = self.writer.add_connection(topic, msg.__msgtype__, typestore=self.store)
        self.writer.write(self.conns[topic], stamp, self.store.serialize_cdr(msg, msg.__msgtype__))

    def header(self, stamp: int, frame_id: str) -> Any:
        return self.t["std_msgs/msg/Header"](stamp=self.t["builtin_interfaces/msg/Time"](
            sec=stamp // NS, nanosec=stamp % NS), frame_id=frame_id)

    def vec(self, v: Any) -> Any:
        return self.t["geometry_msgs/msg/Vector3"](x=float(v[0]), y=float(v[1]), z=float(v[2]))

    def quat(self, q: Any) -> Any:
        return self.t["geometry_msgs/msg/Quaternion"](x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3]))

    def odometry(self, stamp: int, pose: Pose, lin: tuple[float, float], ang_z: float) -> Any:
        t = self.t
        p = t["geometry_msgs/msg/Pose"](position=t["geometry_msgs/msg/Point"](
            x=pose.position[0], y=pose.position[1], z=pose.position[2]), orientation=self.quat(pose.orientation))
        twist = t["geometry_msgs/msg/Twist"](linear=self.vec((lin[0], lin[1], 0.0)), angular=self.vec((0, 0, ang_z)))
        cov = np.zeros(36, dtype=np.float64)
        return t["nav_msgs/msg/Odometry"](
            header=self.header(stamp, MAP_FRAME), child_frame_id=BASE_FRAME,
            pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=p, covariance=cov),
            twist=t["geometry_msgs/msg/TwistWithCovariance"](twist=twist, covariance=cov.copy()))

    def camera_info(self, stamp: int, k: CameraModel) -> Any:
        t = self.t
        return t["sensor_msgs/msg/CameraInfo"](
            header=self.header(stamp, CAMERA_FRAME), height=k.height, width=k.width, distortion_model="plumb_bob",
            d=np.zeros(5), k=np.array(k.k), r=np.eye(3).reshape(-1),
            p=np.array([k.fx, 0.0, k.cx, 0.0, 0.0, k.fy, k.cy, 0.0, 0.0, 0.0, 1.0, 0.0]), binning_x=0, binning_y=0,
            roi=t["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))

    def image(self, stamp: int, img: np.ndarray, encoding: str) -> Any:
        data = np.ascontiguousarray(img)
        return self.t["sensor_msgs/msg/Image"](header=self.header(stamp, CAMERA_FRAME), height=data.shape[0],
                                               width=data.shape[1], encoding=encoding, is_bigendian=0,
                                               step=data.strides[0], data=data.reshape(-1).view(np.uint8))

    def tf_static(self, stamp: int, parent: str, child: str, tf: Pose) -> Any:
        t = self.t
        ts = t["geometry_msgs/msg/TransformStamped"](header=self.header(stamp, parent), child_frame_id=child,
                                                     transform=t["geometry_msgs/msg/Transform"](
                                                         translation=self.vec(tf.position),
                                                         rotation=self.quat(tf.orientation)))
        return t["tf2_msgs/msg/TFMessage"](transforms=[ts])


def record(building: Building, out_dir: str | Path, fps: float = 2.0, width: int = 320, height: int = 240,
           speed_mps: float = 1.0, storage: str = "mcap", compressed: bool = True, depth: bool = True,
           jpeg_quality: int = 90, topics: TopicsConfig | None = None, query_seed: int = 0,
           progress: bool = True, **tour_kwargs: Any) -> dict[str, Path]:
    """Render the tour of ``building`` and write ``out_dir/bag``, ``out_dir/ground_truth.json`` and
    ``out_dir/queries.jsonl``. Returns those paths by name ("bag", "ground_truth", "queries").

    Never overwrites a bag: ``out_dir/bag`` must not exist. A failed recording leaves no half-written bag behind.
    About 0.4 MB per frame at 320x240 with depth (depth dominates), 1.3 MB at 640x480.
    """
    out_dir = Path(out_dir)
    bag = out_dir / "bag"
    if bag.exists() or bag.is_symlink():
        raise UserError(f"{bag} exists already; recordings are never overwritten, choose a new folder.")
    if storage not in STORAGES:
        raise UserError(f"Unknown bag storage '{storage}' (choose {' or '.join(STORAGES)}).")
    topics = topics or TopicsConfig()
    tour = Tour(building, fps=fps, speed_mps=speed_mps, render=True, width=width, height=height, **tour_kwargs)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"Cannot create {out_dir}: {exc.strerror or exc}.") from None
    writer = Writer(bag, version=8, storage_plugin=STORAGES[storage])  # version 8: what Jazzy's rosbag2 writes
    writer.open()
    frames_gt: list[dict[str, Any]] = []
    try:
        m = _Msgs(writer)
        k = tour.renderer.intrinsics
        m.write("/tf_static", m.tf_static(tour.start_ns, BASE_FRAME, CAMERA_FRAME, tour.body_to_camera), tour.start_ns)
        frames: Any = tour
        if progress:
            from tqdm import tqdm

            frames = tqdm(tour, total=len(tour), desc="record tour", unit="frame", disable=None)
        bps = tour.base_poses
        for i, f in enumerate(frames):
            stamp, bp = f.stamp_ns, bps[i]
            lin, ang = _twist(bps, i)
            m.write(topics.pose, m.odometry(stamp, bp.pose(), lin, ang), stamp)
            m.write(topics.camera_info, m.camera_info(stamp, k), stamp)
            if compressed:
                jpeg = np.frombuffer(encode_jpeg(f.image, jpeg_quality), dtype=np.uint8)
                msg = m.t["sensor_msgs/msg/CompressedImage"](header=m.header(stamp, CAMERA_FRAME), format="jpeg",
                                                             data=jpeg)
                m.write(topics.compressed_image, msg, stamp)
            else:
                m.write(topics.image, m.image(stamp, f.image, "rgb8"), stamp)
            if depth and f.depth is not None:
                m.write(topics.depth, m.image(stamp, f.depth.astype(np.float32), "32FC1"), stamp)
            m.write(topics.caption, m.t[CAPTION_TYPE](header=m.header(stamp, CAMERA_FRAME), text=f.caption,
                                                      objects=list(f.objects),
                                                      detections=detection_msgs(m.store, f.detections)), stamp)
            frames_gt.append({"stamp_ns": stamp, "camera": [*f.pose.position, *f.pose.orientation],
                              "room": bp.room, "objects": sorted(tour.visible[i])})
        writer.close()
    except BaseException:
        try:
            writer.abort()
        finally:
            shutil.rmtree(bag, ignore_errors=True)
        raise
    gt = building.ground_truth()
    gt["camera"] = {"width": k.width, "height": k.height, "fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy,
                    "fov_deg": tour.renderer.fov_deg, "frame_id": CAMERA_FRAME}
    gt["body_to_camera"] = {"translation": list(tour.body_to_camera.position),
                            "rotation_xyzw": list(tour.body_to_camera.orientation)}
    gt["topics"] = {"odometry": topics.pose, "camera_info": topics.camera_info, "depth": topics.depth if depth else
                    None, "image": topics.compressed_image if compressed else topics.image, "caption": topics.caption}
    gt["tour"] = {"frames": len(frames_gt), "fps": fps, "speed_mps": speed_mps, "length_m": round(tour.length_m, 2),
                  "start_ns": tour.start_ns, "end_ns": frames_gt[-1]["stamp_ns"] if frames_gt else tour.start_ns}
    gt["seen"] = {str(oid): len(ix) for oid, ix in sorted(tour.seen.items())}
    gt["frames"] = frames_gt
    paths = {"bag": bag, "ground_truth": out_dir / "ground_truth.json", "queries": out_dir / "queries.jsonl"}
    paths["ground_truth"].write_text(json.dumps(gt, indent=1) + "\n")
    queries = make_queries(building, tour.seen, seed=query_seed)
    paths["queries"].write_text("".join(json.dumps(q) + "\n" for q in queries))
    return paths


def _twist(bps: list, i: int) -> tuple[tuple[float, float], float]:
    """Body-frame forward/left velocity and yaw rate towards the next pose (zero at the end and across a ride)."""
    if i + 1 >= len(bps) or bps[i + 1].z != bps[i].z:
        return (0.0, 0.0), 0.0
    a, b = bps[i], bps[i + 1]
    dt = (b.stamp_ns - a.stamp_ns) / NS
    if dt <= 0:
        return (0.0, 0.0), 0.0
    dx, dy = (b.x - a.x) / dt, (b.y - a.y) / dt
    c, s = math.cos(a.yaw), math.sin(a.yaw)
    dyaw = (b.yaw - a.yaw + math.pi) % (2 * math.pi) - math.pi
    return (c * dx + s * dy, -s * dx + c * dy), dyaw / dt
