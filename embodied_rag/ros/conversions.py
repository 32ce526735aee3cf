"""ROS messages to core types and back. No algorithm here: decoding is :mod:`embodied_rag.io.images`, pose checks
are :class:`embodied_rag.memory.pose.Pose`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, PoseStamped, PoseWithCovarianceStamped
from nav_msgs.msg import Odometry
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from embodied_rag.io.images import (
    COLOUR_ENCODINGS,
    DEPTH_ENCODINGS,
    BadImage,
    decode_compressed,
    decode_depth,
    decode_image,
)
from embodied_rag.io.rosbag import detections_from_msg
from embodied_rag.memory.detection import Detection
from embodied_rag.memory.pose import Pose
from embodied_rag.retrieval.answer import Answer, Goal

NS = 1_000_000_000
# Query clients: every client of a service receives every reply and keeps only its own *after* the reader's history,
# so a KEEP_LAST 10 reader (the default) loses its reply when more than ten others arrive before it is taken (measured:
# 50 clients in one process, 13 of 50 replies delivered). One executor takes from its clients in turn, the last
# created last: under load (50 clients, ~70 replies/s, 2 busy cores) depth 256 lost up to 5 replies a minute in 4 of
# 5 runs, all to the last dozen clients, though the service had sent them. 2048 holds ~30 s of replies at that rate.
CLIENT_QOS = QoSProfile(depth=2048, reliability=ReliabilityPolicy.RELIABLE)
POSE_MSG_TYPES = {"odometry": Odometry, "pose_stamped": PoseStamped, "pose_with_covariance": PoseWithCovarianceStamped}
POSE_TYPE_NAMES = {"nav_msgs/msg/Odometry": "odometry", "geometry_msgs/msg/PoseStamped": "pose_stamped",
                   "geometry_msgs/msg/PoseWithCovarianceStamped": "pose_with_covariance"}


def stamp_ns(header: Any) -> int:
    return int(header.stamp.sec) * NS + int(header.stamp.nanosec)


def time_msg(ns: int) -> Time:
    return Time(sec=int(ns // NS), nanosec=int(ns % NS))


def image_to_numpy(msg: Image | CompressedImage) -> np.ndarray:
    """RGB (or grey) uint8 pixels of a colour image message. Raises BadImage with a one-line reason."""
    if isinstance(msg, CompressedImage):
        if "compresseddepth" in msg.format.lower():
            raise BadImage(f"compressed depth ('{msg.format[:40]}') on the image topic")
        return decode_compressed(msg.format, msg.data)
    enc = msg.encoding.strip()
    if enc not in COLOUR_ENCODINGS:
        hint = " (a depth encoding: publish it on the depth topic)" if enc in DEPTH_ENCODINGS else ""
        raise BadImage(f"unsupported encoding '{enc[:32]}'{hint}; supported: {', '.join(COLOUR_ENCODINGS)}")
    return decode_image(enc, msg.height, msg.width, msg.step, _buffer(msg.data), bool(msg.is_bigendian))


def check_image(msg: Image | CompressedImage) -> None:
    """Cheap checks a subscription callback can afford before the pixels are decoded (later, off the callback).
    Raises BadImage."""
    if isinstance(msg, CompressedImage):
        if "compresseddepth" in msg.format.lower():
            raise BadImage(f"compressed depth ('{msg.format[:40]}') on the image topic")
        if len(msg.data) == 0:
            raise BadImage("compressed image is empty")
        return
    enc = msg.encoding.strip()
    if enc not in COLOUR_ENCODINGS:
        hint = " (a depth encoding: publish it on the depth topic)" if enc in DEPTH_ENCODINGS else ""
        raise BadImage(f"unsupported encoding '{enc[:32]}'{hint}; supported: {', '.join(COLOUR_ENCODINGS)}")
    if msg.height <= 0 or msg.width <= 0:
        raise BadImage(f"empty image ({msg.width}x{msg.height})")
    if msg.step < msg.width * COLOUR_ENCODINGS[enc] or len(msg.data) < msg.step * msg.height:
        raise BadImage(f"data has {len(msg.data)} bytes, {msg.step * msg.height} expected for "
                       f"{msg.width}x{msg.height} step {msg.step}")


def depth_to_numpy(msg: Image) -> np.ndarray:
    """Depth in metres (float32). Raises BadImage."""
    return decode_depth(msg.encoding, msg.height, msg.width, msg.step, _buffer(msg.data), bool(msg.is_bigendian))


def _buffer(data: Any) -> Any:
    # rclpy gives uint8[] as array.array (or bytes); a numpy view avoids one copy of the pixels.
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError):
        return bytes(data)


def pose_from_msg(msg: Odometry | PoseStamped | PoseWithCovarianceStamped) -> tuple[int, Pose]:
    """(header stamp in ns, checked pose). Raises InvalidPose for NaN/inf, absurd positions, zero quaternions."""
    p = msg.pose.pose if isinstance(msg, (Odometry, PoseWithCovarianceStamped)) else msg.pose
    pose = Pose.checked([p.position.x, p.position.y, p.position.z],
                        [p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w])
    return stamp_ns(msg.header), pose


def caption_from_msg(msg: Any) -> tuple[int, str, list[str], list[Detection]]:
    """(stamp, text, object labels, boxes) of an ``embodied_rag_msgs/Caption``; the pairing drops empty ones."""
    return stamp_ns(msg.header), str(msg.text), [str(o) for o in msg.objects], detections_from_msg(msg.detections)


def detection2d_array_type() -> type | None:
    """``vision_msgs/msg/Detection2DArray``, or None when vision_msgs is not installed (it is optional)."""
    try:
        from vision_msgs.msg import Detection2DArray
    except ImportError:
        return None
    return Detection2DArray


def detections_from_detection2d_array(msg: Any) -> tuple[int, list[Detection]]:
    """(header stamp, boxes) of a ``vision_msgs/Detection2DArray``: each Detection2D's box from its centre and size,
    its label and score from its first result's hypothesis. Detections without a result, a label, a finite score or
    a non-empty finite box are left out."""
    out = []
    for d in msg.detections:
        if not len(d.results):
            continue
        hyp = d.results[0].hypothesis
        c = d.bbox.center.position
        cx, cy, sx, sy = float(c.x), float(c.y), float(d.bbox.size_x), float(d.bbox.size_y)
        det = Detection(str(hyp.class_id).strip(), (cx - sx / 2, cy - sy / 2, cx + sx / 2, cy + sy / 2),
                        float(hyp.score))
        if det.label and np.all(np.isfinite(det.box)) and np.isfinite(det.score) and sx > 0 and sy > 0:
            out.append(det)
    return stamp_ns(msg.header), out


def pose_stamped(frame_id: str, position: Any, orientation: Any, stamp: Time | None = None) -> PoseStamped:
    msg = PoseStamped()
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in position)
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in orientation)
    return msg


def goal_to_pose_stamped(goal: Goal, stamp: Time | None = None) -> PoseStamped:
    return pose_stamped(goal.frame_id, goal.position, goal.orientation, stamp)


def fill_response(response: Any, answer: Answer, stamp: Time | None = None) -> Any:
    """Fill an ``embodied_rag_msgs/srv/Query`` response from an Answer."""
    response.success = True
    response.answer = answer.answer
    response.kind = answer.kind
    response.has_goal = answer.goal is not None
    if answer.goal is not None:
        response.goal = goal_to_pose_stamped(answer.goal, stamp)
    obj = answer.object
    response.has_object = obj is not None
    if obj is not None:
        response.object_label = str(obj.get("label") or "")
        response.object_id = int(obj.get("id") or 0)
        x, y, z = (float(v) for v in obj.get("position") or (0.0, 0.0, 0.0))
        response.object_position = Point(x=x, y=y, z=z)
    response.has_time = answer.time_ns is not None
    if answer.time_ns is not None:
        response.time = Time(sec=int(answer.time_ns // NS), nanosec=int(answer.time_ns % NS))
    response.has_duration = answer.duration_s is not None
    response.duration_s = float(answer.duration_s or 0.0)
    response.has_count = answer.count is not None
    response.count = int(answer.count or 0)
    response.has_yes_no = answer.yes_no is not None
    response.yes_no = bool(answer.yes_no)
    response.has_confidence = answer.confidence is not None
    response.confidence = float(answer.confidence or 0.0)
    response.evidence = list(answer.evidence)
    response.level = int(answer.level)
    response.llm_calls = int(answer.llm_calls)
    response.latency_ms = float(answer.latency_ms)
    response.error_message = ""
    response.degraded = answer.degraded
    return response


def answer_from_response(response: Any) -> Answer:
    """The Answer a ``Query`` response carries (the inverse of :func:`fill_response`; the object's colour,
    uncertainty and sightings are not in the message)."""
    goal = None
    if response.has_goal:
        p, q = response.goal.pose.position, response.goal.pose.orientation
        goal = Goal(response.goal.header.frame_id, (p.x, p.y, p.z), (q.x, q.y, q.z, q.w))
    obj = None
    if response.has_object:
        o = response.object_position
        obj = {"id": int(response.object_id), "label": response.object_label, "position": [o.x, o.y, o.z]}
    return Answer(answer=response.answer, kind=response.kind, goal=goal, evidence=list(response.evidence),
                  level=int(response.level), llm_calls=int(response.llm_calls), latency_ms=float(response.latency_ms),
                  degraded=response.degraded, object=obj,
                  time_ns=response.time.sec * NS + response.time.nanosec if response.has_time else None,
                  duration_s=float(response.duration_s) if response.has_duration else None,
                  count=int(response.count) if response.has_count else None,
                  yes_no=bool(response.yes_no) if response.has_yes_no else None,
                  confidence=float(response.confidence) if response.has_confidence else None)


def request_image(request: Any) -> np.ndarray | None:
    """The photo of a ``Query`` request (``image`` or ``compressed_image``, whichever has data) as RGB uint8, or
    None when it has none. Raises BadImage with a one-line reason."""
    raw, packed = len(request.image.data) > 0, len(request.compressed_image.data) > 0
    if raw and packed:
        raise BadImage("the request has both image and compressed_image; send one")
    if not (raw or packed):
        return None
    msg = request.image if raw else request.compressed_image
    check_image(msg)
    return image_to_numpy(msg)


def image_request_fields(image: Any) -> dict[str, Image | CompressedImage]:
    """The ``Query`` request field for a photo: a file path or encoded JPEG/PNG bytes travel as they are (in
    ``compressed_image``), an RGB (or grey) uint8 array as raw pixels (in ``image``)."""
    if isinstance(image, np.ndarray):
        pixels = np.ascontiguousarray(image)
        if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
            raise BadImage(f"the image array has dtype {pixels.dtype} and shape {tuple(pixels.shape)}; give RGB "
                           "uint8 (H x W x 3) or grey (H x W)")
        h, w = pixels.shape[:2]
        enc, channels = ("rgb8", 3) if pixels.ndim == 3 else ("mono8", 1)
        return {"image": Image(height=h, width=w, encoding=enc, step=w * channels, data=pixels.tobytes())}
    if isinstance(image, (bytes, bytearray, memoryview)):
        data, fmt = bytes(image), "jpeg" if bytes(image[:2]) == b"\xff\xd8" else "png"
    else:
        path = Path(image)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadImage(f"cannot read {path}: {exc.strerror or exc}") from None
        fmt = path.suffix.lstrip(".").lower() or "jpeg"
    return {"compressed_image": CompressedImage(format=fmt, data=data)}


def fail_response(response: Any, reason: str) -> Any:
    response.success = False
    response.error_message = reason
    return response
