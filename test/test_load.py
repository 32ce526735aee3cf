"""Load: many concurrent service clients query ``query_node`` while ``memory_node`` ingests a 30 Hz 640x480 stream with
100 Hz odometry (separate processes, as deployed).

Checked: every call sent gets a reply (no timeouts) and every reply is a success; no "database is locked" (or any
traceback) in the node logs; the nodes' RSS is flat after warm-up. p50/p95 latency and RSS are printed and written to
``load_report.json`` in the test's tmp dir. The default run: 10 clients for 10 s; ``-m slow``: 50 clients for 60 s.

The clients run in a child process (this file run as a script): N threads, each with its own rclpy client, one
request in flight each, and a multi-threaded executor delivering the replies.

RSS bound: between warm-up (half-way) and the end a node may grow by at most ``RSS_GROWTH_MB``. What it legitimately
adds in that time is the new keyframes (a 384-d embedding, graph and forest entries, a few KB each: ~1 MB for the
~100 keyframes of 30 s at 1.5 m/s; place-recognition features, ~10 KB each) plus allocator noise (tens of MB for
torch and DDS buffers). The clients start once the place vocabulary has been trained (a one-time cost). A leak of one
640x480 frame per image would be 27 MB/s, of one reply per query several MB/s at these rates: far above the bound.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_faults import Proc, Robot, count, domain_for, memory_node_args, query_node_args, ros_env

RSS_GROWTH_MB = 64
CALL_TIMEOUT_S = 60.0
QUERIES = ["where is the bright corner?", "take me to where we started", "what did you see?",
           "where is the nearest place you have been?", "describe the whole place", "when did you last see a door?"]


# -- the client process ---------------------------------------------------------------------------------------
def run_clients(domain: int, clients: int, duration: float, out: Path) -> None:
    import rclpy
    from rclpy.executors import MultiThreadedExecutor

    from embodied_rag.ros.conversions import CLIENT_QOS
    from embodied_rag_msgs.srv import Query

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain)
    node = rclpy.create_node("load_clients", context=ctx)
    executor = MultiThreadedExecutor(num_threads=4, context=ctx)
    executor.add_node(node)
    spinning = threading.Event()
    spinning.set()

    def spin() -> None:
        # Our own loop, stopped before the executor is shut down (shutting it down under spin() can abort).
        while spinning.is_set():
            executor.spin_once(timeout_sec=0.1)

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    clis = [node.create_client(Query, "/embodied_rag/query", qos_profile=CLIENT_QOS) for _ in range(clients)]
    ready = all(c.wait_for_service(timeout_sec=60) for c in clis)
    results: list[dict] = [{"sent": 0, "replies": 0, "timeouts": 0, "failed": [], "latency_ms": []}
                           for _ in range(clients)]
    start = threading.Barrier(clients + 1)

    def worker(i: int) -> None:
        r = results[i]
        start.wait()
        end = time.monotonic() + duration
        k = i
        while time.monotonic() < end:
            done = threading.Event()
            t0 = time.monotonic()
            fut = clis[i].call_async(Query.Request(query=QUERIES[k % len(QUERIES)], navigate=k % 3 == 0))
            fut.add_done_callback(lambda _f, d=done: d.set())
            r["sent"] += 1
            k += 1
            if not done.wait(CALL_TIMEOUT_S):
                r["timeouts"] += 1
                clis[i].remove_pending_request(fut)
                continue
            r["latency_ms"].append((time.monotonic() - t0) * 1000.0)
            r["replies"] += 1
            res = fut.result()
            if res is None or not res.success:
                r["failed"].append(res.error_message if res is not None else "no result")

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    start.wait()
    for t in threads:
        t.join(duration + CALL_TIMEOUT_S + 10)
    report = {"ready": ready, "clients": clients, "duration_s": duration, "wall_s": time.monotonic() - t0,
              "sent": sum(r["sent"] for r in results), "replies": sum(r["replies"] for r in results),
              "timeouts": sum(r["timeouts"] for r in results), "failed": [f for r in results for f in r["failed"]],
              "latency_ms": [v for r in results for v in r["latency_ms"]],
              "stuck_threads": sum(t.is_alive() for t in threads)}
    out.write_text(json.dumps(report))
    spinning.clear()
    spinner.join(10)
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown(context=ctx)


# -- the test ---------------------------------------------------------------------------------------------------
def run_load(tmp_path: Path, clients: int, duration: float, offset: int, memory: Path | str | None = None) -> dict:
    import psutil

    domain = domain_for(offset)
    env = ros_env(domain)
    memory = memory if memory is not None else tmp_path / "memory"
    mem = Proc(memory_node_args(memory, "-p", "use_caption_topic:=false", "-p", "status_period_s:=1.0"),
               tmp_path / "memory_node.log", env)
    qry = Proc(query_node_args(memory), tmp_path / "query_node.log", env)
    robot = Robot(domain, width=640, height=480)
    load: Proc | None = None
    rss: list[tuple[float, int, int]] = []  # (seconds since the clients started, memory_node, query_node)
    try:
        assert robot.spin_until(lambda: robot.cli.service_is_ready() and bool(robot.status)
                                and robot.image_pub.get_subscription_count() > 0, 120), \
            f"{mem.text()[-2000:]}\n{qry.text()[-2000:]}"
        robot.start_stream(image_hz=30.0, odom_hz=100.0, speed=1.5)
        # Past the one-time training of the place-recognition vocabulary (at places.train_after keyframes), which
        # is start-up, not growth.
        from embodied_rag.config import Config

        warm_keyframes = Config().places.train_after + 3
        assert robot.spin_until(lambda: count(memory) >= warm_keyframes, 120), mem.text()[-3000:]
        ps = [psutil.Process(mem.pid), psutil.Process(qry.pid)]
        out = tmp_path / "clients.json"
        load = Proc([sys.executable, __file__, "--domain", str(domain), "--clients", str(clients), "--duration",
                     str(duration), "--out", str(out)], tmp_path / "clients.log", env)
        t0 = time.monotonic()
        status_at_start = dict(robot.status)
        while load.p.poll() is None and time.monotonic() - t0 < duration + CALL_TIMEOUT_S + 90:
            rss.append((time.monotonic() - t0, *(p.memory_info().rss for p in ps)))
            robot.wait(1.0)
        assert load.p.poll() == 0, f"client process: {load.p.poll()}\n{load.text()[-3000:]}"
        robot.stop_stream()
        status_at_end = dict(robot.status)
        keyframes = count(memory)
        assert mem.stop() == 0 and qry.stop() == 0
        result = json.loads(out.read_text())
    finally:
        robot.close()
        for p in (load, mem, qry):
            if p is not None:
                p.stop()
    assert result["ready"], "the clients did not find the service"
    lat = np.array(result.pop("latency_ms")) if result["latency_ms"] else np.zeros(1)
    t_warm = duration / 2  # warm-up: the first half (models, DDS buffers, caches fill)

    def rss_at(t: float) -> list[float]:
        row = min(rss, key=lambda r: abs(r[0] - t))
        return [round(v / 2**20, 1) for v in row[1:]]

    report = {
        "clients": clients, "duration_s": duration, "sent": result["sent"], "replies": result["replies"],
        "timeouts": result["timeouts"], "failed": len(result["failed"]), "failed_first": result["failed"][:5],
        "stuck_threads": result["stuck_threads"],
        "throughput_qps": round(result["replies"] / duration, 1),
        "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 1), "p95": round(float(np.percentile(lat, 95)), 1),
                       "max": round(float(lat.max()), 1)},
        "images_published": robot.sent["images"],
        "images_received": int(status_at_end.get("images", 0)) - int(status_at_start.get("images", 0)),
        "keyframes": keyframes,
        "rss_mb": {"start": rss_at(0.0), "warm": rss_at(t_warm), "end": rss_at(duration),
                   "nodes": ["memory_node", "query_node"]},
    }
    (tmp_path / "load_report.json").write_text(json.dumps(report, indent=2))
    print(f"\nload {clients} clients x {duration:g} s: {json.dumps(report)}")
    print(f"load report: {tmp_path / 'load_report.json'}")

    assert report["sent"] == report["replies"] and report["timeouts"] == 0 and report["stuck_threads"] == 0, report
    assert report["replies"] >= clients, report  # every client got at least one answer
    assert report["failed"] == 0, report
    for p in (mem, qry):
        text = p.text()
        assert "database is locked" not in text and "Traceback" not in text, text[-3000:]
        assert "refresh failed" not in text and "query failed" not in text, text[-3000:]
    grown = [end - warm for warm, end in zip(report["rss_mb"]["warm"], report["rss_mb"]["end"])]
    assert max(grown) < RSS_GROWTH_MB, f"RSS grew {grown} MB after warm-up: {report['rss_mb']}"
    return report


@pytest.mark.ros
def test_load_short(tmp_path):
    run_load(tmp_path, clients=10, duration=10.0, offset=10)


@pytest.mark.ros
@pytest.mark.slow
def test_load_50_clients_60s(tmp_path):
    run_load(tmp_path, clients=50, duration=60.0, offset=11)


@pytest.mark.ros
@pytest.mark.slow
def test_load_50_clients_60s_postgres(tmp_path, postgres_url):
    """The same load with the memory in PostgreSQL (the node's memory_dir is the URL)."""
    run_load(tmp_path, clients=50, duration=60.0, offset=12, memory=postgres_url)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="load clients (started by test_load)")
    ap.add_argument("--domain", type=int, required=True)
    ap.add_argument("--clients", type=int, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    run_clients(a.domain, a.clients, a.duration, a.out)
