"""``EmbodiedRagClient``: ask a running ``query_node`` from your own rclpy node and drive to the answer, in the
style of nav2_simple_commander's ``BasicNavigator`` (the client spins the node itself while it waits, so do not
spin that node in another executor at the same time).

    rclpy.init()
    node = rclpy.create_node("asker")
    client = EmbodiedRagClient(node)
    client.wait_until_ready()
    answer = client.ask("where can I get a drink?")
    if answer.goal:
        client.go_to(answer.goal)   # Nav2's NavigateToPose action when it is there, else /goal_pose
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node

from embodied_rag.errors import UserError
from embodied_rag.io.images import BadImage
from embodied_rag.retrieval.answer import Answer, Goal
from embodied_rag.ros import conversions as conv


def _navigate_to_pose_type() -> Any:
    """nav2_msgs/action/NavigateToPose when nav2_msgs is installed, else None."""
    try:
        from nav2_msgs.action import NavigateToPose
    except ImportError:
        return None
    return NavigateToPose


class EmbodiedRagClient:
    """Questions to ``/embodied_rag/query`` and goals to Nav2 from one node."""

    def __init__(self, node: Node, service: str = "/embodied_rag/query", goal_topic: str = "/goal_pose",
                 navigate_action: str = "navigate_to_pose", executor: Any = None):
        """``executor``: the executor the node is already in, if any (else the client spins the node itself)."""
        from embodied_rag_msgs.srv import Query

        self.node, self.executor = node, executor
        self._query = Query
        self.client = node.create_client(Query, service, qos_profile=conv.CLIENT_QOS)
        self.goal_pub = node.create_publisher(PoseStamped, goal_topic, 10)
        action_type = _navigate_to_pose_type()
        self.nav_type = action_type
        self.nav = None
        if action_type is not None:
            from rclpy.action import ActionClient

            self.nav = ActionClient(node, action_type, navigate_action)
        self.goal_handle: Any = None

    def wait_until_ready(self, timeout_s: float = 30.0) -> bool:
        """True once the query service answers requests (False after ``timeout_s``)."""
        return self.client.wait_for_service(timeout_sec=timeout_s)

    def ask(self, text: str, kind: str = "auto", mode: str | None = None,
            robot_position: Iterable[float] | None = None, frame_id: str = "map", image: Any = None,
            timeout_s: float = 30.0, robot: str | None = None) -> Answer:
        """Ask one question; the Answer is the one ``open_memory(...).ask`` gives. With ``image`` (a file path,
        JPEG/PNG bytes or an RGB uint8 array) the question is where that photo was taken. A refused question (empty,
        too long, unknown kind, unusable image) raises UserError with the service's reason; no reply in
        ``timeout_s`` raises TimeoutError. In a fleet's memory, ``robot`` keeps to what that robot recorded."""
        request = self._query.Request(query=text, kind="" if kind == "auto" else kind, mode=mode or "",
                                      robot=robot or "")
        if image is not None:
            try:
                fields = conv.image_request_fields(image)
            except BadImage as exc:
                raise UserError(f"The query image cannot be used: {exc}.") from None
            for name, value in fields.items():
                setattr(request, name, value)
        if robot_position is not None:
            xyz = [float(v) for v in robot_position] + [0.0]
            request.use_robot_pose = True
            request.robot_pose = conv.pose_stamped(frame_id, (xyz[0], xyz[1], xyz[2]), (0.0, 0.0, 0.0, 1.0))
        response = self._wait(self.client.call_async(request), timeout_s, f"the answer to '{text[:60]}'")
        if not response.success:
            raise UserError(response.error_message)
        return conv.answer_from_response(response)

    def go_to(self, goal: Goal | Answer, timeout_s: float = 5.0) -> str:
        """Send the goal to Nav2: the ``NavigateToPose`` action when a server answers within ``timeout_s``, else a
        ``PoseStamped`` on the goal topic (what Nav2's goal pose plugin and RViz use). Returns which it used,
        "navigate_to_pose" or "goal_pose"; raises UserError when there is no goal or Nav2 rejects it."""
        if isinstance(goal, Answer):
            if goal.goal is None:
                raise UserError(f"The answer has no goal to drive to: {goal.answer}")
            goal = goal.goal
        pose = conv.goal_to_pose_stamped(goal, self.node.get_clock().now().to_msg())
        if self.nav is not None and self.nav.wait_for_server(timeout_sec=timeout_s):
            request = self.nav_type.Goal()
            request.pose = pose
            handle = self._wait(self.nav.send_goal_async(request), timeout_s, "Nav2 to accept the goal")
            if not handle.accepted:
                raise UserError("Nav2 rejected the goal.")
            self.goal_handle = handle
            return "navigate_to_pose"
        self.goal_pub.publish(pose)
        return "goal_pose"

    def _wait(self, future: Any, timeout_s: float, what: str) -> Any:
        if self.executor is not None:
            self.executor.spin_until_future_complete(future, timeout_sec=timeout_s)
        else:
            rclpy.spin_until_future_complete(self.node, future, timeout_sec=timeout_s)
        if not future.done():
            future.cancel()
            raise TimeoutError(f"No reply within {timeout_s:.0f} s waiting for {what}.")
        return future.result()

    def destroy(self) -> None:
        self.node.destroy_client(self.client)
        self.node.destroy_publisher(self.goal_pub)
        if self.nav is not None:
            self.nav.destroy()
