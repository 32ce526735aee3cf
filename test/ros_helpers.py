"""What the ROS tests share: an environment that keeps DDS on this machine, a per-run domain id, child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def domain_for(offset: int) -> int:
    """A ROS_DOMAIN_ID distinct per test (offset) and per pytest process; Fast DDS allows 0..232. Parallel pytest
    workers (gw0, gw1, ...) draw from disjoint ranges, so two tests running at once never share a domain."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if worker.startswith("gw") and workers > 1:
        span = 200 // workers
        return 1 + int(worker[2:]) % workers * span + (os.getpid() * 11 + offset * 37) % span
    return 1 + (os.getpid() * 11 + offset * 37) % 200


def ros_env(domain: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("OPENAI_API_KEY", None)
    env.update(ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_DOMAIN_ID=str(domain), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1", RCUTILS_COLORIZED_OUTPUT="0")
    return env


class Proc:
    """A child process with its output in a file; the test that starts one always stops it."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]):
        self.log = log
        self.fh = open(log, "w")  # noqa: SIM115 - closed in stop()/kill()
        self.p = subprocess.Popen(args, stdout=self.fh, stderr=subprocess.STDOUT, env=env, cwd=str(REPO))

    @property
    def pid(self) -> int:
        return self.p.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait(10)
        self.fh.close()

    def stop(self, timeout: float = 30.0) -> int:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.fh.close()
        return self.p.returncode


class RosTestClient:
    """The test's own node in this process, on its own context and domain: the /diagnostics status of the
    embodied_rag nodes, a client of the query service, and spinning until a condition holds."""

    def __init__(self, domain: int, name: str):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray

        from embodied_rag_msgs.srv import Query

        self.rclpy, self.Query = rclpy, Query
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain)
        self.node = rclpy.create_node(name, context=self.ctx)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)
        self.status: dict[str, str] = {}
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_status, 10)
        self.cli = self.node.create_client(Query, "/embodied_rag/query")

    def _on_status(self, msg) -> None:
        for st in msg.status:
            if st.name.startswith("embodied_rag"):
                self.status = {kv.key: kv.value for kv in st.values}

    def spin_until(self, cond, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return bool(cond())

    def close(self) -> None:
        self.node.destroy_node()
        self.rclpy.shutdown(context=self.ctx)
