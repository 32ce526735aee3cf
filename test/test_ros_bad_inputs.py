"""Bad messages and bad queries against the one-process node (``embodied_rag_node``): each gets a log line or a
``success: false`` reply with a reason and the node keeps running; a restarted node continues the memory as a new
session."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ros_helpers import RosTestClient, ros_env

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
S = 1_000_000_000
T0 = 1_700_000_000 * S


def start_node(memory: Path, log: Path, env: dict[str, str]) -> tuple[subprocess.Popen, object]:
    fh = open(log, "w")  # noqa: SIM115 - closed in stop()
    args = [str(BIN / "embodied_rag_node"), "--ros-args", "-p", f"memory_dir:={memory}", "-p", "pose_type:=odometry",
            "-p", "image_type:=raw", "-p", "status_period_s:=0.3", "-p", "markers_min_period_s:=0.3",
            "-p", "refresh_period_s:=0.3"]
    return subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=str(REPO)), fh


def stop(proc: subprocess.Popen, fh, timeout: float = 20.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    fh.close()
    return proc.returncode


class Robot(RosTestClient):
    """Publishes camera and odometry like a robot would, and calls the service."""

    def __init__(self, domain: int):
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import Image

        from embodied_rag_msgs.msg import Caption

        super().__init__(domain, "test_robot")
        self.image_pub = self.node.create_publisher(Image, "/camera/image_raw", 10)
        self.odom_pub = self.node.create_publisher(Odometry, "/odom", 50)
        self.caption_pub = self.node.create_publisher(Caption, "/embodied_rag/caption", 10)
        self.Image, self.Odometry = Image, Odometry

    def ready(self, timeout: float) -> bool:
        return self.spin_until(lambda: self.cli.service_is_ready() and self.image_pub.get_subscription_count() > 0
                               and self.odom_pub.get_subscription_count() > 0
                               and self.caption_pub.get_subscription_count() > 0 and bool(self.status), timeout)

    def odom(self, stamp: int, x: float, qw: float = 1.0) -> None:
        m = self.Odometry()
        m.header.stamp.sec, m.header.stamp.nanosec = stamp // S, stamp % S
        m.header.frame_id = "map"
        m.pose.pose.position.x = x
        m.pose.pose.orientation.w = qw
        self.odom_pub.publish(m)

    def image(self, stamp: int, encoding: str = "rgb8", seed: int = 0) -> None:
        m = self.Image()
        m.header.stamp.sec, m.header.stamp.nanosec = stamp // S, stamp % S
        m.height, m.width, m.encoding, m.step = 48, 64, encoding, 64 * 3
        m.data = np.random.default_rng(seed).integers(0, 255, 48 * 64 * 3, dtype=np.uint8).tobytes()
        self.image_pub.publish(m)

    def caption(self, stamp: int, text: str, objects: list[str]) -> None:
        from embodied_rag_msgs.msg import Caption

        m = Caption(text=text, objects=objects)
        m.header.stamp.sec, m.header.stamp.nanosec = stamp // S, stamp % S
        self.caption_pub.publish(m)

    def ask(self, text: str, timeout: float = 20.0, **fields):
        fut = self.cli.call_async(self.Query.Request(query=text, **fields))
        assert self.spin_until(fut.done, timeout), f"no reply to {text[:40]!r}"
        return fut.result()


def test_bad_inputs_are_reported_and_the_node_keeps_running(tmp_path):
    domain = 1 + (os.getpid() * 11 + 2 * 37) % 200
    env = ros_env(domain)
    memory = tmp_path / "memory"
    log1, log2 = tmp_path / "node1.log", tmp_path / "node2.log"
    proc, fh = start_node(memory, log1, env)
    robot = None
    try:
        robot = Robot(domain)
        assert robot.ready(90), log1.read_text()[-3000:]
        robot.spin_until(lambda: False, 0.5)  # the node's side of the matches

        # Good frames: 2 m apart, each a keyframe; captions from an "external captioner" paired by stamp.
        rooms = [("A kitchen with a red fridge.", ["fridge"]), ("An office with a desk.", ["desk"]),
                 ("A lobby with a sofa.", ["sofa"]), ("A corridor with a fire extinguisher.", ["extinguisher"])]
        for i, (text, objects) in enumerate(rooms):
            t = T0 + i * S
            robot.odom(t, 2.0 * i)
            robot.caption(t, text, objects)
            robot.spin_until(lambda: False, 0.05)
            robot.image(t, seed=i)
            robot.spin_until(lambda: False, 0.1)
        t = T0 + 10 * S
        robot.odom(t, 20.0)
        robot.image(t, encoding="yuv422")                 # an encoding the node cannot read
        robot.odom(T0 + 11 * S, math.nan)                  # a NaN pose
        robot.odom(T0 + 12 * S, 1.0, qw=0.0)               # a zero quaternion
        robot.odom(T0 + 13 * S, 30.0)
        robot.image(T0 + 13 * S, seed=9)                   # good: the last keyframe
        robot.spin_until(lambda: False, 0.2)
        robot.odom(T0 + 2 * S + S // 2, 5.0)
        # Topics are not ordered among each other, and a busy node may take a waiting image before a waiting
        # pose: the image goes only once the node has counted the pose.
        assert robot.spin_until(lambda: robot.status.get("poses") == "7", 20), robot.status
        robot.image(T0 + 2 * S + S // 2, seed=7)           # a stamp before the last frame's
        m = robot.Image()                                   # a raw image whose data is too short
        m.header.stamp.sec = T0 // S + 20
        m.height, m.width, m.encoding, m.step = 48, 64, "rgb8", 192
        m.data = b"\x00" * 100
        robot.image_pub.publish(m)

        def settled() -> bool:
            s = robot.status
            return (s.get("memory_keyframes") == "5" and s.get("skipped:stamp_backwards") == "1"
                    and s.get("skipped:bad_image") == "1" and s.get("queue") == "0")

        assert robot.spin_until(settled, 20), f"{robot.status}\n{log1.read_text()[-3000:]}"
        s = robot.status
        assert s["skipped:unsupported_encoding"] == "1"
        assert s["skipped:bad_pose"] == "2"

        empty = robot.ask("   ")
        assert not empty.success and "empty" in empty.error_message
        huge = robot.ask("x" * 1_000_000)
        assert not huge.success and "limit" in huge.error_message
        bad_kind = robot.ask("where is the desk?", kind="sideways")
        assert not bad_kind.success and bad_kind.error_message
        bad_frame = robot.ask("where is the desk?", use_robot_pose=True)
        bad_frame_ok = bad_frame.success  # an unset robot pose (frame "") counts as the memory frame
        robot_pose = robot.Query.Request().robot_pose
        robot_pose.header.frame_id = "odom"
        other = robot.ask("where is the desk?", use_robot_pose=True, robot_pose=robot_pose)
        assert not other.success and "frame" in other.error_message
        good = robot.ask("where is the fridge?", navigate=True)
        assert good.success and good.has_goal and good.goal.header.frame_id == "map", good
        assert good.evidence[0] == "kf:1" and abs(good.goal.pose.position.x) < 1.5, good
        assert bad_frame_ok
        assert proc.poll() is None, "the node died"
        text = log1.read_text()
        for expected in ("unsupported encoding 'yuv422'", "position is not finite", "zero length",
                         "older than the last one", "bytes", "query refused: The query is empty"):
            assert expected in text, f"no log line with {expected!r}:\n{text[-3000:]}"
        assert "Traceback" not in text
        assert stop(proc, fh) == 0

        # A restart continues the memory as a new session.
        proc, fh = start_node(memory, log2, env)
        robot.status = {}
        assert robot.ready(90), log2.read_text()[-3000:]
        assert robot.spin_until(lambda: robot.status.get("session") == "2", 10), robot.status
        assert robot.status["memory_keyframes"] == "5"
        robot.spin_until(lambda: False, 0.5)
        robot.odom(T0 + 100 * S, 50.0)
        robot.image(T0 + 100 * S, seed=11)
        assert robot.spin_until(lambda: robot.status.get("memory_keyframes") == "6", 20), robot.status
        assert robot.ask("where is the desk?").success
        assert stop(proc, fh) == 0
    finally:
        stop(proc, fh)
        if robot is not None:
            robot.close()
    from embodied_rag.config import Config
    from embodied_rag.memory.memory import Memory

    with Memory(memory, Config(), writable=False) as m:
        assert len(m.keyframes) == 6
        assert [s["id"] for s in m.store.sessions()] == [1, 2]
        assert {kf.session for kf in m.keyframes.values()} == {1, 2}
