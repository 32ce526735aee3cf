"""Process-level faults with real processes and real ROS 2 nodes.

- SIGKILL of ``memory_node`` at random points while it ingests a 30 Hz stream, and of ``embodied-rag build``: after
  every kill the store reopens, every keyframe a separate reader saw committed before the kill is still there (ids
  1..N, images on disk), the forest is consistent, and the next process continues: a restarted node as a new
  session, a restarted build of the same recording by resuming its session.
- A model server that talks garbage, is slow (beyond ``timeout_s``) or is down: ``memory_node`` (captioning through
  the OpenAI-compatible captioner) keeps committing keyframes, with empty captions for the frames it could not
  caption (they are embedded as "(no description)"; a failed caption is not cached and not retried later; the node's
  status counts ``caption_failures``); ``query_node`` (``models.llm.name: openai``) answers extractively within its
  LLM time budget and logs why the answer is degraded.
- A second writer on the same memory directory (``memory_node`` or ``embodied_rag_node``) exits non-zero with one
  clear log line; the first writer and the readers (``query_node``, a ``Memory(writable=False)``) go on.

Kill counts: ``KILLS_SHORT`` in the default run, ``KILLS_LONG`` under ``-m slow``. The random kill points come from a
seed that is printed; ``FAULTS_SEED=<n>`` replays one.
"""

from __future__ import annotations

import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from ros_helpers import Proc, RosTestClient
from ros_helpers import domain_for as _domain_for
from ros_helpers import ros_env as _ros_env

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
S = 1_000_000_000
KILLS_SHORT, KILLS_LONG = 3, 20


def domain_for(offset: int) -> int:
    # Offsets 40+ keep clear of the other ROS test modules.
    return _domain_for(40 + offset)


def ros_env(domain: int) -> dict[str, str]:
    # Loopback UDP instead of Fast DDS shared memory: a SIGKILLed participant can leave its shared-memory ports
    # behind, and a restarted node then sometimes never received the camera stream (seen once in 20 restarts).
    return {**_ros_env(domain), "FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"}


def seed_for(name: str) -> int:
    seed = int(os.environ.get("FAULTS_SEED", "0")) or random.SystemRandom().randrange(1, 2**31)
    print(f"{name}: seed {seed} (replay with FAULTS_SEED={seed})")
    return seed


def memory_node_args(memory: Path | str, *extra: str) -> list[str]:
    return [str(BIN / "memory_node"), "--ros-args", "-p", f"memory_dir:={memory}", "-p", "pose_type:=odometry",
            "-p", "image_type:=raw", "-p", "status_period_s:=0.3", *extra]


def query_node_args(memory: Path | str, *extra: str) -> list[str]:
    return [str(BIN / "query_node"), "--ros-args", "-p", f"memory_dir:={memory}", "-p", "pose_type:=odometry",
            "-p", "refresh_period_s:=0.5", *extra]


def _rows(memory: Path | str, sql: str) -> list[tuple]:
    """Rows of ``sql`` read by a separate read-only connection to the memory's store (a SQLite directory or a
    PostgreSQL URL); [] before the store or its schema exists."""
    if isinstance(memory, str):
        import psycopg

        try:
            with psycopg.connect(memory, connect_timeout=10) as conn:
                conn.read_only = True
                return [tuple(r) for r in conn.execute(sql).fetchall()]
        except (psycopg.errors.UndefinedTable, psycopg.OperationalError):
            return []
    db = memory / "memory.sqlite"
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return [tuple(r) for r in conn.execute(sql)]
    except sqlite3.OperationalError:  # created but no schema yet
        return []
    finally:
        conn.close()


def committed(memory: Path | str) -> list[tuple[int, int, str]]:
    """(id, session, caption) of every committed keyframe, read by a separate read-only connection."""
    return _rows(memory, "SELECT id, session, caption FROM keyframes ORDER BY id")


def summarised(memory: Path | str) -> bool:
    """Every area has its name and summary (the memory node refreshes them every summary_period_s)."""
    rows = _rows(memory, "SELECT COUNT(*) FROM forest_nodes WHERE dirty <> 0")
    return bool(rows) and rows[0][0] == 0


def count(memory: Path | str) -> int:
    return len(committed(memory))


def check_store(memory: Path | str, at_least: int) -> int:
    """Reopen read-only: ids 1..N with N >= at_least, an image per keyframe, a consistent forest. Returns N."""
    from embodied_rag.config import Config
    from embodied_rag.memory.memory import Memory

    with Memory(memory, Config(), writable=False) as m:
        n = len(m.keyframes)
        assert n >= at_least, f"{at_least} keyframes were committed before the kill, {n} after"
        assert sorted(m.keyframes) == list(range(1, n + 1))
        if isinstance(memory, str):  # images live in the database
            stored = {r[0] for r in _rows(memory, "SELECT key FROM images")}
            missing = [k for k, kf in m.keyframes.items() if not kf.image or kf.image not in stored]
        else:
            missing = [k for k, kf in m.keyframes.items() if not kf.image or not (memory / kf.image).is_file()]
        assert not missing, f"keyframes without their image: {missing[:10]}"
        assert m.forest.check() == [], m.forest.check()[:5]
    return n


class Robot(RosTestClient):
    """Camera + odometry publisher (a 30 Hz stream on a thread, or single frames), status subscriber and service
    client, in the test process."""

    def __init__(self, domain: int, width: int = 160, height: int = 120):
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import Image

        from embodied_rag_msgs.msg import Caption

        super().__init__(domain, "fault_robot")
        self.image_pub = self.node.create_publisher(Image, "/camera/image_raw", 10)
        self.odom_pub = self.node.create_publisher(Odometry, "/odom", 50)
        self.caption_pub = self.node.create_publisher(Caption, "/embodied_rag/caption", 10)
        self.Image, self.Odometry, self.Caption = Image, Odometry, Caption
        rng = np.random.default_rng(0)
        self.images = []
        for _ in range(8):
            m = Image(height=height, width=width, encoding="rgb8", step=width * 3)
            m.header.frame_id = "camera"
            m.data = rng.integers(0, 255, width * height * 3, dtype=np.uint8).tobytes()
            self.images.append(m)
        self.sent = {"images": 0, "odom": 0}
        self.domain = domain
        self._camera = threading.Lock()
        self._driver: tuple | None = None  # (context, node) of a renewed camera
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wait(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    @staticmethod
    def _stamp(msg, ns: int) -> None:
        msg.header.stamp.sec, msg.header.stamp.nanosec = ns // S, ns % S

    def odom(self, ns: int, x: float, y: float = 0.0, yaw: float = 0.0) -> None:
        o = self.Odometry()
        self._stamp(o, ns)
        o.header.frame_id = "map"
        o.pose.pose.position.x, o.pose.pose.position.y = x, y
        o.pose.pose.orientation.z, o.pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
        self.odom_pub.publish(o)
        self.sent["odom"] += 1

    def image(self, ns: int, variant: int = 0) -> None:
        m = self.images[variant % len(self.images)]
        self._stamp(m, ns)
        with self._camera:
            self.image_pub.publish(m)
        self.sent["images"] += 1

    def renew_camera(self) -> None:
        """The camera publisher anew, from a participant of its own: what a restarted camera driver brings."""
        import rclpy

        ctx = rclpy.Context()
        rclpy.init(context=ctx, domain_id=self.domain)
        node = rclpy.create_node("fault_camera", context=ctx)
        pub = node.create_publisher(self.Image, "/camera/image_raw", 10)
        with self._camera:
            old, self.image_pub = self.image_pub, pub
            old_driver, self._driver = self._driver, (ctx, node)
        if old_driver is None:
            self.node.destroy_publisher(old)
        else:
            self._close_driver(old_driver)

    def _close_driver(self, driver: tuple) -> None:
        driver[1].destroy_node()
        self.rclpy.shutdown(context=driver[0])

    def caption(self, ns: int, text: str, objects: list[str]) -> None:
        m = self.Caption(text=text, objects=objects)
        self._stamp(m, ns)
        self.caption_pub.publish(m)

    # -- a continuous stream: the robot drives an outward spiral at `speed` m/s -------------------------------
    def start_stream(self, image_hz: float = 30.0, odom_hz: float = 100.0, speed: float = 1.5) -> None:
        t0_ns = time.time_ns()

        def pose(t: float) -> tuple[float, float, float]:
            r = 8.0 + 0.1 * t
            a = speed * t / r
            return r * math.cos(a), r * math.sin(a), a + math.pi / 2

        def loop() -> None:
            start = time.monotonic()
            next_img = next_odom = 0.0
            while not self._stop.is_set():
                t = time.monotonic() - start
                ns = t0_ns + int(t * S)
                if t >= next_odom:
                    self.odom(ns, *pose(t))
                    next_odom += 1.0 / odom_hz
                if t >= next_img:
                    self.image(ns, self.sent["images"])
                    next_img += 1.0 / image_hz
                time.sleep(max(0.0, min(next_img, next_odom) - (time.monotonic() - start)))

        self._stop.clear()
        self._thread = threading.Thread(target=loop, name="fault_robot_stream", daemon=True)
        self._thread.start()

    def stop_stream(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def ask(self, text: str, timeout: float = 30.0, **fields):
        fut = self.cli.call_async(self.Query.Request(query=text, **fields))
        assert self.spin_until(fut.done, timeout), f"no reply to {text[:40]!r} within {timeout} s"
        return fut.result()

    def close(self) -> None:
        self.stop_stream()
        if self._driver is not None:
            self._close_driver(self._driver)
        super().close()


# -- 1a. SIGKILL of memory_node during live ingest --------------------------------------------------------------
def last_session(memory: Path | str) -> int:
    rows = _rows(memory, "SELECT COALESCE(MAX(id), 0) FROM sessions")
    return int(rows[0][0]) if rows else 0


def kill_memory_node_loop(tmp_path: Path, kills: int, offset: int, memory: Path | str | None = None) -> dict:
    """``kills`` SIGKILLs during ingest, each a random 0-3 s after the restarted node's first new commit; before
    every fourth of them (from the second on) one more at a random moment of start-up (loading models, opening
    the store, beginning the session). ``memory``: where it lives (default a directory in ``tmp_path``; a
    PostgreSQL URL runs the same loop against the fleet store)."""
    rng = random.Random(seed_for(f"memory_node x{kills}"))
    domain = domain_for(offset)
    env = ros_env(domain)
    memory = memory if memory is not None else tmp_path / "memory"
    robot = Robot(domain)
    report: dict = {"kills": 0, "startup_kills": 0, "counts": [], "delays": [], "camera_renewed": []}
    proc: Proc | None = None
    args = memory_node_args(memory, "-p", "use_caption_topic:=false", "-p", "summary_period_s:=1.0")
    try:
        robot.start_stream()
        for i in range(kills):
            if i % 4 == 1:
                before = count(memory)
                proc = Proc(args, tmp_path / f"memory_node_{i}_startup.log", env)
                time.sleep(rng.uniform(0.5, 8.0))
                proc.kill()
                report["startup_kills"] += 1
                check_store(memory, before)
            before, session = count(memory), last_session(memory) + 1
            robot.status = {}
            proc = Proc(args, tmp_path / f"memory_node_{i}.log", env)
            assert robot.spin_until(lambda s=str(session): robot.status.get("session") == s, 120), \
                f"restart {i}: no status of session {session}\n{proc.text()[-3000:]}"
            # The restarted node resumes appending: keyframes of the new session are committed.
            appended = robot.spin_until(lambda before=before: count(memory) > before, 30)
            if not appended and robot.status.get("images") == "0" and int(robot.status.get("poses", "0")) > 0:
                # Fast DDS 2.14 over UDP (eProsima/Fast-DDS#5469): after kill -9 of a subscriber, this process's
                # camera publisher has sent nothing to the restarted node for a whole minute while its odometry arrived,
                # and new subscriptions in the node did not help. The node must say so; a restarted camera driver
                # (a new participant) reaches it.
                assert int(robot.status.get("camera_silent", "0")) >= 1, robot.status
                report["camera_renewed"].append(i)
                robot.renew_camera()
                appended = robot.spin_until(lambda before=before: count(memory) > before, 60)
            assert appended, f"restart {i}: nothing appended\n{robot.status}\n{proc.text()[-3000:]}"
            # A random point in the ingest: poll the separate reader until then, remember the last count seen.
            delay = rng.uniform(0.0, 3.0)
            end = time.monotonic() + delay
            seen = before
            while time.monotonic() < end:
                seen = max(seen, count(memory))
                robot.wait(0.02)
            seen = max(seen, count(memory))
            proc.kill()
            assert proc.p.returncode == -signal.SIGKILL, f"restart {i}: exited by itself\n{proc.text()[-3000:]}"
            report["kills"] += 1
            report["delays"].append(round(delay, 2))
            n = check_store(memory, seen)
            rows = committed(memory)
            assert {s for k, s, _ in rows if k > before} == {session}, "appended keyframes are not the new session's"
            report["counts"].append(n)
            assert "Traceback" not in proc.text(), proc.text()[-3000:]
        robot.stop_stream()
    finally:
        if proc is not None and proc.p.poll() is None:
            proc.kill()
        robot.close()
    # Finally a writer opens it (it would repair the forest if needed) and a reader sees every session.
    from embodied_rag.config import Config
    from embodied_rag.memory.memory import Memory

    with Memory(memory, Config(), writable=True) as m:
        assert m.forest.check() == []
        assert len(m.keyframes) == report["counts"][-1]
        ids = [s["id"] for s in m.store.sessions()]
        assert ids == list(range(1, len(ids) + 1)) and kills <= len(ids) <= kills + report["startup_kills"]
    assert report["counts"] == sorted(report["counts"]), "the keyframe count decreased"
    # The middleware case above is rare (at most one restart in 20 seen); more would be a fault of ours.
    assert len(report["camera_renewed"]) <= max(1, kills // 5), report
    print(f"memory_node: {report['kills']} kills during ingest and {report['startup_kills']} during start-up "
          f"survived; keyframes after each kill {report['counts']}; "
          f"kill delays after the first new commit {report['delays']} s; "
          f"camera publisher renewed at restarts {report['camera_renewed']}")
    return report


@pytest.mark.ros
def test_memory_node_sigkill_short(tmp_path):
    report = kill_memory_node_loop(tmp_path, KILLS_SHORT, 0)
    assert report["kills"] == KILLS_SHORT


@pytest.mark.ros
def test_a_renewed_camera_reaches_the_memory_node(tmp_path):
    """What the kill loop does in the middleware case: a camera publisher from a new participant replaces the old
    one, and the running memory node goes on receiving images."""
    domain = domain_for(6)
    robot = Robot(domain)
    proc = Proc(memory_node_args(tmp_path / "memory", "-p", "use_caption_topic:=false"), tmp_path / "memory_node.log",
                ros_env(domain))
    try:
        robot.start_stream()
        assert robot.spin_until(lambda: int(robot.status.get("images", "0")) > 0, 120), proc.text()[-3000:]
        robot.renew_camera()
        seen = int(robot.status["images"])
        assert robot.spin_until(lambda: int(robot.status.get("images", "0")) > seen + 30, 60), robot.status
        assert robot.image_pub.get_subscription_count() >= 1 and robot._driver is not None
    finally:
        robot.close()
        proc.stop()
    assert "Traceback" not in proc.text(), proc.text()[-3000:]


@pytest.mark.ros
@pytest.mark.slow
def test_memory_node_sigkill_20(tmp_path):
    report = kill_memory_node_loop(tmp_path, KILLS_LONG, 1)
    assert report["kills"] == KILLS_LONG


@pytest.mark.ros
@pytest.mark.slow
def test_memory_node_sigkill_20_postgres(tmp_path, postgres_url):
    """The same loop with the memory in PostgreSQL: every keyframe committed before a kill is in the database."""
    report = kill_memory_node_loop(tmp_path, KILLS_LONG, 4, memory=postgres_url)
    assert report["kills"] == KILLS_LONG


# -- 1b. SIGKILL of `embodied-rag build` ------------------------------------------------------------------------
def kill_build_loop(tmp_path: Path, kills: int) -> dict:
    from conftest import write_tum_folder

    rng = random.Random(seed_for(f"build x{kills}"))
    # Each restart resumes and adds its keyframes (up to ~100 with the batch in flight and the jitter): the
    # recording must outlast every kill.
    folder = write_tum_folder(tmp_path / "walk", n_per_room=60 * kills, spacing=0.6, image_size=(160, 120))
    out = tmp_path / "mem"
    cfg = tmp_path / "small_batches.yaml"
    cfg.write_text("ingest:\n  embed_batch_size: 4\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    report: dict = {"kills": 0, "counts": []}
    proc: Proc | None = None
    try:
        for i in range(kills):
            before = count(out)
            target = before + rng.randint(1, 40)  # kill after a random number of new commits ...
            jitter = rng.uniform(0.0, 0.3)  # ... and a random fraction of a batch later
            proc = Proc([str(BIN / "embodied-rag"), "build", str(folder), "--out", str(out), "--config", str(cfg)],
                        tmp_path / f"build_{i}.log", env)
            deadline = time.monotonic() + 180
            seen = before
            while seen < target and proc.p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
                seen = max(seen, count(out))
            assert proc.p.poll() is None, f"build {i} ended before the kill:\n{proc.text()[-3000:]}"
            assert seen >= target, f"build {i}: only {seen - before} keyframes in 180 s"
            time.sleep(jitter)
            seen = max(seen, count(out))
            proc.kill()
            report["kills"] += 1
            n = check_store(out, seen)
            # Each restart resumes the one session of this recording (no second copy of its frames).
            assert {s for k, s, _ in committed(out)} == {1}
            report["counts"].append(n)
    finally:
        if proc is not None and proc.p.poll() is None:
            proc.kill()
    from embodied_rag.config import Config
    from embodied_rag.memory.memory import Memory

    with Memory(out, Config(), writable=True) as m:
        assert m.forest.check() == []
        assert len(m.store.sessions()) == 1
        stamps = [m.keyframes[k].stamp_ns for k in sorted(m.keyframes)]
        assert stamps == sorted(set(stamps)), "a resumed build committed a frame twice or out of order"
    assert report["counts"] == sorted(report["counts"])
    print(f"build: {report['kills']} kills survived; keyframes after each kill {report['counts']}")
    return report


def test_build_sigkill_short(tmp_path):
    assert kill_build_loop(tmp_path, KILLS_SHORT)["kills"] == KILLS_SHORT


@pytest.mark.slow
def test_build_sigkill_20(tmp_path):
    assert kill_build_loop(tmp_path, KILLS_LONG)["kills"] == KILLS_LONG


# -- 2. Model server garbage / slow / down ----------------------------------------------------------------------
class _NeverAsked:
    """The ChatServer's model slot: garbage, slow and down modes never reach it, so a one-line reply stands in for
    SmolLM2 (keeps the two cores free)."""

    @staticmethod
    def chat(messages, max_tokens=160, json_schema=None) -> str:
        return "too late"


CAPTION_TIMEOUT_S, LLM_TIMEOUT_S, RETRIES, MAX_LLM_CALLS = 0.5, 1.0, 1, 2


def llm_budget_s(timeout_s: float, retries: int, calls: int) -> float:
    """Worst case of OpenAICompatibleLLM: per call (1 + retries) timeouts and the backoffs between them."""
    backoff = sum(min(2.0, 0.25 * 2**a) for a in range(retries))
    return calls * ((1 + retries) * timeout_s + backoff)


@pytest.mark.ros
def test_model_server_garbage_slow_down(tmp_path):
    from openai_server import ChatServer

    domain = domain_for(2)
    env = ros_env(domain)
    memory = tmp_path / "memory"
    server = ChatServer(_NeverAsked(), mode="garbage", delay_s=4 * LLM_TIMEOUT_S).__enter__()
    url = server.base_url
    cap = ["-p", "models.captioner.name:=openai", "-p", f"models.captioner.base_url:={url}",
           "-p", "models.captioner.model:=test-vlm", "-p", f"models.captioner.timeout_s:={CAPTION_TIMEOUT_S}",
           "-p", f"models.captioner.retries:={RETRIES}"]
    llm = ["-p", "models.llm.name:=openai", "-p", f"models.llm.base_url:={url}", "-p", "models.llm.model:=test-llm",
           "-p", f"models.llm.timeout_s:={LLM_TIMEOUT_S}", "-p", f"models.llm.retries:={RETRIES}",
           "-p", f"retrieval.max_llm_calls:={MAX_LLM_CALLS}"]
    budget = llm_budget_s(LLM_TIMEOUT_S, RETRIES, MAX_LLM_CALLS)
    margin = 3.0  # query embedding, refresh and DDS on two busy cores
    mem = Proc(memory_node_args(memory, "-p", "summary_period_s:=1.0", *cap), tmp_path / "memory_node.log", env)
    qry = Proc(query_node_args(memory, *llm), tmp_path / "query_node.log", env)
    robot = Robot(domain)
    down = False
    report: dict = {"budget_s": budget, "margin_s": margin}
    rooms = [("A kitchen with a red fridge.", ["fridge"]), ("An office with a wooden desk.", ["desk"])]
    reasons = {"garbage": "malformed reply", "slow": "did not answer within",
               "down": "refused the connection"}
    try:
        assert robot.spin_until(lambda: robot.cli.service_is_ready() and bool(robot.status)
                                and robot.image_pub.get_subscription_count() > 0
                                and robot.caption_pub.get_subscription_count() > 0, 120), \
            f"nodes did not come up\n{mem.text()[-2000:]}\n{qry.text()[-2000:]}"
        robot.wait(0.5)
        x, t = 0.0, time.time_ns()
        for phase, mode in enumerate(("garbage", "slow", "down")):
            if mode == "down":
                server.__exit__()  # the port is closed: connections are refused
                down = True
            else:
                server.mode = mode
            n0 = count(memory)
            asked0 = len(server.requests)
            # Two frames with an external caption (the captioner is not asked) and three without (it is).
            frames = [*(rooms if phase == 0 else []), None, None, None]
            for f in frames:
                x += 2.0
                t += S
                robot.odom(t, x)
                if f is not None:
                    robot.caption(t, *f)
                robot.wait(0.05)
                robot.image(t, int(x))
                robot.wait(0.1)
            robot.odom(t + S // 10, x + 0.2)
            caption_cost = llm_budget_s(CAPTION_TIMEOUT_S, RETRIES, 1)
            assert robot.spin_until(lambda n=n0 + len(frames): count(memory) >= n,
                                    10 + 3 * caption_cost * len(frames)), \
                f"{mode}: keyframes not committed\n{robot.status}\n{mem.text()[-3000:]}"
            new = [r for r in committed(memory) if r[0] > n0]
            assert len(new) == len(frames), new
            assert sorted(c for _, _, c in new if c) == sorted(c for c, _ in (rooms if phase == 0 else []))
            if mode != "down":
                assert len(server.requests) > asked0, f"{mode}: the captioner never asked the server"
            assert robot.spin_until(lambda n=3 * (phase + 1): int(robot.status.get("caption_failures", -1)) >= n, 5), \
                robot.status
            assert robot.spin_until(lambda: summarised(memory), 10 + 3 * caption_cost * len(frames)), \
                f"{mode}: areas not summarised\n{mem.text()[-3000:]}"
            # Queries: a find (LLM choose + answer) and a global explain (LLM answer) answer in degraded mode.
            lat = []
            for q in ("where is the red fridge?", "describe the whole place"):
                t0 = time.monotonic()
                r = robot.ask(q, timeout=budget + 30)
                lat.append(time.monotonic() - t0)
                assert r.success, f"{mode}: {q!r} failed: {r.error_message}"
                assert r.answer, r
                assert lat[-1] <= budget + margin, f"{mode}: {q!r} took {lat[-1]:.1f} s (budget {budget:g} s)"
                if hasattr(r, "degraded"):  # the Query response's degraded text, once the interface has it
                    assert r.degraded, r
            found = robot.ask("where is the red fridge?", timeout=budget + 30)
            assert "kf:1" in list(found.evidence), found
            report[mode] = [round(v, 2) for v in lat]
            robot.wait(0.5)
            qtext, mtext = qry.text(), mem.text()
            why = reasons[mode] + (f" {LLM_TIMEOUT_S:g} s" if mode == "slow" else "")
            assert "answer degraded: LLM unavailable" in qtext and why in qtext, qtext[-3000:]
            why = reasons[mode] + (f" {CAPTION_TIMEOUT_S:g} s" if mode == "slow" else "")
            assert "No caption for an image" in mtext and why in mtext, mtext[-3000:]
        assert mem.p.poll() is None and qry.p.poll() is None
        assert mem.stop() == 0 and qry.stop() == 0
        for p in (mem, qry):
            assert "Traceback" not in p.text(), p.text()[-3000:]
    finally:
        mem.stop()
        qry.stop()
        robot.close()
        if not down:
            server.__exit__()
    print(f"degraded answers (s, find / explain; budget {budget:g} s + {margin:g} s margin): "
          + ", ".join(f"{m} {report[m]}" for m in ("garbage", "slow", "down")))


# -- 3. A second writer on the same memory directory ------------------------------------------------------------
@pytest.mark.ros
def test_second_writer_refused_readers_fine(tmp_path):
    from embodied_rag.config import Config
    from embodied_rag.memory.memory import Memory

    domain = domain_for(3)
    env = ros_env(domain)
    memory = tmp_path / "memory"
    first = Proc(memory_node_args(memory, "-p", "use_caption_topic:=false"), tmp_path / "first.log", env)
    reader = Proc(query_node_args(memory), tmp_path / "query_node.log", env)
    robot = Robot(domain)
    procs = [first, reader]
    lock_line = "is already open for writing by another process"
    try:
        assert robot.spin_until(lambda: robot.cli.service_is_ready() and robot.status.get("session") == "1", 120), \
            f"{first.text()[-2000:]}\n{reader.text()[-2000:]}"
        robot.start_stream()
        assert robot.spin_until(lambda: count(memory) >= 3, 60), first.text()[-3000:]
        # Second writers: a memory node, and the one-process node (its memory node part), on the same directory.
        for name, exe in (("second_memory_node", "memory_node"), ("second_embodied_rag_node", "embodied_rag_node")):
            args = memory_node_args(memory, "-p", "use_caption_topic:=false")
            args[0] = str(BIN / exe)
            second = Proc(args, tmp_path / f"{name}.log", env)
            procs.append(second)
            try:
                rc = second.p.wait(120)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{name} did not refuse within 120 s:\n{second.text()[-3000:]}")
            text = second.text()
            assert rc != 0, f"{name} exited {rc}:\n{text[-3000:]}"
            lines = [ln for ln in text.splitlines() if lock_line in ln]
            assert len(lines) == 1 and "[ERROR]" in lines[0] and str(memory) in lines[0], text[-3000:]
            assert "Traceback" not in text, text[-3000:]
            print(f"{name}: exit {rc}: {lines[0]}")
        # The first writer goes on; readers (the query node, a Memory in this process) are fine meanwhile.
        n = count(memory)
        assert robot.spin_until(lambda: count(memory) > n + 2, 30), first.text()[-3000:]
        with Memory(memory, Config(), writable=False) as m:
            assert len(m.keyframes) > n and m.forest.check() == []
        r = robot.ask("what did you see?")
        # No captions in this stream: the reader answers that words cannot search these images (never blind).
        assert r.success and r.answer.startswith("I hold") and "without captions" in r.answer, r
        robot.stop_stream()
        assert {s for _, s, _ in committed(memory)} == {1}, "a second writer got a session"
        assert first.stop() == 0 and reader.stop() == 0, first.text()[-3000:]
        for p in (first, reader):
            assert "Traceback" not in p.text() and "database is locked" not in p.text(), p.text()[-3000:]
    finally:
        robot.close()
        for p in procs:
            p.stop()


# -- 4. The PostgreSQL server of a fleet memory killed during live ingest ---------------------------------------
@pytest.mark.ros
@pytest.mark.slow
def test_postgres_server_killed_during_live_ingest_nodes_reconnect(tmp_path):
    """kill -9 of the database server while ``memory_node`` ingests into a ``postgresql://`` memory and
    ``query_node`` answers from it: the writer says so in one line and waits; once the server is back, it
    reconnects and goes on with the same session, the query node answers again, and every keyframe committed
    before the kill is there."""
    import tempfile

    from embodied_rag.errors import UserError
    from embodied_rag.memory import postgres_server

    try:
        postgres_server.binaries()
    except UserError as exc:
        pytest.skip(str(exc))
    directory = Path(tempfile.mkdtemp(prefix="embodied_rag_pgnode_"))  # the server runs as 'postgres' when root
    url = postgres_server.start(directory)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    domain = domain_for(5)
    env = ros_env(domain)
    mem = Proc(memory_node_args(url, "-p", "use_caption_topic:=false", "-p", "robot_name:=alpha"),
               tmp_path / "memory_node.log", env)
    qry = Proc(query_node_args(url), tmp_path / "query_node.log", env)
    robot = Robot(domain)
    try:
        assert robot.spin_until(lambda: robot.cli.service_is_ready() and robot.status.get("session") == "1", 120), \
            f"{mem.text()[-2000:]}\n{qry.text()[-2000:]}"
        robot.start_stream()
        assert robot.spin_until(lambda: count(url) >= 8, 90), mem.text()[-3000:]
        assert robot.ask("what did you see?").success
        seen = count(url)
        os.kill(postgres_server.server_pid(directory), signal.SIGKILL)
        lost = "the database server cannot be reached"
        assert robot.spin_until(lambda: lost in mem.text(), 30), mem.text()[-3000:]
        robot.wait(3.0)  # the robot drives on while the server is away
        postgres_server.start(directory, port=port)
        assert robot.spin_until(lambda: "reconnected to" in mem.text() and count(url) > seen + 3, 90), \
            mem.text()[-3000:]
        deadline = time.monotonic() + 60  # the query node reconnects at its next refresh
        while not (reply := robot.ask("what did you see?")).success and time.monotonic() < deadline:
            robot.wait(1.0)
        assert reply.success, f"{reply}\n{qry.text()[-3000:]}"
        robot.stop_stream()
        assert mem.stop() == 0 and qry.stop() == 0, mem.text()[-3000:]
        check_store(url, seen)
        assert {s for _, s, _ in committed(url)} == {1}, "the reconnected node started another session"
        errors = [ln for ln in mem.text().splitlines() if lost in ln]
        assert errors and all("[ERROR]" in ln for ln in errors) and len(errors) <= 2, mem.text()[-3000:]
        for p in (mem, qry):
            assert "Traceback" not in p.text(), p.text()[-3000:]
        print(f"server killed at {seen} keyframes; {count(url)} after the reconnection; {errors[0]}")
    finally:
        robot.close()
        for p in (mem, qry):
            p.stop()
        postgres_server.remove(directory)
