"""``query_node``: answers ``embodied_rag_msgs/srv/Query`` from a memory that another process may be writing.

- The memory is opened read-only and refreshed every ``refresh_period_s`` (cheap when nothing changed), so
  keyframes committed by a ``memory_node`` appear without a restart. A directory that does not exist yet (the
  memory node has not written its first keyframe) is retried on the same timer; queries meanwhile fail with a reason.
- A bad query (empty, too long, unknown kind or mode, robot pose in another frame) is answered with
  ``success: false`` and ``error_message``; the node keeps running.
- ``navigate: true`` also publishes the goal on ``goal_topic`` (``/goal_pose``, what Nav2 and RViz use).
- Robot position for "nearest": the request's ``robot_pose`` when ``use_robot_pose`` is true; otherwise the latest
  pose received on ``robot_pose_topic`` (default ``ingest.topics.pose``) when it is at most
  ``robot_pose_max_age_s`` old (wall time) and in the memory frame; otherwise none. The retriever uses it only to
  choose the closest among equally good candidates.
- Markers (``visualization_msgs/MarkerArray``, transient local) on ``markers_topic`` whenever the memory or the last
  answer changed, at most once per ``markers_min_period_s``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from geometry_msgs.msg import PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from visualization_msgs.msg import MarkerArray

from embodied_rag.api import OpenMemory
from embodied_rag.errors import UserError
from embodied_rag.io.images import BadImage
from embodied_rag.memory.backend import location_of, redact
from embodied_rag.memory.pose import InvalidPose
from embodied_rag.ros import conversions as conv
from embodied_rag.ros.markers import build_markers
from embodied_rag.ros.memory_node import run_nodes
from embodied_rag.ros.params import NodeParam, declare_config, read_config, read_params

QUERY_PARAMS = [
    NodeParam("memory_dir", "~/.ros/embodied_rag/memory",
              "memory directory or postgresql:// URL (opened read-only)"),
    NodeParam("service_name", "/embodied_rag/query", "embodied_rag_msgs/srv/Query service"),
    NodeParam("goal_topic", "/goal_pose", "where navigate requests publish their goal"),
    NodeParam("markers_topic", "/embodied_rag/markers", "visualization_msgs/MarkerArray (transient local)"),
    NodeParam("robot_pose_topic", "", "robot pose for 'nearest' (empty: ingest.topics.pose)"),
    NodeParam("pose_type", "auto", "message type on robot_pose_topic: auto, odometry, pose_stamped or "
                                   "pose_with_covariance"),
    NodeParam("robot_pose_max_age_s", 10.0, "an older robot pose is not used"),
    NodeParam("service_queue_depth", 256, "requests that may wait for the service; DDS keeps the newest this many, "
                                          "so a deeper backlog loses requests (their clients never get a reply)"),
    NodeParam("refresh_period_s", 1.0, "how often to look for keyframes committed by the memory node"),
    NodeParam("markers_min_period_s", 1.0, "markers are republished at most this often"),
    NodeParam("marker_level_height_m", 2.5, "height between forest levels in RViz"),
]


class QueryNode(Node):
    def __init__(self, node_name: str = "query_node", text_embedder: Any = None, **kwargs: Any):
        super().__init__(node_name, **kwargs)
        from embodied_rag.api import Models
        from embodied_rag.retrieval.retriever import warm_up

        declare_config(self, QUERY_PARAMS)
        self.config = read_config(self)
        self.p = read_params(self, QUERY_PARAMS)
        if self.p["pose_type"] not in ("auto", *conv.POSE_MSG_TYPES):
            raise UserError(f"Parameter pose_type must be auto or one of {', '.join(conv.POSE_MSG_TYPES)}, "
                            f"got '{self.p['pose_type']}'.")
        self.models = Models.for_queries(self.config, text=text_embedder)
        # Before the service exists: a client that sees it gets answers at once, not after seconds of set-up.
        warm_up(self.models.text)
        self.memory_dir = location_of(str(self.p["memory_dir"]), expand_user=True)
        self.opened: OpenMemory | None = None
        self.open_error = ""
        self.last_answer = None
        self.markers_dirty = True
        self.markers_sent = 0.0
        self.robot: tuple[float, float, float] | None = None
        self.robot_at = 0.0
        self.queries = 0
        # Service, refresh and markers share the memory: one mutually exclusive group, so a refresh never runs
        # in the middle of a query even under a multi-threaded executor.
        group = MutuallyExclusiveCallbackGroup()
        from embodied_rag_msgs.srv import Query

        self.goal_pub = self.create_publisher(PoseStamped, str(self.p["goal_topic"]), 10)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.markers_pub = self.create_publisher(MarkerArray, str(self.p["markers_topic"]), latched)
        # The default service QoS keeps 10 requests: with more clients waiting than that, the oldest requests are
        # lost and their clients wait forever (clients need a deep reply queue too: conversions.CLIENT_QOS).
        requests = QoSProfile(depth=max(1, int(self.p["service_queue_depth"])), reliability=ReliabilityPolicy.RELIABLE)
        self.service = self.create_service(Query, str(self.p["service_name"]), self.on_query, qos_profile=requests,
                                           callback_group=group)
        self._open()
        self.create_timer(float(self.p["refresh_period_s"]), self.refresh, callback_group=group)
        self.create_timer(0.2, self.publish_markers, callback_group=group)
        self.pose_topic = str(self.p["robot_pose_topic"]) or self.config.ingest.topics.pose
        if self.p["pose_type"] == "auto":
            self.pose_timer = self.create_timer(0.5, self._discover_pose_type)
        else:
            self._subscribe_pose(self.p["pose_type"])
        self.get_logger().info(f"serving {self.resolve_service_name(str(self.p['service_name']))} from "
                               f"{redact(self.memory_dir)}")

    # -- memory -----------------------------------------------------------------------------------------------
    def _open(self) -> bool:
        try:
            self.opened = OpenMemory(self.memory_dir, self.config, self.models)
        except UserError as exc:
            if str(exc) != self.open_error:
                self.get_logger().warning(f"memory not available yet: {exc}")
            self.open_error = str(exc)
            return False
        self.open_error = ""
        self.markers_dirty = True
        self.get_logger().info(f"memory {redact(self.memory_dir)}: {len(self.opened.memory.keyframes)} keyframes")
        return True

    def refresh(self) -> None:
        if self.opened is None:
            self._open()
            return
        try:
            if self.opened.refresh():
                self.markers_dirty = True
        except Exception as exc:  # noqa: BLE001 - a store being written can be busy; try again next period
            self.get_logger().warning(f"refresh failed: {type(exc).__name__}: {exc}", throttle_duration_sec=10.0)

    # -- robot pose -------------------------------------------------------------------------------------------
    def _subscribe_pose(self, kind: str) -> None:
        self.create_subscription(conv.POSE_MSG_TYPES[kind], self.pose_topic, self.on_pose, qos_profile_sensor_data)

    def _discover_pose_type(self) -> None:
        name = self.resolve_topic_name(self.pose_topic)
        for topic, types in self.get_topic_names_and_types():
            known = [conv.POSE_TYPE_NAMES[ty] for ty in types if ty in conv.POSE_TYPE_NAMES]
            if topic == name and known:
                self.pose_timer.cancel()
                self._subscribe_pose(known[0])
                return

    def on_pose(self, msg: Any) -> None:
        frame = msg.header.frame_id.lstrip("/")
        if frame and frame != self.config.frame_id:
            self.get_logger().warning(f"robot pose is in frame '{frame}', not '{self.config.frame_id}'; not used "
                                      "for nearest queries", once=True)
            return
        try:
            _, pose = conv.pose_from_msg(msg)
        except InvalidPose:
            return
        self.robot, self.robot_at = pose.position, time.monotonic()

    def robot_position(self, request: Any) -> tuple[float, float, float] | None:
        if request.use_robot_pose:
            frame = request.robot_pose.header.frame_id.lstrip("/")
            if frame and frame != self.config.frame_id:
                raise UserError(f"robot_pose is in frame '{frame}'; it must be in the memory frame "
                                f"'{self.config.frame_id}'.")
            p = request.robot_pose.pose.position
            return (p.x, p.y, p.z)
        if self.robot is not None and time.monotonic() - self.robot_at <= float(self.p["robot_pose_max_age_s"]):
            return self.robot
        return None

    # -- service ----------------------------------------------------------------------------------------------
    def on_query(self, request: Any, response: Any) -> Any:
        self.queries += 1
        limit = self.config.retrieval.max_query_chars
        if len(request.query) > 4 * limit:  # refuse a huge request before normalising it character by character
            return conv.fail_response(response, f"The query has {len(request.query)} characters; the limit is "
                                                f"{limit}.")
        try:
            if self.opened is None and not self._open():
                return conv.fail_response(response, f"The memory is not available yet: {self.open_error}")
            # Pick up keyframes committed since the last refresh: answers should reflect what was just seen.
            self.refresh()
            try:
                image = conv.request_image(request)
            except BadImage as exc:
                raise UserError(f"The query image cannot be used: {exc}.") from None
            answer = self.opened.ask(request.query, kind=request.kind.strip() or "auto",
                                     mode=request.mode.strip() or None, robot_position=self.robot_position(request),
                                     image=image, robot=request.robot.strip() or None)
        except UserError as exc:
            self.get_logger().warning(f"query refused: {exc}")
            return conv.fail_response(response, str(exc))
        except Exception as exc:  # noqa: BLE001 - one failing query must not take the service down
            self.get_logger().error(f"query failed: {type(exc).__name__}: {exc}")
            return conv.fail_response(response, f"Internal error while answering: {type(exc).__name__}: {exc}")
        stamp = self.get_clock().now().to_msg()
        conv.fill_response(response, answer, stamp)
        if answer.degraded:
            self.get_logger().info(f"answer degraded: {answer.degraded}")
        if request.navigate and answer.goal is not None:
            self.goal_pub.publish(conv.goal_to_pose_stamped(answer.goal, stamp))
        self.last_answer = answer
        self.markers_dirty = True
        return response

    # -- markers ----------------------------------------------------------------------------------------------
    def publish_markers(self) -> None:
        if not self.markers_dirty or self.opened is None:
            return
        if time.monotonic() - self.markers_sent < float(self.p["markers_min_period_s"]):
            return
        self.markers_dirty = False
        self.markers_sent = time.monotonic()
        self.markers_pub.publish(build_markers(self.opened.memory, self.last_answer, self.config.frame_id,
                                               self.get_clock().now().to_msg(),
                                               level_height=float(self.p["marker_level_height_m"])))

    def close(self) -> None:
        if self.opened is not None:
            self.opened.close()
            self.opened = None


def main(argv: list[str] | None = None) -> int:
    return run_nodes(lambda: [QueryNode()], argv)


if __name__ == "__main__":
    sys.exit(main())
