"""``memory_node``: live memory from a camera and a pose stream.

Subscription callbacks stay cheap: they check and convert messages, hand them to the stamp pairing
(:mod:`embodied_rag.io.pairing`: each image with the pose at its stamp, interpolated, ``ingest.max_pose_gap_s``;
with an external caption and its boxes, ``embodied_rag_msgs/Caption``, detections, ``vision_msgs/Detection2DArray``
when that package is installed, and depth, each within ``ingest.caption_max_gap_s``; with the latest ``CameraInfo``)
and apply the keyframe policy to the frames it releases. Captioning, embedding, placing detected objects and
committing run on one worker thread that takes keyframes from a bounded queue; when it is full the oldest waiting
keyframe is dropped (the newest wins) and counted. Summaries of changed areas are refreshed on the worker, in
batches, every ``summary_period_s``, never per frame. Keyframes the captioner could not caption (server down, bad
reply) are captioned later on the same worker when it is idle, a batch per round, every
``caption_backlog_period_s`` (:func:`embodied_rag.api.work_backlog`, as ``embodied-rag caption`` does).

Images that arrive before the poses that bracket their stamp (or before their caption, detections or depth, when a
publisher of them exists) wait in a small bounded buffer for at most ``pose_wait_s`` / ``caption_wait_s`` of wall
time.

Status: ``diagnostic_msgs/DiagnosticArray`` on ``status_topic`` (default ``/diagnostics``) every
``status_period_s``: frames, keyframes, drops by cause, queue length and high-water mark, skips by reason,
captions and detection messages received, whether a camera model is known, object observations (with depth) and
object instances.
A restarted node continues the same memory directory as a new session. With a PostgreSQL memory whose server goes
away, the worker says so in one log line, keeps new keyframes in its queue and reconnects every
``RECONNECT_PERIOD_S``; the session goes on, and the frames of the failed batch are committed again.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from embodied_rag.api import Models
from embodied_rag.config import Config
from embodied_rag.errors import UserError
from embodied_rag.io.frame import Frame, SkipLog
from embodied_rag.io.images import BadImage
from embodied_rag.io.pairing import CAPTION, DEPTH, DETECTIONS, Paired, StampPairer
from embodied_rag.memory.backend import location_of, store_errors
from embodied_rag.memory.detection import CameraModel
from embodied_rag.memory.pose import InvalidPose
from embodied_rag.ros import conversions as conv
from embodied_rag.ros.params import NodeParam, declare_config, read_config, read_params

NS = 1_000_000_000
RECONNECT_PERIOD_S = 2.0  # a PostgreSQL memory whose server went away: how often the worker tries again

MEMORY_PARAMS = [
    NodeParam("memory_dir", "~/.ros/embodied_rag/memory",
              "memory directory or postgresql:// URL; created, or continued as a new session when it exists"),
    NodeParam("robot_name", "", "the robot whose sessions these are (a fleet's memory: queries can filter by it)"),
    NodeParam("pose_type", "auto", "message type on ingest.topics.pose: auto (from the graph), odometry, "
                                   "pose_stamped or pose_with_covariance"),
    NodeParam("image_type", "auto", "camera transport: auto (raw and compressed topics, the first to deliver wins), "
                                    "raw or compressed"),
    NodeParam("use_depth", False, "subscribe ingest.topics.depth and camera_info and keep depth with frames "
                                  "(detected objects are placed with it)"),
    NodeParam("use_caption_topic", True, "pair images with embodied_rag_msgs/Caption (text, labels, boxes) on "
                                         "ingest.topics.caption, and with vision_msgs/Detection2DArray on "
                                         "ingest.topics.detections when vision_msgs is installed"),
    NodeParam("reliable", False, "subscribe reliable instead of the sensor-data QoS (best effort): for replays "
                                 "that must not lose a frame"),
    NodeParam("camera_silence_s", 10.0, "warn when no image has come for this long although the camera topic has a "
                                        "publisher (repeated after twice the wait each time, up to 32x); 0 disables"),
    NodeParam("pose_wait_s", 0.5, "wall time an image waits for poses at or after its stamp"),
    NodeParam("caption_wait_s", 0.5, "wall time an image waits for its caption (detections, depth) while a "
                                     "publisher of them exists"),
    NodeParam("image_buffer", 16, "images waiting for poses/captions; beyond this the oldest is dropped"),
    NodeParam("queue_size", 64, "keyframes waiting for captions/embeddings; beyond this the oldest is dropped"),
    NodeParam("status_topic", "/diagnostics", "diagnostic_msgs/DiagnosticArray status topic"),
    NodeParam("status_period_s", 1.0, "status period"),
    NodeParam("summary_period_s", 5.0, "how often changed areas get new names and summaries (in batches)"),
    NodeParam("summary_max_nodes", 64, "areas summarised per round at most"),
    NodeParam("caption_backlog_period_s", 30.0,
              "how often keyframes left without a caption (the captioner was down or failed on them, or the memory "
              "was built without one) are captioned again on the worker, a batch per round, when a captioner is "
              "configured; 0 disables"),
]


class NodeSkipLog(SkipLog):
    """SkipLog that writes its few lines per reason through the node's logger."""

    def __init__(self, logger: Any, max_lines_per_reason: int = 3):
        super().__init__(max_lines_per_reason)
        self.logger = logger

    def skip(self, reason: str, detail: str) -> None:
        key = f"skipped:{reason}"
        self.counts[key] += 1
        n = self.counts[key]
        if n <= self.max_lines:
            self.logger.warning(f"skipped ({reason}): {detail}")
        elif n == self.max_lines + 1:
            self.logger.warning(f"skipped ({reason}): more of these follow; only counted from now on")


@dataclass
class _Job:
    frame: Frame
    msg: Any  # compressed image still to decode, or None


class MemoryNode(Node):
    def __init__(self, node_name: str = "memory_node", models_factory: Callable[[Config], Models] | None = None,
                 **kwargs: Any):
        super().__init__(node_name, **kwargs)
        from embodied_rag.memory.memory import Memory

        declare_config(self, MEMORY_PARAMS)
        self.config = read_config(self)
        self.p = read_params(self, MEMORY_PARAMS)
        if self.p["pose_type"] not in ("auto", *conv.POSE_MSG_TYPES):
            raise UserError(f"Parameter pose_type must be auto or one of {', '.join(conv.POSE_MSG_TYPES)}, "
                            f"got '{self.p['pose_type']}'.")
        if self.p["image_type"] not in ("auto", "raw", "compressed"):
            raise UserError(f"Parameter image_type must be auto, raw or compressed, got '{self.p['image_type']}'.")
        cfg = self.config
        self.models = (models_factory or Models.for_ingest)(cfg)
        self.memory_dir = location_of(str(self.p["memory_dir"]), expand_user=True)
        self.memory = Memory(self.memory_dir, cfg, writable=True)
        self._coverage_cache: tuple[int, Any] | None = None
        self.session = self.memory.begin_session(f"ros:{self.get_fully_qualified_name()}",
                                                 robot=str(self.p["robot_name"]))
        self.skips = NodeSkipLog(self.get_logger())
        self._ingestors()
        self.unstored: list[Any] = []  # frames of a batch the database server vanished under, for after it is back
        self.get_logger().info(f"memory {self.memory.dir}: {len(self.memory.keyframes)} keyframes, "
                               f"session {self.session}")

        self.subs: dict[str, Any] = {}  # the side streams subscribed: CAPTION, DETECTIONS, DEPTH
        self.pairer = StampPairer(cfg.ingest, pose_wait_s=float(self.p["pose_wait_s"]),
                                  side_wait_s=float(self.p["caption_wait_s"]),
                                  image_buffer=int(self.p["image_buffer"]), skips=self.skips,
                                  expects=self._stream_published, decode_depth=conv.depth_to_numpy)
        self.image_source: str | None = None
        self.counts = {"images": 0, "dropped_queue_full": 0, "queue_high_water": 0, "committed": 0, "committing": 0,
                       "captioned_later": 0, "caption_backlog": 0, "reconnections": 0, "camera_silent": 0}
        self.queue: deque[_Job] = deque()
        self.cond = threading.Condition()
        self.stopping = False
        self.last_summary = time.monotonic()
        # Caption later: the first round runs at the first idle moment (a memory may hold an older backlog).
        self.backlog_period = float(self.p["caption_backlog_period_s"])
        self.last_backlog = -float("inf")

        if self.p["reliable"]:
            sensor = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50, reliability=ReliabilityPolicy.RELIABLE)
            stream = sensor
        else:
            sensor = qos_profile_sensor_data
            stream = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                                reliability=ReliabilityPolicy.BEST_EFFORT)
        t = cfg.ingest.topics
        self.camera_subs: list[Any] = []
        if self.p["image_type"] in ("auto", "raw"):
            self.camera_subs.append(self.create_subscription(Image, t.image, lambda m: self.on_image(m, t.image),
                                                             sensor))
        if self.p["image_type"] in ("auto", "compressed"):
            self.camera_subs.append(self.create_subscription(CompressedImage, t.compressed_image,
                                                             lambda m: self.on_image(m, t.compressed_image), sensor))
        self._heard_camera()  # start-up counts as hearing: the first warning comes camera_silence_s later
        if self.p["use_caption_topic"]:
            from embodied_rag_msgs.msg import Caption

            self.subs[CAPTION] = self.create_subscription(Caption, t.caption, self.on_caption, stream)
            detection_array = conv.detection2d_array_type()
            if detection_array is None:
                self.get_logger().info(f"vision_msgs is not installed: {t.detections} (Detection2DArray) is not "
                                       "subscribed; boxes come with embodied_rag_msgs/Caption only")
            else:
                self.subs[DETECTIONS] = self.create_subscription(detection_array, t.detections, self.on_detections,
                                                                 stream)
        if self.p["use_depth"]:
            self.subs[DEPTH] = self.create_subscription(Image, t.depth, self.on_depth, sensor)
            self.create_subscription(CameraInfo, t.camera_info, self.on_camera_info, sensor)
        self.pose_topic = t.pose
        self.pose_qos = stream
        self.pose_sub = None
        if self.p["pose_type"] == "auto":
            self.pose_timer = self.create_timer(0.2, self._discover_pose_type)
        else:
            self._subscribe_pose(self.p["pose_type"])
        self.status_pub = self.create_publisher(DiagnosticArray, str(self.p["status_topic"]), 10)
        self.create_timer(float(self.p["status_period_s"]), self.publish_status)
        self.create_timer(0.05, self._release)  # wall-time limits of waiting images
        self.create_timer(1.0, self._watch_camera)
        self.worker = threading.Thread(target=self._work, name="embodied_rag_ingest", daemon=True)
        self.worker.start()

    def _ingestors(self) -> None:
        from embodied_rag.memory.ingest import Ingestor

        # Two ingestors over one memory: the callbacks' one only applies the policy (its batch never fills, so it
        # never flushes); the worker's one captions, embeds and commits what the first accepted.
        self.policy = Ingestor(self.memory, self.models.text, skips=self.skips, batch_size=2**62)
        self.writer = Ingestor(self.memory, self.models.text, self.models.image, self.models.captioner, self.skips)

    # -- subscriptions ----------------------------------------------------------------------------------------
    def _subscribe_pose(self, kind: str) -> None:
        self.pose_sub = self.create_subscription(conv.POSE_MSG_TYPES[kind], self.pose_topic, self.on_pose,
                                                 self.pose_qos)
        self.get_logger().info(f"pose topic {self.resolve_topic_name(self.pose_topic)}: {kind}")

    def _watch_camera(self) -> None:
        # A camera topic with a publisher but no image: incompatible QoS (a best-effort camera and reliable:=true),
        # or a publisher that cannot reach this node (with Fast DDS 2.14 over UDP, a camera publisher has kept
        # sending nothing to a memory node restarted after kill -9 while its odometry arrived: eProsima/Fast-DDS#5469).
        silence, now = float(self.p["camera_silence_s"]), time.monotonic()
        if silence <= 0 or now < self.camera_warn_at:
            return
        topics = [sub.topic_name for sub in self.camera_subs]
        publishers = sum(self.count_publishers(topic) for topic in topics)
        if publishers == 0:  # no camera (yet, or any more): nothing to hear
            self._heard_camera()
            return
        quiet = now - self.camera_heard
        self.camera_warnings += 1
        self.camera_warn_at = now + silence * 2 ** min(self.camera_warnings, 5)
        self.counts["camera_silent"] += 1
        self.get_logger().warning(
            f"no image on {' or '.join(topics)} for {quiet:.0f} s although it has {publishers} publisher(s): check "
            "that their QoS is compatible (reliable:=true needs a reliable camera) and, if this node was restarted "
            "after a crash, restart the camera driver (a Fast DDS publisher can fail to reach a restarted "
            "subscriber)")

    def _heard_camera(self) -> None:
        self.camera_heard, self.camera_warnings = time.monotonic(), 0
        self.camera_warn_at = self.camera_heard + float(self.p["camera_silence_s"])

    def _discover_pose_type(self) -> None:
        name = self.resolve_topic_name(self.pose_topic)
        for topic, types in self.get_topic_names_and_types():
            if topic != name:
                continue
            known = [conv.POSE_TYPE_NAMES[ty] for ty in types if ty in conv.POSE_TYPE_NAMES]
            if not known:
                self.get_logger().error(f"pose topic {name} has type {', '.join(types)}; expected Odometry, "
                                        "PoseStamped or PoseWithCovarianceStamped (set ingest.topics.pose)",
                                        once=True)
                return
            if len(known) > 1:
                self.get_logger().warning(f"pose topic {name} has several types; using {known[0]}")
            self.pose_timer.cancel()
            self._subscribe_pose(known[0])
            return

    def on_pose(self, msg: Any) -> None:
        try:
            stamp, pose = conv.pose_from_msg(msg)
        except InvalidPose as exc:
            self.skips.skip("bad_pose", f"{self.pose_topic} at {conv.stamp_ns(msg.header) / NS:.6f} s: {exc}")
            return
        self._offer(self.pairer.add_pose(stamp, pose, time.monotonic()))

    def on_caption(self, msg: Any) -> None:
        stamp, text, objects, detections = conv.caption_from_msg(msg)
        self._offer(self.pairer.add_caption(stamp, text, objects, detections, time.monotonic()))

    def on_detections(self, msg: Any) -> None:
        stamp, detections = conv.detections_from_detection2d_array(msg)
        self._offer(self.pairer.add_detections(stamp, detections, time.monotonic()))

    def on_depth(self, msg: Image) -> None:
        # Decoded only when an image is paired with it.
        self._offer(self.pairer.add_depth(conv.stamp_ns(msg.header), msg, time.monotonic()))

    def on_camera_info(self, msg: CameraInfo) -> None:
        camera = CameraModel.from_k(msg.width, msg.height, msg.k)
        if camera is None:
            self.skips.skip("bad_camera_info", f"{self.config.ingest.topics.camera_info} at "
                                               f"{conv.stamp_ns(msg.header) / NS:.6f} s: unusable K or size")
            return
        self.pairer.set_camera(camera)

    def on_image(self, msg: Image | CompressedImage, topic: str) -> None:
        self._heard_camera()
        if self.image_source is None:
            self.image_source = topic
            self.get_logger().info(f"camera: {topic}")
        elif topic != self.image_source:
            return  # the same camera on its other transport
        self.counts["images"] += 1
        stamp = conv.stamp_ns(msg.header)
        where = f"{topic}@{stamp}"
        try:
            conv.check_image(msg)
            # Raw pixels are one copy away; compressed ones are decoded on the worker, only for keyframes.
            image = conv.image_to_numpy(msg) if isinstance(msg, Image) else None
        except BadImage as exc:
            reason = "unsupported_encoding" if "encoding" in str(exc) or "depth" in str(exc) else "bad_image"
            self.skips.skip(reason, f"{where}: {exc}")
            return
        self._offer(self.pairer.add_image(stamp, topic, time.monotonic(), image, None if image is not None else msg))

    # -- pairing ----------------------------------------------------------------------------------------------
    def _stream_published(self, stream: str) -> bool:
        """Whether images should wait for ``stream`` (CAPTION, DETECTIONS, DEPTH): subscribed and published."""
        sub = self.subs.get(stream)
        return sub is not None and self.count_publishers(sub.topic_name) > 0

    def _release(self) -> None:
        """Wall-time limits of waiting images."""
        self._offer(self.pairer.release(time.monotonic()))

    def _offer(self, released: list[Paired]) -> None:
        """Apply the keyframe policy to paired frames; queue the keyframes for the worker."""
        for p in released:
            frame = p.frame
            if frame.image is None and self.config.keyframes.novelty:
                # The novelty test compares pixels, so it needs them now.
                try:
                    frame.image = conv.image_to_numpy(p.payload)
                except BadImage as exc:
                    self.skips.skip("bad_image", f"{frame.source}: {exc}")
                    continue
            if not self.policy.offer(frame):
                continue
            self.policy.pending.clear()
            with self.cond:
                if len(self.queue) >= int(self.p["queue_size"]):
                    self.queue.popleft()
                    self.counts["dropped_queue_full"] += 1
                self.queue.append(_Job(frame, p.payload if frame.image is None else None))
                self.counts["queue_high_water"] = max(self.counts["queue_high_water"], len(self.queue))
                self.cond.notify()

    # -- worker -----------------------------------------------------------------------------------------------
    def _work(self) -> None:
        period = float(self.p["summary_period_s"])
        while True:
            with self.cond:
                if not self.queue and not self.stopping:
                    self.cond.wait(timeout=min(period, 1.0))
                n = min(len(self.queue), self.writer.batch_size)
                self.counts["committing"] = n  # before the queue shrinks: status never sees both at zero early
                batch = [self.queue.popleft() for _ in range(n)]
                stopping = self.stopping
            if self.memory.server_lost:  # a PostgreSQL memory whose server went away: wait for it, frames queue
                if stopping:
                    return
                if not self._reconnect():
                    time.sleep(RECONNECT_PERIOD_S)
                with self.cond:
                    self.queue.extendleft(reversed(batch))
                continue
            try:
                if batch:
                    self._commit(batch)
                elif self._backlog_due() and not stopping:
                    self._caption_backlog()
                elif time.monotonic() - self.last_summary >= period or stopping:
                    self._summaries()
            except Exception as exc:  # noqa: BLE001 - the worker must survive one bad batch; the log says why
                self.get_logger().error(f"ingest worker: {type(exc).__name__}: {exc}")
            finally:
                self.counts["committing"] = 0
            if stopping and not batch:
                return

    def _commit(self, batch: list[_Job]) -> None:
        frames = []
        for job in batch:
            if job.frame.image is None and job.msg is not None:
                try:
                    job.frame.image = conv.image_to_numpy(job.msg)
                except BadImage as exc:
                    self.skips.skip("bad_image", f"{job.frame.source}: {exc}")
                    continue
            frames.append(job.frame)
        self.writer.pending = frames
        try:
            self.counts["committed"] += len(self.writer.flush())
        except UserError as exc:
            if not self.memory.server_lost:
                raise
            # Each keyframe commits on its own: those of this batch after the last one stored go again later.
            self.unstored = frames
            self.get_logger().error(f"{exc} Reconnecting every {RECONNECT_PERIOD_S:g} s; new frames wait in the "
                                    f"queue (at most {self.p['queue_size']}).")

    def _reconnect(self) -> bool:
        """Reopen the memory once its database server is back (a fresh copy of what the store holds, which the
        in-RAM copy of the failed write may not match) and go on with the same session."""
        from embodied_rag.memory.memory import Memory

        try:
            memory = Memory(self.memory_dir, self.config, writable=True)
            last = memory.rejoin_session(self.session)
        except (UserError, *store_errors()):
            return False
        old, self.memory = self.memory, memory
        self._ingestors()
        self._coverage_cache = None
        with contextlib.suppress(Exception):
            old.close()
        retry = [job_frame for job_frame in self.unstored if last is None or job_frame.stamp_ns > last]
        self.unstored = []
        with self.cond:
            self.queue.extendleft(reversed([_Job(f, None) for f in retry]))
        self.counts["reconnections"] += 1
        self.get_logger().info(f"reconnected to {self.memory.dir}: session {self.session} goes on with "
                               f"{len(self.memory.keyframes)} keyframes; {len(retry)} frames of the failed batch "
                               "are committed again")
        return True

    def _backlog_due(self) -> bool:
        return (self.models.captioner is not None and self.backlog_period > 0
                and time.monotonic() - self.last_backlog >= self.backlog_period)

    def _caption_backlog(self) -> None:
        """One round of caption later (a batch, so new frames wait at most one batch); the next round follows at
        once while rounds make progress, else after ``caption_backlog_period_s``."""
        from embodied_rag.api import work_backlog

        report = work_backlog(self.memory, self.models, limit=self.writer.batch_size)
        progressed = report["captioned"] + report["embedded"]
        self.last_backlog = -float("inf") if progressed and report["remain"] else time.monotonic()
        self.counts["captioned_later"] += report["captioned"]
        self.counts["caption_backlog"] = report["remain"]
        if report["failed"]:
            self.get_logger().warning(f"caption later: {report['failed']} keyframes failed again "
                                      f"({report['failures'][0]['error'] if report['failures'] else ''}); "
                                      f"{report['remain']} wait for the next round")
        if progressed:
            self._coverage_cache = None

    def _summaries(self) -> None:
        from embodied_rag.memory.summaries import PlaceTyper, refresh_summaries

        self.last_summary = time.monotonic()
        if not any(n.dirty for n in self.memory.forest.nodes.values()):
            return
        if not hasattr(self, "_summarizer"):
            self._summarizer = self.models.summarizer()
            self._typer = PlaceTyper(self.models.text)
        refresh_summaries(self.memory, self._summarizer, self._typer, self.config.forest.summary_batch_size,
                          max_nodes=int(self.p["summary_max_nodes"]))

    # -- status -----------------------------------------------------------------------------------------------
    def status(self) -> dict[str, int | str]:
        c, pc = self.counts, self.pairer.counts
        values: dict[str, int | str] = {
            "frames": self.policy.stats.frames, "keyframes": self.writer.stats.keyframes,
            "memory_keyframes": len(self.memory.keyframes), "dropped_by_policy": self.policy.stats.dropped_by_policy,
            "dropped_queue_full": c["dropped_queue_full"], "dropped_image_buffer": pc["dropped_image_buffer"],
            "queue": len(self.queue), "committing": c["committing"], "queue_high_water": c["queue_high_water"],
            "images_waiting": len(self.pairer.waiting),
            "images": c["images"], "poses": pc["poses"], "captions": pc["captions"],
            "detections": pc["detections"], "session": self.session,
            # Keyframes the configured captioner could not caption (server down, slow, garbage): kept uncaptioned.
            "caption_failures": int(getattr(self.models.captioner, "failures", 0)),
            # Caption later: keyframes captioned by the periodic retry, and those still waiting after its last round.
            "captioned_later": c["captioned_later"], "caption_backlog": c["caption_backlog"],
            # Areas whose name and summary wait for the next summary round (answers name their place once it ran).
            "areas_to_summarise": sum(n.dirty for n in list(self.memory.forest.nodes.values())),
            "camera": self.image_source or "", "camera_info": int(self.pairer.camera is not None),
            "camera_silent": c["camera_silent"],  # warnings: no image though the camera topic has a publisher
            # Detections placed in the memory frame (with depth: the rest at their viewpoint), and the instances.
            "object_observations": self.writer.stats.observations,
            "object_observations_depth": self.writer.stats.from_depth, "object_instances": len(self.memory.objects),
        }
        # Never silently blind: how many keyframes questions in words can find, and why the others cannot.
        coverage = self._coverage()
        values["searchable_by_language"] = coverage.searchable
        values["not_searchable_by_language"] = coverage.blind
        values["not_searchable_why"] = coverage.why(self.config)
        for key, n in sorted(self.skips.counts.items()):
            values[key] = n
        return values

    def _coverage(self):
        from embodied_rag.memory.coverage import language_coverage

        n = len(self.memory.keyframes)
        if self._coverage_cache is None or self._coverage_cache[0] != n:
            self._coverage_cache = (n, language_coverage(list(self.memory.keyframes.values())))
        return self._coverage_cache[1]

    def publish_status(self) -> None:
        values = self.status()
        st = DiagnosticStatus()
        st.name = f"embodied_rag: {self.get_name()}"
        st.hardware_id = str(self.memory.dir)
        dropped = int(values["dropped_queue_full"]) + int(values["dropped_image_buffer"])
        st.level = DiagnosticStatus.WARN if dropped or self.skips.skipped else DiagnosticStatus.OK
        st.message = (f"{values['keyframes']} keyframes from {values['frames']} frames this session; "
                      f"{dropped} dropped, {self.skips.skipped} skipped")
        if values["not_searchable_by_language"]:
            st.level = DiagnosticStatus.WARN
            st.message += f"; {values['not_searchable_why']}"
        st.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        arr = DiagnosticArray()
        arr.header.stamp = self.get_clock().now().to_msg()
        arr.status = [st]
        self.status_pub.publish(arr)

    # -- shutdown ---------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Commit what is queued, record the session's counters and release the memory."""
        if getattr(self, "worker", None) is None:
            return
        with self.cond:
            self.stopping = True
            self.cond.notify()
        self.worker.join(timeout=60.0)
        self.worker = None
        snapshots = {"session", "searchable_by_language", "not_searchable_by_language",  # states, not counts
                     "caption_backlog"}
        counts = {k: int(v) for k, v in self.status().items() if isinstance(v, int) and k not in snapshots}
        try:
            if not self.memory.server_lost:
                self.memory.store.add_counters(self.session, counts)
        finally:
            with contextlib.suppress(Exception):
                self.memory.close()


def run_nodes(nodes_factory, argv: list[str] | None = None, threads: int = 1) -> int:
    """Init rclpy, build the nodes, spin until shutdown; a UserError at start-up is one log line and exit 1."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rclpy.init(args=argv if argv is not None else sys.argv)
    nodes: list[Node] = []
    try:
        try:
            nodes = nodes_factory()
        except UserError as exc:
            rclpy.logging.get_logger("embodied_rag").error(str(exc))
            return 1
        if threads > 1:
            from rclpy.executors import MultiThreadedExecutor

            executor = MultiThreadedExecutor(num_threads=threads)
        else:
            from rclpy.executors import SingleThreadedExecutor

            executor = SingleThreadedExecutor()
        for n in nodes:
            executor.add_node(n)
        try:
            executor.spin()
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        except Exception:
            # A signal can shut the context down while a worker thread builds its wait set; rclpy then raises
            # RCLError ("context is not valid") rather than ExternalShutdownException. That is a clean stop.
            if rclpy.ok():
                raise
        return 0
    finally:
        for n in nodes:
            close = getattr(n, "close", None)
            if close is not None:
                close()
            n.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()


def main(argv: list[str] | None = None) -> int:
    return run_nodes(lambda: [MemoryNode()], argv)


if __name__ == "__main__":
    sys.exit(main())
