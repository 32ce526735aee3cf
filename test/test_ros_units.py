"""In-process checks of the ROS glue: parameters <-> Config, message conversions, markers of a small memory, the
launch file's shape and the player's CLI parser."""

from __future__ import annotations

import argparse
import ast
import math
import os
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def ros_context(monkeypatch):
    import rclpy

    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=1 + (os.getpid() * 11 + 3 * 37) % 200)
    yield ctx
    rclpy.shutdown(context=ctx)


def test_every_config_key_is_a_parameter_and_reads_back(ros_context):
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from embodied_rag.config import Config, flatten
    from embodied_rag.errors import UserError
    from embodied_rag.ros.params import NodeParam, declare_config, read_config, read_params

    overrides = [Parameter("forest.max_levels", value=3), Parameter("ingest.topics.image", value="/cam/rgb"),
                 Parameter("ingest.body_to_camera.translation", value=[0, 1, 2]),  # ints for a float list
                 Parameter("forest.thresholds", value=[0.5, 0.4]), Parameter("memory_dir", value="/tmp/x")]
    node = Node("params_test", context=ros_context, parameter_overrides=overrides)
    try:
        declare_config(node, [NodeParam("memory_dir", "", "")])
        names = {n for n in node._parameters if "." in n}
        assert set(flatten(Config().to_dict())) <= names | {"frame_id"}
        cfg = read_config(node)
        assert cfg.forest.max_levels == 3 and cfg.ingest.topics.image == "/cam/rgb"
        assert cfg.ingest.body_to_camera.translation == [0.0, 1.0, 2.0]
        assert cfg.forest.thresholds == [0.5, 0.4]
        assert cfg.retrieval == Config().retrieval
        assert read_params(node, [NodeParam("memory_dir", "", "")]) == {"memory_dir": "/tmp/x"}
        node.set_parameters([Parameter("keyframes.min_distance_m", value="far")])
        with pytest.raises(UserError, match="keyframes.min_distance_m"):
            read_config(node)
    finally:
        node.destroy_node()


def test_image_and_pose_conversions():
    from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import CompressedImage, Image

    from embodied_rag.io.images import BadImage, encode_jpeg
    from embodied_rag.memory.pose import InvalidPose
    from embodied_rag.ros import conversions as conv

    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 200  # red
    m = Image(height=4, width=6, encoding="bgr8", step=18, data=rgb[..., ::-1].tobytes())
    out = conv.image_to_numpy(m)
    assert out.shape == (4, 6, 3) and out[0, 0].tolist() == [200, 0, 0]
    with pytest.raises(BadImage, match="yuv422"):
        conv.check_image(Image(height=4, width=6, encoding="yuv422", step=12, data=bytes(48)))
    with pytest.raises(BadImage, match="bytes"):
        conv.check_image(Image(height=4, width=6, encoding="rgb8", step=18, data=bytes(10)))
    with pytest.raises(BadImage, match="depth"):
        conv.image_to_numpy(Image(height=4, width=6, encoding="16UC1", step=12, data=bytes(48)))
    jpeg = CompressedImage(format="jpeg", data=encode_jpeg(np.full((8, 8, 3), 90, np.uint8)))
    assert conv.image_to_numpy(jpeg).shape == (8, 8, 3)
    with pytest.raises(BadImage):
        conv.image_to_numpy(CompressedImage(format="jpeg", data=b"not a jpeg"))

    for msg in (Odometry(), PoseWithCovarianceStamped()):
        msg.header.stamp.sec, msg.header.stamp.nanosec = 12, 5
        msg.pose.pose.position.x, msg.pose.pose.orientation.z, msg.pose.pose.orientation.w = 1.5, 2.0, 0.0
        stamp, pose = conv.pose_from_msg(msg)
        assert stamp == 12_000_000_005 and pose.position[0] == 1.5 and pose.orientation == (0, 0, 1, 0)
    ps = PoseStamped()
    ps.pose.position.y = math.nan
    ps.pose.orientation.w = 1.0
    with pytest.raises(InvalidPose, match="not finite"):
        conv.pose_from_msg(ps)
    ps.pose.position.y, ps.pose.orientation.w = 0.0, 0.0
    with pytest.raises(InvalidPose, match="zero"):
        conv.pose_from_msg(ps)


def test_answer_to_response():
    from embodied_rag.retrieval.answer import Answer, Goal
    from embodied_rag.ros import conversions as conv
    from embodied_rag_msgs.srv import Query

    ans = Answer("By the sofa.", "find", Goal("map", (1.0, 2.0, 0.0), (0.0, 0.0, 0.0, 1.0)), ["kf:3", "node:1"],
                 level=0, llm_calls=1, latency_ms=12.5)
    r = conv.fill_response(Query.Response(), ans, conv.time_msg(3_000_000_001))
    assert r.success and r.has_goal and r.goal.header.frame_id == "map" and r.goal.pose.position.y == 2.0
    assert r.goal.header.stamp.sec == 3 and r.goal.header.stamp.nanosec == 1
    assert list(r.evidence) == ["kf:3", "node:1"] and r.llm_calls == 1 and r.latency_ms == 12.5
    r = conv.fill_response(Query.Response(), Answer("Nothing.", "explain", found=False))
    assert r.success and not r.has_goal and not r.has_object
    obj = {"id": 7, "label": "armchair", "colour": "red", "position": [1.5, -2.0, 0.4], "sigma_m": 0.1,
           "observations": 3, "source": "depth", "floor": 0}
    r = conv.fill_response(Query.Response(), Answer("The red armchair.", "find", ans.goal, ["obj:7"], object=obj))
    assert r.has_object and r.object_label == "armchair" and r.object_id == 7
    assert (r.object_position.x, r.object_position.y, r.object_position.z) == pytest.approx((1.5, -2.0, 0.4))
    assert not (r.has_time or r.has_duration or r.has_count or r.has_yes_no)
    # Typed answers, ROS-idiomatically: builtin_interfaces/Time and a presence flag per value.
    r = conv.fill_response(Query.Response(), Answer("Seen at 10:02.", "time", time_ns=1_700_000_123_500_000_000))
    assert r.has_time and (r.time.sec, r.time.nanosec) == (1_700_000_123, 500_000_000) and not r.has_count
    r = conv.fill_response(Query.Response(), Answer("No.", "yes_no", yes_no=False))
    assert r.has_yes_no and r.yes_no is False and not r.has_time
    r = conv.fill_response(Query.Response(), Answer("3 chairs.", "count", count=3))
    assert r.has_count and r.count == 3
    r = conv.fill_response(Query.Response(), Answer("About 2 minutes.", "duration", duration_s=121.5))
    assert r.has_duration and r.duration_s == 121.5
    r = conv.fail_response(Query.Response(), "The query is empty.")
    assert not r.success and r.error_message == "The query is empty."


def test_markers_of_a_memory(tmp_path, tum_folder, minilm):
    from visualization_msgs.msg import Marker

    from embodied_rag.config import Config
    from embodied_rag.io.tum import TumFolder
    from embodied_rag.memory.ingest import Ingestor
    from embodied_rag.memory.memory import Memory
    from embodied_rag.retrieval.retriever import Retriever
    from embodied_rag.ros.markers import area_colour, build_markers, count_by_namespace

    with Memory(tmp_path / "m", Config()) as memory:
        memory.begin_session("test")
        ing = Ingestor(memory, minilm)
        for f in TumFolder(tum_folder):
            ing.offer(f)
        ing.finish()
        empty = build_markers(memory, None)
        answer = Retriever(memory, minilm).ask("where is the fridge?")
        arr = build_markers(memory, answer, "map", level_height=3.0)
        n_kf, n_nodes, n_travel = len(memory.keyframes), len(memory.forest.nodes), len(memory.graph.travel_edges())
        depth = memory.forest.depth
        expected_colours = [area_colour(memory.forest.leaf_parent.get(k)) for k in sorted(memory.keyframes)]
    counts = count_by_namespace(arr)
    assert counts["keyframes"] == 1 and counts["travel"] == 1 and counts["labels"] == n_nodes
    assert counts["areas"] == depth and counts["links"] == depth
    assert counts["evidence"] == 1 and counts["goal"] == 1
    assert "goal" not in count_by_namespace(empty)
    points = next(m for m in arr.markers if m.ns == "keyframes")
    assert points.type == Marker.POINTS and len(points.points) == n_kf == len(points.colors)
    assert len(next(m for m in arr.markers if m.ns == "travel").points) == 2 * n_travel
    # Keyframes are coloured by their level-1 area; areas are drawn level_height apart.
    assert list(points.colors) == expected_colours
    z1 = next(m for m in arr.markers if m.ns == "areas" and m.id == 1).points[0].z
    assert z1 == pytest.approx(1.2 + 3.0)
    assert {m.header.frame_id for m in arr.markers} == {"map"}
    ev = next(m for m in arr.markers if m.ns == "evidence")
    assert len(ev.points) == len(answer.evidence)


def test_caption_and_detection2d_array_conversions():
    from types import SimpleNamespace as NS

    from embodied_rag.memory.detection import Detection
    from embodied_rag.ros import conversions as conv
    from embodied_rag_msgs.msg import Caption
    from embodied_rag_msgs.msg import Detection as DetectionMsg

    cap = Caption(text=" A red chair. ", objects=["chair", ""], detections=[
        DetectionMsg(label="chair", score=0.9, x_min=10.0, y_min=5.0, x_max=30.0, y_max=25.0, colour="red"),
        DetectionMsg(label="lamp", score=0.5, x_min=10.0, y_min=5.0, x_max=10.0, y_max=25.0)])  # empty box
    cap.header.stamp.sec, cap.header.stamp.nanosec = 3, 5
    stamp, text, objects, dets = conv.caption_from_msg(cap)
    assert stamp == 3_000_000_005 and text.strip() == "A red chair." and "chair" in objects
    assert dets == [Detection("chair", (10.0, 5.0, 30.0, 25.0), pytest.approx(0.9))] and dets[0].colour == "red"

    # vision_msgs/Detection2DArray (not installed here): stand-ins with its attribute names.
    def det2d(label, cx, cy, sx, sy, score=0.8, results=True):
        hyp = NS(hypothesis=NS(class_id=label, score=score))
        return NS(bbox=NS(center=NS(position=NS(x=cx, y=cy), theta=0.0), size_x=sx, size_y=sy),
                  results=[hyp] if results else [])

    arr = NS(header=NS(stamp=NS(sec=2, nanosec=7)), detections=[
        det2d("sofa", 40.0, 30.0, 20.0, 10.0), det2d("tv", 5.0, 5.0, 0.0, 4.0),  # empty box
        det2d("", 5.0, 5.0, 2.0, 2.0), det2d("cup", math.nan, 5.0, 2.0, 2.0),  # no label, NaN
        det2d("plant", 5.0, 5.0, 2.0, 2.0, results=False), det2d("bed", 5.0, 5.0, 2.0, 2.0, score=math.inf)])
    stamp, dets = conv.detections_from_detection2d_array(arr)
    assert stamp == 2_000_000_007
    assert dets == [Detection("sofa", (30.0, 25.0, 50.0, 35.0), 0.8)]
    assert conv.detection2d_array_type() is None or conv.detection2d_array_type().__name__ == "Detection2DArray"


def _object_frames(depth_m: list[float], xs: list[float]):
    """Frames of a camera at (x, 0, 0.5) looking along +x, each seeing a red chair as a 20x20 pixel box with
    depth ``d`` inside it (nothing valid outside): the chair is at (x + d, 0, 0.5)."""
    from embodied_rag.io.frame import Frame
    from embodied_rag.memory.detection import CameraModel, Detection
    from embodied_rag.memory.pose import Pose

    cam = CameraModel(64, 48, 50.0, 50.0, 32.0, 24.0)
    frames = []
    for i, (x, d) in enumerate(zip(xs, depth_m)):
        depth = np.zeros((48, 64), np.float32)
        depth[14:34, 22:42] = d
        image = np.full((48, 64, 3), 40 * i, np.uint8)
        frames.append(Frame((i + 1) * 1_000_000_000, Pose((x, 0.0, 0.5), (-0.5, 0.5, -0.5, 0.5)), image,
                            "A room with a red chair.", "", ["chair"], source=f"test@{i}", depth=depth,
                            detections=[Detection("chair", (22.0, 14.0, 42.0, 34.0), 0.9, {"colour": "red"})],
                            camera=cam))
    return frames


def test_markers_of_object_instances(tmp_path, minilm):
    from visualization_msgs.msg import Marker

    from embodied_rag.config import Config
    from embodied_rag.memory.ingest import Ingestor
    from embodied_rag.memory.memory import Memory
    from embodied_rag.retrieval.answer import Answer
    from embodied_rag.ros.markers import build_markers, count_by_namespace

    with Memory(tmp_path / "m", Config()) as memory:
        memory.begin_session("test")
        ing = Ingestor(memory, minilm)
        for f in _object_frames([3.0, 2.4, 1.8], [0.0, 0.6, 1.2]):
            ing.offer(f)
        ing.finish()
        (inst,) = memory.objects.confirmed()
        plain = build_markers(memory, None)
        answered = build_markers(memory, Answer("The red chair.", "find", evidence=[f"obj:{inst.id}"],
                                                object=inst.to_json()))
        one_view = Memory(tmp_path / "m1", Config())
        one_view.begin_session("test")
        ing1 = Ingestor(one_view, minilm)
        ing1.offer(_object_frames([3.0], [0.0])[0])
        ing1.finish()
        unconfirmed = build_markers(one_view, None)
        one_view.close()
    assert inst.position == pytest.approx([3.0, 0.0, 0.5], abs=0.1)
    assert count_by_namespace(plain)["objects"] == 2 and "objects" not in count_by_namespace(unconfirmed)
    cube, text = (m for m in plain.markers if m.ns == "objects")
    assert cube.type == Marker.CUBE and (cube.id, text.id) == (2 * inst.id, 2 * inst.id + 1)
    assert (cube.pose.position.x, cube.pose.position.y) == pytest.approx((3.0, 0.0), abs=0.1)
    assert cube.color.r > 0.8 and cube.color.g < 0.2  # red
    assert text.type == Marker.TEXT_VIEW_FACING and text.text == "red chair"
    assert text.pose.position.z > cube.pose.position.z and text.header.frame_id == "map"
    big = next(m for m in answered.markers if m.ns == "objects" and m.type == Marker.CUBE)
    assert big.scale.x > cube.scale.x  # the answer's object stands out
    (ev,) = (m for m in answered.markers if m.ns == "evidence")
    assert [(p.x, p.y) for p in ev.points] == [pytest.approx((cube.pose.position.x, cube.pose.position.y))]


def test_launch_file_declares_arguments_and_starts_the_console_scripts():
    src = (REPO / "launch" / "embodied_rag.launch.py").read_text()
    tree = ast.parse(src)
    declared = {c.args[0].value for c in ast.walk(tree) if isinstance(c, ast.Call)
                and getattr(c.func, "id", "") == "DeclareLaunchArgument"}
    assert {"memory_dir", "config", "use_sim_time", "one_process", "image_topic", "pose_topic"} <= declared
    executables = {k.value.value for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, "id", "") ==
                   "Node" for k in c.keywords if k.arg == "executable"}
    setup = (REPO / "setup.py").read_text()
    assert executables == {"memory_node", "query_node", "embodied_rag_node"}
    for exe in executables:
        assert f'"{exe} = embodied_rag.ros.' in setup
    assert "IfCondition(one_process)" in src and "UnlessCondition(one_process)" in src
    rviz = (REPO / "config" / "embodied_rag.rviz").read_text()
    assert "Fixed Frame: map" in rviz and "/embodied_rag/markers" in rviz and "/goal_pose" in rviz


def test_play_parser_and_missing_bag():
    from embodied_rag.errors import UserError
    from embodied_rag.ros.player import add_play_parser, cmd_play

    p = argparse.ArgumentParser()
    add_play_parser(p.add_subparsers(dest="command"))
    args = p.parse_args(["play", "some.bag", "--rate", "2", "--loop"])
    assert args.rate == 2.0 and args.loop and args.func is cmd_play
    with pytest.raises(UserError, match="does not exist"):
        cmd_play(p.parse_args(["play", "/nonexistent/bag"]))


def test_a_silent_camera_with_a_publisher_is_reported(ros_context, tmp_path, minilm):
    """camera_silence_s: no image for that long while the camera topic has a publisher is a warning and a count in
    the status (repeated at doubling intervals); without a publisher nothing is said; an image resets it."""
    import time

    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    from embodied_rag.api import Models
    from embodied_rag.ros.memory_node import MemoryNode

    params = [Parameter("memory_dir", value=str(tmp_path / "mem")), Parameter("camera_silence_s", value=0.5),
              Parameter("image_type", value="raw"), Parameter("pose_type", value="odometry"),
              Parameter("use_caption_topic", value=False)]
    node = MemoryNode(context=ros_context, parameter_overrides=params, models_factory=lambda c: Models(text=minilm))
    camera = Node("silent_camera", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    executor.add_node(camera)

    def spin(seconds: float, until=lambda: False) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not until():
            executor.spin_once(timeout_sec=0.05)

    try:
        spin(2.5)
        assert node.status()["camera_silent"] == 0
        pub = camera.create_publisher(Image, "/camera/image_raw", 10)
        spin(15.0, lambda: node.status()["camera_silent"] >= 1)
        assert node.status()["camera_silent"] == 1 and node.camera_warnings == 1
        spin(0.6)  # the next warning waits twice as long
        assert node.status()["camera_silent"] == 1
        msg = Image(height=2, width=2, encoding="rgb8", step=6, data=bytes(12))
        spin(15.0, lambda: (pub.publish(msg), node.status()["images"] >= 1)[1])
        assert node.status()["images"] >= 1 and node.camera_warnings == 0
    finally:
        executor.shutdown()
        camera.destroy_node()
        node.close()
        node.destroy_node()
