"""Where a memory lives: a directory (SQLite + JPEG files, the embedded default) or a ``postgresql://`` URL
(PostgreSQL + pgvector, shared by a fleet). :func:`open_store` picks the backend from the location; both backends
have the methods of :class:`Store`."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from embodied_rag.memory.keyframe import Keyframe

URL_SCHEMES = ("postgresql://", "postgres://")


def is_url(location: str | Path) -> bool:
    """True for a database URL, False for a memory directory."""
    return isinstance(location, str) and location.strip().lower().startswith(URL_SCHEMES)


def location_of(location: str | Path, expand_user: bool = False) -> str | Path:
    """A URL as it is (stripped), anything else as a Path (with ``~`` expanded when asked)."""
    if is_url(location):
        return str(location).strip()
    return Path(location).expanduser() if expand_user else Path(location)


def redact(location: str | Path) -> str:
    """The location as error messages name it: a URL without its password."""
    text = str(location)
    if not is_url(text):
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def store_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a failing store raises (sqlite3's, and psycopg's when it is installed)."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


def is_connection_error(exc: BaseException) -> bool:
    """The database server went away (or cannot be reached)."""
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


class Store(Protocol):
    """What :class:`~embodied_rag.memory.memory.Memory` and the rest of the package use of a store."""

    writable: bool
    shared: bool  # several writers may write at once (they must catch up before each write)
    location: str | Path

    def close(self) -> None: ...
    def transaction(self) -> Any: ...
    def snapshot(self) -> Any: ...
    def get_meta(self, key: str, default: str | None = None) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def new_session(self, source: str, info: dict[str, Any] | None = None, robot: str = "") -> int: ...
    def sessions(self) -> list[dict[str, Any]]: ...
    def robots(self) -> dict[str, int]: ...
    def data_version(self) -> tuple[int, int]: ...
    def write_image(self, keyframe_id: int, rgb: np.ndarray, max_side: int, quality: int) -> str: ...
    def read_image(self, rel: str) -> np.ndarray | None: ...
    def insert_keyframe(self, kf: Keyframe) -> None: ...
    def load_keyframes(self, after_id: int = 0, ids: list[int] | None = None,
                       limit: int | None = None) -> list[Keyframe]: ...
    def count_keyframes(self) -> int: ...


def open_store(location: str | Path, writable: bool = True, create: bool = True) -> Store:
    """The store at ``location``: a directory → SQLite, a ``postgresql://`` URL → PostgreSQL."""
    if is_url(location):
        from embodied_rag.memory.postgres_store import PostgresStore
        return PostgresStore(str(location).strip(), writable=writable, create=create)
    from embodied_rag.memory.store import MemoryStore
    return MemoryStore(location, writable=writable, create=create)
