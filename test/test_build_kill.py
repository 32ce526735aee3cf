"""A build killed with SIGKILL halfway reopens with every keyframe committed before the kill."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import write_tum_folder

from embodied_rag.config import Config
from embodied_rag.memory.memory import Memory


def _count(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        return conn.execute("SELECT COUNT(*) FROM keyframes").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_halfway_then_reopen_and_resume(tmp_path):
    folder = write_tum_folder(tmp_path / "walk", n_per_room=150, spacing=0.6, image_size=(320, 240))
    out = tmp_path / "mem"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cfg = tmp_path / "small_batches.yaml"
    cfg.write_text("ingest:\n  embed_batch_size: 4\n")
    proc = subprocess.Popen([sys.executable, "-m", "embodied_rag", "build", str(folder), "--out", str(out),
                             "--config", str(cfg)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    try:
        while _count(out / "memory.sqlite") < 100 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "build finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    committed = _count(out / "memory.sqlite")
    assert 100 <= committed < 600
    with Memory(out, Config()) as m:
        assert len(m.keyframes) == committed
        assert sorted(m.keyframes) == list(range(1, committed + 1))
        assert m.forest.check() == []
        for kf in m.keyframes.values():
            assert (out / kf.image).is_file()
    # The memory resumes: a second build appends a new session.
    done = subprocess.run([sys.executable, "-m", "embodied_rag", "build", str(folder), "--out", str(out), "--json"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    with Memory(out, Config(), writable=False) as m:
        assert len(m.store.sessions()) == 2
        assert len(m.keyframes) > committed
