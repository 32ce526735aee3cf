"""Live-ingest load test: 30 Hz 640x480 rgb8 images + 100 Hz odometry into ``memory_node`` for 60 s (``--duration``
for shorter), with ``query_node`` answering a bounded query loop at the same time.

Reports keyframes made, frames dropped (by the keyframe policy, by the bounded queue, by the image buffer), the
queue high-water mark, CPU (psutil, per process), RSS at start and end, and query latency p50/p95 (client wall time)
under that load. Everything runs on this machine with DDS discovery kept local.

    .venv/bin/python benchmarks/bench_ros_ingest.py --duration 60 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
S = 1_000_000_000
QUERIES = ["where is the bright corner?", "take me to where we started", "what did you see?",
           "where is the nearest place you have been?"]


def start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env, cwd=str(REPO))  # noqa: SIM115


def stop(p: subprocess.Popen) -> int | None:
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    return p.returncode


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of publishing (default 60)")
    ap.add_argument("--image-hz", type=float, default=30.0)
    ap.add_argument("--odom-hz", type=float, default=100.0)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--speed", type=float, default=1.0, help="robot speed on its circle, m/s")
    ap.add_argument("--query-period", type=float, default=0.5, help="seconds between queries (bounded loop)")
    ap.add_argument("--domain", type=int, default=1 + os.getpid() % 200)
    ap.add_argument("--reliable", action="store_true",
                    help="publish reliable and subscribe with reliable:=true (default: sensor-data best effort)")
    ap.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    args = ap.parse_args(argv)

    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_DOMAIN_ID=str(args.domain),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RCUTILS_COLORIZED_OUTPUT="0")
    os.environ.update(ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import Image

    from embodied_rag_msgs.srv import Query

    tmp = Path(tempfile.mkdtemp(prefix="bench_ros_ingest_"))
    memory = tmp / "memory"
    procs = {
        "memory_node": start([str(BIN / "memory_node"), "--ros-args", "-p", f"memory_dir:={memory}", "-p",
                              "pose_type:=odometry", "-p", "image_type:=raw", "-p", "status_period_s:=0.5",
                              "-p", f"reliable:={str(args.reliable).lower()}"],
                             tmp / "memory_node.log", env),
        "query_node": start([str(BIN / "query_node"), "--ros-args", "-p", f"memory_dir:={memory}", "-p",
                             "pose_type:=odometry"], tmp / "query_node.log", env),
    }
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=args.domain)
    node = rclpy.create_node("bench_ros_ingest", context=ctx)
    executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE) if args.reliable else qos_profile_sensor_data
    image_pub = node.create_publisher(Image, "/camera/image_raw", qos)
    odom_pub = node.create_publisher(Odometry, "/odom", qos)
    status: dict[str, str] = {}

    def on_status(msg: DiagnosticArray) -> None:
        for st in msg.status:
            if st.name.startswith("embodied_rag"):
                status.clear()
                status.update({kv.key: kv.value for kv in st.values})

    node.create_subscription(DiagnosticArray, "/diagnostics", on_status, 10)
    client = node.create_client(Query, "/embodied_rag/query")

    def spin_until(cond, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not cond():
            executor.spin_once(timeout_sec=0.05)
        return bool(cond())

    report: dict = {"qos": "reliable" if args.reliable else "sensor_data",
                    "duration_s": args.duration, "image_hz": args.image_hz, "odom_hz": args.odom_hz,
                    "image_size": [args.width, args.height]}
    try:
        t_start = time.monotonic()
        ok = spin_until(lambda: client.service_is_ready() and bool(status) and image_pub.get_subscription_count()
                        and odom_pub.get_subscription_count(), 120)
        if not ok:
            raise SystemExit(f"nodes did not start; see logs in {tmp}")
        report["startup_s"] = round(time.monotonic() - t_start, 1)
        ps = {name: psutil.Process(p.pid) for name, p in procs.items()}
        me = psutil.Process()
        for p in [*ps.values(), me]:
            p.cpu_percent(None)
        rss_start = {name: p.memory_info().rss for name, p in ps.items()}

        # Pre-built images (textured noise, a few variants): publishing must not be the bottleneck here.
        rng = np.random.default_rng(0)
        images = []
        for _ in range(8):
            m = Image(height=args.height, width=args.width, encoding="rgb8", step=args.width * 3)
            m.header.frame_id = "camera_optical_frame"
            m.data = rng.integers(0, 255, args.width * args.height * 3, dtype=np.uint8).tobytes()
            images.append(m)
        sent = {"images": 0, "odom": 0}
        stop_pub = threading.Event()
        t0_ns = time.time_ns()

        def pose_at(t: float) -> tuple[float, float, float]:
            r = 10.0
            a = args.speed * t / r
            return r * math.cos(a), r * math.sin(a), a + math.pi / 2

        def publish_loop() -> None:
            start_t = time.monotonic()
            next_img, next_odom = 0.0, 0.0
            while not stop_pub.is_set():
                t = time.monotonic() - start_t
                if t >= args.duration:
                    return
                if t >= next_odom:
                    x, y, yaw = pose_at(t)
                    o = Odometry()
                    ns = t0_ns + int(t * S)
                    o.header.stamp.sec, o.header.stamp.nanosec = ns // S, ns % S
                    o.header.frame_id = "map"
                    o.pose.pose.position.x, o.pose.pose.position.y = x, y
                    o.pose.pose.orientation.z, o.pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
                    odom_pub.publish(o)
                    sent["odom"] += 1
                    next_odom += 1.0 / args.odom_hz
                if t >= next_img:
                    m = images[sent["images"] % len(images)]
                    ns = t0_ns + int(t * S)
                    m.header.stamp.sec, m.header.stamp.nanosec = ns // S, ns % S
                    image_pub.publish(m)
                    sent["images"] += 1
                    next_img += 1.0 / args.image_hz
                time.sleep(max(0.0, min(next_img, next_odom) - (time.monotonic() - start_t)))

        pub = threading.Thread(target=publish_loop, daemon=True)
        t_pub = time.monotonic()
        pub.start()
        latencies, failures, answered = [], 0, 0
        i = 0
        while pub.is_alive():
            t = time.monotonic()
            fut = client.call_async(Query.Request(query=QUERIES[i % len(QUERIES)], navigate=True))
            i += 1
            if spin_until(fut.done, 10.0) and fut.result() is not None:
                latencies.append((time.monotonic() - t) * 1000.0)
                answered += 1
                failures += int(not fut.result().success)
            else:
                failures += 1
            spin_until(lambda: False, max(0.0, args.query_period - (time.monotonic() - t)))
        publish_s = time.monotonic() - t_pub
        cpu = {name: round(p.cpu_percent(None), 1) for name, p in ps.items()}
        cpu["publisher_and_client"] = round(me.cpu_percent(None), 1)
        # Let the worker drain what is queued, then read the final counters.
        spin_until(lambda: status.get("queue") == "0" and status.get("committing") == "0", 60)
        spin_until(lambda: False, 1.0)
        rss_end = {name: p.memory_info().rss for name, p in ps.items()}
        report.update({
            "published": dict(sent), "publish_s": round(publish_s, 1),
            "received_images": int(status.get("images", 0)), "frames_paired": int(status.get("frames", 0)),
            "keyframes": int(status.get("keyframes", 0)),
            "dropped_by_policy": int(status.get("dropped_by_policy", 0)),
            "dropped_queue_full": int(status.get("dropped_queue_full", 0)),
            "dropped_image_buffer": int(status.get("dropped_image_buffer", 0)),
            "not_received_images": sent["images"] - int(status.get("images", 0)),
            "queue_high_water": int(status.get("queue_high_water", 0)),
            "skipped": {k: int(v) for k, v in status.items() if k.startswith("skipped:")},
            "cpu_percent": cpu, "rss_mb_start": {k: round(v / 2**20) for k, v in rss_start.items()},
            "rss_mb_end": {k: round(v / 2**20) for k, v in rss_end.items()},
            "queries": {"asked": i, "answered": answered, "failed": failures,
                        "p50_ms": round(percentile(latencies, 50) or 0, 1),
                        "p95_ms": round(percentile(latencies, 95) or 0, 1),
                        "max_ms": round(max(latencies, default=0), 1)},
        })
    finally:
        stop_codes = {name: stop(p) for name, p in procs.items()}
        node.destroy_node()
        rclpy.shutdown(context=ctx)
    report["exit_codes"] = stop_codes
    report["logs"] = str(tmp)
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
