"""``embodied-rag demo``: the whole product on an example, offline: a procedural building is rendered and recorded
as a rosbag2, played into the real ROS 2 nodes (memory node and query node in their own processes), queried through
the service, and drawn as a map (HTML + PNG). Orchestration only: every step is a product part used as a user would.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from embodied_rag.config import Config
from embodied_rag.errors import UserError

BIN = Path(sys.executable).parent
CATEGORIES = ("object", "purpose", "nearest", "colour", "area", "room", "floor")


def _say(step: str, text: str) -> None:
    print(f"[{step}] {text}", flush=True)


class _Child:
    def __init__(self, name: str, args: list[str], log: Path, env: dict[str, str]):
        self.name, self.log = name, log
        self.fh = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.p = subprocess.Popen(args, stdout=self.fh, stderr=subprocess.STDOUT, env=env)

    def check(self) -> None:
        if self.p.poll() is not None:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-3:]
            raise UserError(f"{self.name} stopped (exit {self.p.returncode}): {' | '.join(tail)}")

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.fh.close()


def _played_topics(config: Config) -> list[str]:
    t = config.ingest.topics
    return [t.pose, t.compressed_image, t.depth, t.camera_info, t.caption]


def pick_queries(path: Path, n: int = 6) -> list[dict]:
    """One generated query per category, in a fixed order, as a person would try the memory."""
    queries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    picked = []
    for cat in CATEGORIES:
        for q in queries:
            if q.get("category") == cat:
                picked.append(q)
                break
    return picked[:n]


def run_demo(out: Path, config: Config, seed: int = 0, rooms: int = 8, rate: float = 4.0) -> int:
    from embodied_rag.sim import BODY_TO_CAMERA, generate_building, record

    out.mkdir(parents=True, exist_ok=True)
    building = generate_building(seed=seed, floors=1, rooms_per_floor=rooms)
    world = out / "world"
    if not (world / "bag").exists():
        _say("1/5", f"rendering '{building.name}' ({len(building.rooms)} rooms, {len(building.objects)} objects) "
                    f"and recording the robot's tour to {world / 'bag'}")
        record(building, world, depth=True, progress=True)
    else:
        _say("1/5", f"using the recorded tour in {world / 'bag'}")
    memory_dir = out / "memory"
    if (memory_dir / "memory.sqlite").exists():
        shutil.rmtree(memory_dir)  # the demo's own output: each run starts a fresh memory

    # Node parameters: the config tree under ros__parameters, with the simulated robot's camera mount.
    params = config.to_dict()
    params["ingest"]["body_to_camera"] = {"translation": list(BODY_TO_CAMERA.position),
                                          "rotation_xyzw": list(BODY_TO_CAMERA.orientation)}
    # Depth lets goals approach what the camera saw instead of stopping where it stood.
    node_params = {**params, "memory_dir": str(memory_dir), "reliable": True, "summary_period_s": 2.0,
                   "use_depth": True}
    params_file = out / "demo_params.yaml"
    params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": node_params}}, sort_keys=False))

    domain = random.Random(os.getpid()).randint(1, 200)
    env = {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_DOMAIN_ID": str(domain),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    ros_args = ["--ros-args", "--params-file", str(params_file)]
    _say("2/5", f"starting memory_node and query_node (ROS_DOMAIN_ID={domain}, localhost only; logs in {logs})")
    children = [_Child("memory_node", [str(BIN / "memory_node"), *ros_args], logs / "memory_node.log", env),
                _Child("query_node", [str(BIN / "query_node"), *ros_args], logs / "query_node.log", env)]
    client = None
    try:
        client = _ServiceClient(domain)
        t0 = time.monotonic()
        while not client.ready():
            for c in children:
                c.check()
            if time.monotonic() - t0 > 180:
                raise UserError("the query service did not come up within 180 s; see the node logs.")
        _say("3/5", f"playing the tour at {rate:g}x into memory_node")
        player = _Child("player", [str(BIN / "embodied-rag"), "play", str(world / "bag"), "--rate", str(rate),
                                   "--wait-for-subscribers", "60", "--delay", "1.0", "--topics",
                                   *_played_topics(config)], logs / "player.log", env)
        while player.p.poll() is None:
            for c in children:
                c.check()
            client.spin(1.0)
            print(f"\r      memory: {client.status.get('keyframes', '?')} keyframes, "
                  f"{client.status.get('frames', '?')} frames received", end="", flush=True)
        print()
        player.stop()
        if player.p.returncode != 0:
            raise UserError(f"playing the bag failed; see {logs / 'player.log'}")
        # Let the worker commit the last keyframes and the summaries catch up.
        stable, last = 0, None
        while stable < 3:
            client.spin(1.0)
            now = (client.status.get("keyframes"), client.status.get("queue"), client.status.get("committing"))
            stable = stable + 1 if now == last and now[1:] == ("0", "0") else 0
            last = now
        time.sleep(3.0)
        _say("4/5", "asking through /embodied_rag/query")
        from embodied_rag.retrieval.answer import Answer, Goal
        from embodied_rag.retrieval.evaluate import score
        from embodied_rag.viz import AskedQuery

        asked, ok = [], 0
        for q in pick_queries(world / "queries.jsonl"):
            reply = client.ask(q["query"], q.get("from"))
            goal = None
            if reply.has_goal:
                p, o = reply.goal.pose.position, reply.goal.pose.orientation
                goal = Goal(reply.goal.header.frame_id, (p.x, p.y, p.z), (o.x, o.y, o.z, o.w))
            answer = Answer(reply.answer if reply.success else f"(error) {reply.error_message}", reply.kind, goal,
                            list(reply.evidence), reply.level, reply.llm_calls, reply.latency_ms)
            good, _ = score(q, answer)
            ok += good
            where = f" (robot at {q['from'][0]:.0f}, {q['from'][1]:.0f})" if q.get("from") else ""
            print(f"> {q['query']}{where}")
            print(f"  {answer.answer}")
            if goal:
                print(f"  goal ({goal.frame_id}): ({goal.position[0]:.2f}, {goal.position[1]:.2f}), "
                      f"yaw quaternion ({goal.orientation[2]:.3f}, {goal.orientation[3]:.3f})")
            print(f"  [{answer.kind}, level {answer.level}, {answer.llm_calls} LLM calls, {answer.latency_ms:.0f} ms"
                  f" — {'correct' if good else 'WRONG'} by the ground truth]")
            asked.append(AskedQuery(q["query"] + where, answer))
    finally:
        if client is not None:
            client.close()
        for c in children:
            c.stop()
    _say("5/5", "drawing the map")
    from embodied_rag.memory.memory import Memory
    from embodied_rag.sim.record import ingest_config
    from embodied_rag.viz import outline_from_rooms, write_html, write_png

    # The simulated robot's camera mount (as the nodes had it) puts the free space on the right floor; the
    # simulator's rooms are the building outline drawn under the memory.
    viz_config = dataclasses.replace(config, ingest=dataclasses.replace(
        config.ingest, body_to_camera=ingest_config().body_to_camera))
    outline = outline_from_rooms(building.rooms)
    with Memory(memory_dir, viz_config, writable=False) as memory:
        title = f"embodied_rag demo: {building.name}"
        write_png(memory, out / "map.png", asked, title, outline)
        write_html(memory, out / "map.html", asked, title, outline)
        n = len(memory.keyframes)
    print(f"done: {n} keyframes in {memory_dir}; {ok}/{len(asked)} answers correct by the ground truth; "
          f"map in {out / 'map.html'} and {out / 'map.png'}")
    return 0


class _ServiceClient:
    """The user's side: a service client and a status subscriber in this process."""

    def __init__(self, domain: int):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray

        from embodied_rag_msgs.srv import Query

        self.rclpy, self.Query = rclpy, Query
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain)
        self.node = rclpy.create_node("embodied_rag_demo", context=self.ctx)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)
        self.status: dict[str, str] = {}
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_status, 10)
        self.cli = self.node.create_client(Query, "/embodied_rag/query")

    def _on_status(self, msg) -> None:
        for st in msg.status:
            if st.name.startswith("embodied_rag"):
                self.status = {kv.key: kv.value for kv in st.values}

    def ready(self) -> bool:
        return self.cli.wait_for_service(timeout_sec=1.0)

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)

    def ask(self, text: str, robot: list[float] | None):
        req = self.Query.Request(query=text)
        if robot is not None:
            req.use_robot_pose = True
            req.robot_pose.header.frame_id = "map"
            req.robot_pose.pose.position.x, req.robot_pose.pose.position.y = float(robot[0]), float(robot[1])
        fut = self.cli.call_async(req)
        end = time.monotonic() + 60
        while not fut.done() and time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)
        if not fut.done():
            raise UserError(f"no answer to '{text}' within 60 s")
        return fut.result()

    def close(self) -> None:
        self.node.destroy_node()
        self.rclpy.shutdown(context=self.ctx)
