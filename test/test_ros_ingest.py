"""End to end through real processes: a bag of coex_lobby played into memory_node gives the memory that
``embodied-rag build`` gives; query_node answers while and after it is written; /goal_pose and the markers reach an
independent subscriber. One scenario (module fixture) runs once and the tests check its parts."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from conftest import dataset
from ros_helpers import Proc, RosTestClient, domain_for, ros_env

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RATE = 8.0  # coex_lobby spans 128 s of bag time: 16 s at this rate


def play_command(bag: Path) -> list[str]:
    from embodied_rag.cli import build_parser

    try:
        build_parser().parse_args(["play", str(bag)])
        base = [str(BIN / "embodied-rag"), "play"]
    except SystemExit:  # `play` not registered in the CLI yet: the same code through its module entry point
        base = [sys.executable, "-m", "embodied_rag.ros.player"]
    return base + [str(bag), "--rate", str(RATE), "--wait-for-subscribers", "60", "--delay", "1.0"]


class Client(RosTestClient):
    """The independent process's side: service client and subscribers in the test process."""

    def __init__(self, domain: int):
        from geometry_msgs.msg import PoseStamped
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from visualization_msgs.msg import MarkerArray

        super().__init__(domain, "test_client")
        self.goals: list = []
        self.markers = None
        self.node.create_subscription(PoseStamped, "/goal_pose", self.goals.append, 10)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.node.create_subscription(MarkerArray, "/embodied_rag/markers", self._on_markers, latched)

    def _on_markers(self, msg) -> None:
        self.markers = msg

    def ask(self, text: str, navigate: bool = False, timeout: float = 60.0, **fields):
        req = self.Query.Request(query=text, navigate=navigate, **fields)
        fut = self.cli.call_async(req)
        assert self.spin_until(fut.done, timeout), f"no reply to {text[:40]!r} within {timeout} s"
        return fut.result()


PHOTO_FRAME = 30  # a coex_lobby frame, re-shot (cropped) as the query photo (bench_image_query measures accuracy)


def ask_by_image(client: Client, ask, src: Path, tmp: Path) -> dict:
    """"Where was this taken?" through the service's image fields (raw and compressed) and the Python client."""
    import cv2
    import numpy as np
    from sensor_msgs.msg import CompressedImage, Image

    from embodied_rag.errors import UserError
    from embodied_rag.io.images import encode_jpeg, read_image_file
    from embodied_rag.retrieval.reshoot import reshoot_seeded

    name = [ln.split()[1] for ln in (src / "rgb.txt").read_text().splitlines() if ln.strip() and ln[0] != "#"]
    truth = [tuple(float(v) for v in ln.split()[1:4]) for ln in (src / "groundtruth.txt").read_text().splitlines()
             if ln.strip() and ln[0] != "#"]
    photo = reshoot_seeded(read_image_file(str(src / name[PHOTO_FRAME])), "crop", 7, PHOTO_FRAME)
    jpeg = encode_jpeg(photo, quality=85)
    (tmp / "photo.jpg").write_bytes(jpeg)
    h, w = photo.shape[:2]
    bgr = cv2.cvtColor(photo, cv2.COLOR_RGB2BGR)
    sent = len(client.goals)
    out = {"truth": truth[PHOTO_FRAME],
           "raw": client.ask("", navigate=True, image=Image(height=h, width=w, encoding="bgr8", step=w * 3,
                                                            data=bgr.tobytes()))}
    client.spin_until(lambda: len(client.goals) > sent, 5)
    out["published"] = client.goals[sent:]
    out |= {"compressed": client.ask("take me where this photo was taken",
                                    compressed_image=CompressedImage(format="jpeg", data=jpeg)),
           "corrupt": client.ask("", compressed_image=CompressedImage(format="jpeg", data=b"\xff\xd8 not a jpeg")),
           "both": client.ask("", image=Image(height=h, width=w, encoding="bgr8", step=w * 3, data=bgr.tobytes()),
                              compressed_image=CompressedImage(format="jpeg", data=jpeg)),
           "client": ask.ask("where was this taken?", image=tmp / "photo.jpg"),
           "client_array": ask.ask("", image=np.ascontiguousarray(photo))}
    try:
        ask.ask("", image=b"not an image at all")
    except UserError as exc:
        out["client_refused"] = str(exc)
    return out


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    from embodied_rag.io.rosbag import convert_folder

    src = dataset("coex_lobby")
    tmp = tmp_path_factory.mktemp("ros_ingest")
    bag = tmp / "coex.bag"
    convert_folder(src, bag, progress=False)
    domain = domain_for(1)
    env = ros_env(domain)
    live, built = tmp / "live", tmp / "built"
    out: dict = {"tmp": tmp, "live": live, "built": built, "during": [], "after": []}
    procs: list[Proc] = []
    client = None
    t0 = time.monotonic()
    try:
        # The reference build runs beside the nodes' start-up (model loading dominates both).
        build = Proc([str(BIN / "embodied-rag"), "build", str(bag), "--out", str(built)], tmp / "build.log", env)
        procs.append(build)
        # A replay: reliable delivery, and images may wait longer for their pose on a loaded machine (the last
        # image has no later pose to bracket it).
        mem = Proc([str(BIN / "memory_node"), "--ros-args", "-p", f"memory_dir:={live}", "-p",
                    "status_period_s:=0.5", "-p", "summary_period_s:=2.0", "-p", "reliable:=true", "-p",
                    "pose_wait_s:=3.0", "-p", "robot_name:=scout"], tmp / "memory_node.log", env)
        # The bag's last pose stays the robot's position for the whole scenario: questions asked seconds apart break
        # ties among identical views the same way (by default a pose older than 10 s is dropped).
        qry = Proc([str(BIN / "query_node"), "--ros-args", "-p", f"memory_dir:={live}", "-p",
                    "markers_min_period_s:=0.5", "-p", "refresh_period_s:=0.5", "-p",
                    "robot_pose_max_age_s:=3600.0"], tmp / "query_node.log", env)
        procs += [mem, qry]
        out["procs"] = {"memory_node": mem, "query_node": qry}
        client = Client(domain)
        assert client.spin_until(lambda: client.cli.service_is_ready() and client.status, 90), \
            f"nodes did not come up:\n{mem.text()[-2000:]}\n{qry.text()[-2000:]}"
        out["startup_s"] = time.monotonic() - t0
        player = Proc(play_command(bag), tmp / "play.log", env)
        procs.append(player)
        # Ask while the memory is being written (bounded: one question a second while the bag plays).
        deadline = time.monotonic() + 120
        while player.p.poll() is None and time.monotonic() < deadline:
            out["during"].append(client.ask("where can I get a drink?", navigate=True))
            client.spin_until(lambda: False, 1.0)
        assert player.p.wait(30) == 0, player.text()
        out["play_log"] = player.text()
        # Wait until every image has been paired, chosen or dropped, the queue is empty and every area is named.
        settled = client.spin_until(lambda: client.status.get("images") == "50" and client.status.get("queue") == "0"
                                    and client.status.get("images_waiting") == "0"
                                    and client.status.get("committing") == "0"
                                    and client.status.get("areas_to_summarise") == "0"
                                    and client.status.get("keyframes") == client.status.get("memory_keyframes"),
                                    30)
        assert settled, f"memory node did not settle: {client.status}\n{mem.text()[-3000:]}"
        out["status"] = dict(client.status)
        assert build.p.wait(120) == 0, build.text()
        for text in ("take me to the vending machine", "where is the escalator?", "where can I sit down?"):
            out["after"].append(client.ask(text, navigate=True))
        client.spin_until(lambda: len(client.goals) >= 3, 5)
        # The Python client a user's node would use, in the style of nav2_simple_commander.
        from embodied_rag.errors import UserError
        from embodied_rag.ros.client import EmbodiedRagClient

        ask = EmbodiedRagClient(client.node, executor=client.executor)
        out["client_answer"] = ask.ask("where is the escalator?")
        out["scout"] = client.ask("where is the escalator?", robot="scout")
        out["client_scout"] = ask.ask("where is the escalator?", robot="scout")
        out["nobody"] = client.ask("where is the escalator?", robot="nobody")
        out["client_sent"] = ask.go_to(out["client_answer"])
        try:
            ask.ask("   ")
        except UserError as exc:
            out["client_refused"] = str(exc)
        client.spin_until(lambda: len(client.goals) >= 4, 5)
        out["goals"] = list(client.goals)
        out["by_image"] = ask_by_image(client, ask, src, tmp)
        n_live = int(out["status"]["memory_keyframes"])

        def markers_complete() -> bool:
            m = client.markers
            return m is not None and any(x.ns == "keyframes" and len(x.points) == n_live for x in m.markers) and \
                any(x.ns == "evidence" for x in m.markers)

        client.spin_until(markers_complete, 15)
        out["markers"] = client.markers
        out["returncodes"] = {"memory_node": mem.stop(), "query_node": qry.stop()}
        out["logs"] = {"memory_node": mem.text(), "query_node": qry.text()}
        out["seconds"] = time.monotonic() - t0
        yield out
    finally:
        for p in procs:
            p.stop()
        if client is not None:
            client.close()


def _keyframes(path: Path):
    from embodied_rag.config import Config
    from embodied_rag.memory.memory import Memory

    with Memory(path, Config(), writable=False) as m:
        kfs = [m.keyframes[k] for k in sorted(m.keyframes)]
        return ([(kf.stamp_ns, kf.pose.position, kf.pose.orientation, kf.caption, kf.objects, kf.source)
                 for kf in kfs], m.store.sessions(), m.store.counters(), len(m.forest.nodes),
                len(m.graph.travel_edges()))


def test_played_bag_gives_the_built_memory(scenario):
    live, sessions, counters, _, _ = _keyframes(scenario["live"])
    built, _, _, _, _ = _keyframes(scenario["built"])
    assert len(built) > 10
    assert [k[0] for k in live] == [k[0] for k in built]  # the same keyframes (stamps) ...
    for a, b in zip(live, built):
        assert a[1] == pytest.approx(b[1], abs=1e-9) and a[2] == pytest.approx(b[2], abs=1e-9)  # ... poses ...
        assert a[3:] == b[3:]  # ... captions, objects and sources
    assert len(sessions) == 1 and sessions[0]["source"].startswith("ros:")
    assert counters["frames"] == 50 and counters["keyframes"] == len(live)
    assert scenario["status"]["dropped_queue_full"] == "0"
    assert scenario["returncodes"] == {"memory_node": 0, "query_node": 0}


def test_queries_during_and_after_ingest(scenario):
    during = scenario["during"]
    assert len(during) >= 5
    # Early questions may come before the first keyframe; later ones during the ingest find places with goals.
    assert any(r.success and r.has_goal for r in during), [(r.success, r.answer, r.error_message) for r in during]
    for r in during:
        assert r.success or r.error_message
    for r in scenario["after"]:
        assert r.success, r.error_message
        assert r.has_goal and r.goal.header.frame_id == "map"
        assert r.evidence and r.evidence[0].startswith("kf:")
        assert r.latency_ms > 0
    # The goals published for Nav2 are the goals of the replies.
    goals = scenario["goals"]
    assert len(goals) >= 3
    last = scenario["after"][-1].goal.pose.position
    assert any(g.header.frame_id == "map" and (g.pose.position.x, g.pose.position.y) ==
               pytest.approx((last.x, last.y)) for g in goals)


def test_python_client_asks_and_sends_the_goal(scenario):
    answer = scenario["client_answer"]
    service = scenario["after"][1]  # the same question through the raw service call
    assert answer.answer == service.answer and answer.kind == service.kind
    assert answer.goal is not None and answer.goal.frame_id == "map"
    assert answer.goal.position == pytest.approx((service.goal.pose.position.x, service.goal.pose.position.y,
                                                  service.goal.pose.position.z))
    assert answer.evidence == list(service.evidence)
    # No Nav2 here (nav2_msgs is not installed): the goal goes to /goal_pose, where a subscriber received it.
    assert scenario["client_sent"] == "goal_pose"
    assert any((g.pose.position.x, g.pose.position.y) == pytest.approx(answer.goal.position[:2])
               for g in scenario["goals"][3:])
    assert "empty" in scenario["client_refused"].lower()

    # One robot's memory (memory_node's robot_name), asked by the service's robot field and the client
    scout = scenario["scout"]
    assert scout.success and scout.has_goal and scout.evidence[0].startswith("kf:"), scout.error_message
    assert scenario["client_scout"].evidence[0] == scout.evidence[0]
    assert not scenario["nobody"].success and "No robot named 'nobody'" in scenario["nobody"].error_message


def test_service_and_client_find_where_a_photo_was_taken(scenario):
    import math

    shots = scenario["by_image"]
    tx, ty, _ = shots["truth"]
    for how in ("raw", "compressed"):
        reply = shots[how]
        assert reply.success, reply.error_message
        assert reply.kind == "find" and reply.has_goal and reply.has_confidence and 0.0 < reply.confidence <= 1.0
        g = reply.goal.pose.position
        assert math.hypot(g.x - tx, g.y - ty) <= 2.0, (how, reply.answer, (g.x, g.y), (tx, ty))
        assert reply.has_time and not reply.has_count  # when the place was seen
    # navigate=True published the photo's place on /goal_pose.
    raw = shots["raw"].goal.pose.position
    assert [(g.pose.position.x, g.pose.position.y) for g in shots["published"]] == [pytest.approx((raw.x, raw.y))]
    for how in ("corrupt", "both"):
        reply = shots[how]
        assert not reply.success and "\n" not in reply.error_message and "image" in reply.error_message.lower()
    for how in ("client", "client_array"):
        answer = shots[how]
        assert answer.goal is not None and answer.confidence is not None
        assert answer.goal.position[:2] == pytest.approx((shots["compressed"].goal.pose.position.x,
                                                          shots["compressed"].goal.pose.position.y))
    assert "image" in shots["client_refused"].lower() and "\n" not in shots["client_refused"]


def test_markers_match_the_memory(scenario):
    from visualization_msgs.msg import Marker

    _, _, _, n_nodes, n_travel = _keyframes(scenario["live"])
    n_kf = int(scenario["status"]["memory_keyframes"])
    m = scenario["markers"]
    assert m is not None, "no MarkerArray received"
    assert m.markers[0].action == Marker.DELETEALL
    assert {x.header.frame_id for x in m.markers} == {"map"}
    by_ns: dict[str, list] = {}
    for x in m.markers[1:]:
        by_ns.setdefault(x.ns, []).append(x)
    (points,) = by_ns["keyframes"]
    assert points.type == Marker.POINTS and len(points.points) == n_kf and len(points.colors) == n_kf
    (travel,) = by_ns["travel"]
    assert len(travel.points) == 2 * n_travel
    assert len(by_ns["labels"]) == n_nodes and all(x.text for x in by_ns["labels"])
    assert sum(len(x.points) for x in by_ns["areas"]) == n_nodes
    (evidence,) = by_ns["evidence"]
    assert len(evidence.points) >= 1
    (goal,) = by_ns["goal"]
    assert goal.type == Marker.ARROW
    # Parents are drawn above their children.
    assert min(p.z for x in by_ns["areas"] for p in x.points) > max(p.z for p in points.points)


# -- detections with depth become object instances ----------------------------------------------------------------
S = 1_000_000_000
T0 = 1_700_000_000 * S
W, H, F = 64, 48, 50.0  # image size and focal length (pixels); principal point at the centre
BOX = (22, 14, 42, 34)  # the chair's box (x0, y0, x1, y1): depth inside it, nothing valid outside
LOOK_ALONG_X = (-0.5, 0.5, -0.5, 0.5)  # optical frame (z forward, x right, y down) looking along world +x
CHAIR_AT = (3.0, 0.0, 0.5)


class Camera(RosTestClient):
    """A robot with an RGB-D camera and a detector node publishing Caption boxes."""

    def __init__(self, domain: int):
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import CameraInfo, Image

        from embodied_rag_msgs.msg import Caption

        super().__init__(domain, "test_camera")
        self.pubs = {
            "image": self.node.create_publisher(Image, "/camera/image_raw", 10),
            "depth": self.node.create_publisher(Image, "/camera/depth/image_raw", 10),
            "info": self.node.create_publisher(CameraInfo, "/camera/camera_info", 10),
            "caption": self.node.create_publisher(Caption, "/embodied_rag/caption", 10),
            "odom": self.node.create_publisher(Odometry, "/odom", 10),
        }

    def ready(self, timeout: float) -> bool:
        return self.spin_until(lambda: bool(self.status) and all(
            p.get_subscription_count() > 0 for p in self.pubs.values()), timeout)

    def publish(self, i: int, x: float) -> None:
        """Frame i: the camera at (x, 0, 0.5) sees the chair at CHAIR_AT."""
        import numpy as np
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import CameraInfo, Image

        from embodied_rag_msgs.msg import Caption, Detection

        stamp = T0 + i * S
        sec, nsec = stamp // S, stamp % S

        def stamped(msg, frame_id="camera_optical_frame"):
            msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nsec
            msg.header.frame_id = frame_id
            return msg

        info = stamped(CameraInfo(width=W, height=H))
        info.k = [F, 0.0, W / 2, 0.0, F, H / 2, 0.0, 0.0, 1.0]
        self.pubs["info"].publish(info)
        depth = np.zeros((H, W), np.float32)
        x0, y0, x1, y1 = BOX
        depth[y0:y1, x0:x1] = CHAIR_AT[0] - x
        self.pubs["depth"].publish(stamped(Image(height=H, width=W, encoding="32FC1", step=W * 4,
                                                 data=depth.tobytes())))
        self.pubs["caption"].publish(stamped(Caption(text="A room with a chair.", detections=[
            Detection(label="chair", score=0.9, x_min=float(x0), y_min=float(y0), x_max=float(x1), y_max=float(y1),
                      colour="red")])))
        odom = stamped(Odometry(), "map")
        odom.pose.pose.position.x, odom.pose.pose.position.z = x, CHAIR_AT[2]
        o = odom.pose.pose.orientation
        o.x, o.y, o.z, o.w = LOOK_ALONG_X
        self.pubs["odom"].publish(odom)
        rgb = np.full((H, W, 3), 30 * i, np.uint8)
        self.pubs["image"].publish(stamped(Image(height=H, width=W, encoding="rgb8", step=W * 3, data=rgb.tobytes())))


def test_caption_boxes_with_depth_become_object_instances_the_service_names(tmp_path):
    from embodied_rag.config import Config
    from embodied_rag.memory.memory import Memory

    env = ros_env(domain_for(4))
    memory = tmp_path / "memory"
    node = Proc([str(BIN / "memory_node"), "--ros-args", "-p", f"memory_dir:={memory}", "-p", "use_depth:=true",
                 "-p", "pose_type:=odometry", "-p", "image_type:=raw", "-p", "reliable:=true",
                 "-p", "status_period_s:=0.3", "-p", "pose_wait_s:=3.0", "-p", "caption_wait_s:=3.0"],
                tmp_path / "memory_node.log", env)
    qry = Proc([str(BIN / "query_node"), "--ros-args", "-p", f"memory_dir:={memory}", "-p", "pose_type:=odometry",
                "-p", "refresh_period_s:=0.5"], tmp_path / "query_node.log", env)
    cam = None
    xs = [0.0, 0.6, 1.2, 1.8]
    try:
        cam = Camera(domain_for(4))
        assert cam.ready(90) and cam.spin_until(cam.cli.service_is_ready, 60), node.text()[-3000:] + qry.text()
        cam.spin_until(lambda: False, 0.5)  # the node's side of the matches
        for i, x in enumerate(xs):
            cam.publish(i, x)
            cam.spin_until(lambda: False, 0.2)

        def settled() -> bool:
            s = cam.status
            return (s.get("memory_keyframes") == str(len(xs)) and s.get("queue") == "0"
                    and s.get("images_waiting") == "0" and s.get("committing") == "0")

        assert cam.spin_until(settled, 60), (cam.status, node.text()[-3000:])
        status = dict(cam.status)
        fut = cam.cli.call_async(cam.Query.Request(query="where is the red chair?"))
        assert cam.spin_until(fut.done, 30), qry.text()[-3000:]
        reply = fut.result()
        assert node.stop() == 0 and qry.stop() == 0
        log = node.text()
        assert "Traceback" not in log and "skipped" not in log, log[-3000:]
    finally:
        node.stop()
        qry.stop()
        if cam is not None:
            cam.close()
    # The service names the object the answer is about.
    assert reply.success and reply.has_object, (reply.answer, reply.error_message)
    assert reply.object_label == "chair" and reply.object_id > 0
    p = reply.object_position
    assert (p.x, p.y, p.z) == pytest.approx(CHAIR_AT, abs=0.3)
    assert status["camera_info"] == "1" and status["object_observations"] == str(len(xs))
    assert status["object_observations_depth"] == str(len(xs))
    with Memory(memory, Config(), writable=False) as m:
        confirmed = m.objects.confirmed()
        assert len(confirmed) == 1, [i.to_json() for i in m.objects.instances.values()]
        (chair,) = confirmed
        assert chair.name == "red chair" and chair.n == len(xs) and chair.source == "depth"
        assert chair.position == pytest.approx(CHAIR_AT, abs=0.3) and chair.id == reply.object_id
        assert {kf.caption for kf in m.keyframes.values()} == {"A room with a chair."}
