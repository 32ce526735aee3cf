"""``embodied-rag play BAG``: publish a rosbag2 on its original topics with its original timing, and ``/clock``.

For machines without ``ros2 bag play`` (real installs should use that). Messages are read with rosbags and
published as serialized CDR through rclpy (no deserialise/serialise round trip), at bag receive time scaled by
``--rate``. ``/clock`` (rosgraph_msgs/Clock) carries the bag time, so nodes with ``use_sim_time:=true`` follow it.
Publishers are reliable with a deep queue (like ``ros2 bag play`` without recorded QoS overrides): they connect to
best-effort sensor subscriptions as well as to reliable ones.

``--loop`` starts over at the end; header stamps then go back in time, which a memory node counts as
``stamp_backwards`` (it only takes frames newer than the last one it kept).
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path
from typing import Any

from embodied_rag.errors import UserError

CLOCK_TOPIC = "/clock"


def add_play_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``play`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "play", help="publish a rosbag2 on its topics with its timing and /clock (without ros2 bag play)",
        description="Publish every message of a rosbag2 (folder, .mcap or .db3) on its original topic at its "
                    "original timing (scaled by --rate), with /clock. Needs the ROS 2 Python packages.")
    p.add_argument("bag", help="rosbag2 folder, .mcap or .db3 file")
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor (default 1.0)")
    p.add_argument("--loop", action="store_true", help="start over at the end until interrupted")
    p.add_argument("--topics", nargs="+", metavar="TOPIC", help="only these topics (default: all)")
    p.add_argument("--delay", type=float, default=0.0, metavar="S", help="wait this long before the first message")
    p.add_argument("--wait-for-subscribers", type=float, default=0.0, metavar="S",
                   help="wait up to S seconds until every played topic has a subscriber (0: do not wait)")
    p.add_argument("--clock-hz", type=float, default=40.0, help="/clock rate (0: no /clock)")
    p.set_defaults(func=cmd_play)
    return p


def _message_class(msgtype: str) -> Any:
    """The rclpy message class of a ROS 2 type name such as ``sensor_msgs/msg/Image``."""
    parts = msgtype.split("/")
    if len(parts) != 3:
        raise ValueError(f"not a ROS 2 message type name: {msgtype}")
    module = importlib.import_module(f"{parts[0]}.{parts[1]}")
    return getattr(module, parts[2])


def _bag_path(path: Path) -> Path:
    if not path.exists():
        raise UserError(f"Bag {path} does not exist.")
    if path.is_dir() and not (path / "metadata.yaml").is_file():
        files = sorted(p for p in path.iterdir() if p.suffix in (".mcap", ".db3"))
        if len(files) == 1:
            return files[0]
        raise UserError(f"{path} is not a rosbag2 folder (no metadata.yaml and not one .mcap/.db3 file).")
    return path


def play(bag: str | Path, rate: float = 1.0, loop: bool = False, topics: list[str] | None = None,
         delay: float = 0.0, wait_for_subscribers: float = 0.0, clock_hz: float = 40.0, node: Any = None) -> int:
    """Play a bag; returns the number of messages published. Uses ``node`` or creates its own (rclpy must be
    initialised by the caller)."""
    from rclpy.duration import Duration
    from rosbags.rosbag2 import Reader
    from rosgraph_msgs.msg import Clock

    if rate <= 0:
        raise UserError(f"--rate must be positive, got {rate:g}.")
    path = _bag_path(Path(bag))
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # noqa: BLE001 - rosbags raises many kinds for damaged files; the user needs one sentence
        raise UserError(f"Cannot read bag {path}: {str(exc).rstrip('.')}.") from None
    own = node is None
    if own:
        from rclpy.node import Node

        node = Node("embodied_rag_player")
    log = node.get_logger()
    try:
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE)
        pubs: dict[int, Any] = {}
        by_topic: dict[str, Any] = {}
        for conn in reader.connections:
            if topics and conn.topic not in topics:
                continue
            if conn.topic == CLOCK_TOPIC:
                continue  # we publish our own clock
            if conn.topic not in by_topic:
                try:
                    cls = _message_class(conn.msgtype)
                except (ImportError, AttributeError, ValueError):
                    log.warning(f"{conn.topic}: message type {conn.msgtype} is not installed; not played")
                    continue
                by_topic[conn.topic] = node.create_publisher(cls, conn.topic, qos)
            pubs[conn.id] = by_topic[conn.topic]
        if not pubs:
            raise UserError(f"Bag {path} has nothing to play (topics: "
                            f"{', '.join(sorted({c.topic for c in reader.connections})) or 'none'}).")
        clock_pub = node.create_publisher(Clock, CLOCK_TOPIC, 10) if clock_hz > 0 else None
        if wait_for_subscribers > 0:
            _wait_for_subscribers(by_topic, wait_for_subscribers)
        if delay > 0:
            time.sleep(delay)
        conns = [c for c in reader.connections if c.id in pubs]
        sent = 0
        while True:
            sent += _play_once(reader, conns, pubs, rate, clock_pub, clock_hz)
            if not loop:
                break
            log.info("looping")
        # Reliable subscribers must get the last messages before the publishers go away with the node.
        for pub in by_topic.values():
            pub.wait_for_all_acked(Duration(seconds=5.0))
        return sent
    finally:
        reader.close()
        if own:
            node.destroy_node()


def _wait_for_subscribers(pubs: dict[str, Any], timeout: float) -> None:
    end = time.monotonic() + timeout
    while True:
        missing = [t for t, p in pubs.items() if p.get_subscription_count() == 0]
        if not missing:
            time.sleep(0.3)  # the subscriber's side of the match may lag the publisher's by a moment
            return
        if time.monotonic() > end:
            raise UserError(f"No subscriber on {', '.join(sorted(missing))} after {timeout:g} s.")
        time.sleep(0.05)


def _clock(clock_pub: Any, bag_ns: int) -> None:
    from rosgraph_msgs.msg import Clock

    msg = Clock()
    msg.clock.sec, msg.clock.nanosec = bag_ns // 1_000_000_000, bag_ns % 1_000_000_000
    clock_pub.publish(msg)


def _play_once(reader: Any, conns: list, pubs: dict[int, Any], rate: float, clock_pub: Any, clock_hz: float) -> int:
    start_wall = time.monotonic()
    start_bag: int | None = None
    clock_period = 1.0 / clock_hz if clock_hz > 0 else 0.0
    next_clock = start_wall
    sent = 0
    for conn, bag_ns, raw in reader.messages(connections=conns):
        if start_bag is None:
            start_bag = bag_ns
        due = start_wall + (bag_ns - start_bag) / 1e9 / rate
        # Sleep until the message is due, publishing /clock (bag time) on the way.
        while True:
            now = time.monotonic()
            if clock_pub is not None and now >= next_clock:
                _clock(clock_pub, start_bag + int((now - start_wall) * rate * 1e9))
                next_clock = now + clock_period
            if now >= due:
                break
            wake = min(due, next_clock) if clock_pub is not None else due
            time.sleep(max(0.0, min(wake - now, 0.05)))
        if clock_pub is not None:
            _clock(clock_pub, bag_ns)
        pubs[conn.id].publish(bytes(raw))
        sent += 1
    return sent


def cmd_play(args: argparse.Namespace) -> int:
    try:
        import rclpy
    except ImportError:
        raise UserError("embodied-rag play needs the ROS 2 Python packages (rclpy); run scripts/setup.sh.") from None
    rclpy.init()
    try:
        t0 = time.monotonic()
        sent = play(args.bag, rate=args.rate, loop=args.loop, topics=args.topics, delay=args.delay,
                    wait_for_subscribers=args.wait_for_subscribers, clock_hz=args.clock_hz)
        print(f"played {sent} messages from {args.bag} in {time.monotonic() - t0:.1f} s")
    except KeyboardInterrupt:
        return 130
    finally:
        rclpy.try_shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m embodied_rag.ros.player BAG ...``: the same command as ``embodied-rag play``."""
    import sys

    parser = argparse.ArgumentParser(prog="embodied-rag")
    add_play_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["play", *(sys.argv[1:] if argv is None else argv)])
    try:
        return cmd_play(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
