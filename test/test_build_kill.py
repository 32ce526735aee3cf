"""A build killed with SIGKILL halfway reopens with every keyframe committed before the kill, and building the
same recording again resumes it: the memory ends exactly as an uninterrupted build would."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import dataset, write_tum_folder

from embodied_rag.config import Config
from embodied_rag.memory.memory import Memory


def _count(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        return conn.execute("SELECT COUNT(*) FROM keyframes").fetchone()[0]
    except sqlite3.Error:
        return 0


def _kill_after(args: list[str], env: dict[str, str], out: Path, keyframes: int) -> None:
    """Run a build and SIGKILL it once a separate reader sees ``keyframes`` committed (polled every 5 ms)."""
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    try:
        while _count(out / "memory.sqlite") < keyframes and time.time() < deadline and proc.poll() is None:
            time.sleep(0.005)
        assert proc.poll() is None, "build finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sigkill_halfway_then_reopen_and_resume(tmp_path):
    folder = write_tum_folder(tmp_path / "walk", n_per_room=150, spacing=0.6, image_size=(320, 240))
    out = tmp_path / "mem"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cfg = tmp_path / "small_batches.yaml"
    cfg.write_text("ingest:\n  embed_batch_size: 4\n")
    _kill_after([sys.executable, "-m", "embodied_rag", "build", str(folder), "--out", str(out), "--config",
                 str(cfg)], env, out, 100)
    committed = _count(out / "memory.sqlite")
    assert 100 <= committed < 600
    with Memory(out, Config()) as m:
        assert len(m.keyframes) == committed
        assert sorted(m.keyframes) == list(range(1, committed + 1))
        assert m.forest.check() == []
        for kf in m.keyframes.values():
            assert (out / kf.image).is_file()
    # Building the same folder again resumes the killed session and ends as an uninterrupted build.
    done = subprocess.run([sys.executable, "-m", "embodied_rag", "build", str(folder), "--out", str(out), "--json"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["resumed"] and report["already_in_memory"] > 0
    whole = tmp_path / "uninterrupted"
    once = subprocess.run([sys.executable, "-m", "embodied_rag", "build", str(folder), "--out", str(whole)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert once.returncode == 0, once.stderr
    assert _stamps(out) == _stamps(whole)
    with Memory(out, Config(), writable=False) as m:
        assert len(m.store.sessions()) == 1
        assert m.forest.check() == []
        assert sorted(m.keyframes) == list(range(1, len(m.keyframes) + 1))


def _stamps(memory_dir: Path) -> list[tuple[int, int]]:
    """(stamp, session) of every keyframe, in id order."""
    conn = sqlite3.connect(f"file:{memory_dir / 'memory.sqlite'}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT stamp_ns, session FROM keyframes ORDER BY id").fetchall()
    finally:
        conn.close()


def test_killed_build_of_a_real_data_set_resumes_to_the_uninterrupted_count(tmp_path, shared_memory):
    """coex_lobby, killed after a few committed keyframes (one keyframe per batch, so commits are spread out),
    then built again: the same keyframes, stamps, poses and captions as the session-wide uninterrupted build."""
    folder = dataset("coex_lobby")
    whole = shared_memory("coex_lobby")
    out = tmp_path / "mem"
    cfg = tmp_path / "one_per_batch.yaml"
    cfg.write_text("ingest:\n  embed_batch_size: 1\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    args = [sys.executable, "-m", "embodied_rag", "build", str(folder), "--out", str(out), "--config", str(cfg)]
    _kill_after(args, env, out, 5)
    killed_at = _count(out / "memory.sqlite")
    with Memory(whole, Config(), writable=False) as m:
        total = len(m.keyframes)
        expected = [(kf.stamp_ns, kf.pose.position, kf.text()) for kf in m.keyframes.values()]
    assert 5 <= killed_at < total
    done = subprocess.run([*args, "--json"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["resumed"] and report["keyframes_before"] == killed_at
    assert report["new_keyframes"] == total - killed_at and report["keyframes"] == total
    with Memory(out, Config(), writable=False) as m:
        got = [(kf.stamp_ns, kf.pose.position, kf.text()) for kf in m.keyframes.values()]
        assert len(m.store.sessions()) == 1 and m.forest.check() == []
    assert got == expected


def test_another_recording_appends_a_session(tmp_path):
    from embodied_rag.api import build_memory

    first = write_tum_folder(tmp_path / "walk", n_per_room=4)
    second = write_tum_folder(tmp_path / "walk_again", n_per_room=4)
    out = tmp_path / "mem"
    a = build_memory(first, out, progress=False)
    again = build_memory(first, out, progress=False)
    b = build_memory(second, out, progress=False)
    assert not a["resumed"] and a["new_keyframes"] > 0
    assert again["resumed"] and again["new_keyframes"] == 0 and again["keyframes"] == a["keyframes"]
    assert not b["resumed"] and b["sessions"] == 2 and b["keyframes"] == a["keyframes"] + b["new_keyframes"]
