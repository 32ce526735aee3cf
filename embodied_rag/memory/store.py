"""The persistent store: one memory directory = ``memory.sqlite`` (WAL) + ``images/`` (JPEG).

Only safe formats: SQL rows, JSON text, raw float32 blobs and JPEG files. One writer at a time (an exclusive lock
file); any number of readers. Each keyframe is committed in its own transaction, so a crash loses at most the
keyframe being written.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from embodied_rag.errors import UserError
from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.local_features import LocalFeatures
from embodied_rag.memory.objects import ObjectInstance
from embodied_rag.memory.pose import Pose
from embodied_rag.memory.vocabulary import Vocabulary

SCHEMA_VERSION = 6
# Upgrades from older schema versions, applied in order when a store is opened for writing:
# version -> (table, column, type) added, or None where the version only added tables (made by _SCHEMA) or changed
# what rows hold. 3 -> 4: the place recognition tables (place_features, place_vocabulary, place_descriptors), and
# forest rows no longer list their children nor store exemplar vectors (older rows still load). 4 -> 5: the
# caption_attempts table (the caption backlog's failures, retried by ``embodied-rag caption``) and keyframe_updates
# (keyframes captioned later, for readers to reload). 5 -> 6: sessions belong to a robot (readers of a schema-5 store
# see every session as the unnamed robot '').
_MIGRATIONS: dict[int, tuple[str, str, str] | None] = {1: ("keyframes", "view_distance", "REAL"), 2: None, 3: None,
                                                       4: None, 5: ("sessions", "robot", "TEXT NOT NULL DEFAULT ''")}
# Steps whose column a reader does without (it reads a default), so an older store stays readable without an upgrade.
_OPTIONAL_FOR_READERS = {5}
DB_NAME = "memory.sqlite"
LOCK_NAME = "memory.lock"
IMAGES = "images"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY, started_at REAL NOT NULL, source TEXT NOT NULL, info TEXT NOT NULL DEFAULT '{}',
    robot TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS keyframes (
    id INTEGER PRIMARY KEY, session INTEGER NOT NULL, stamp_ns INTEGER NOT NULL,
    px REAL NOT NULL, py REAL NOT NULL, pz REAL NOT NULL,
    qx REAL NOT NULL, qy REAL NOT NULL, qz REAL NOT NULL, qw REAL NOT NULL,
    name TEXT NOT NULL, caption TEXT NOT NULL, objects TEXT NOT NULL, image TEXT, source TEXT NOT NULL,
    text_emb BLOB, image_emb BLOB, parent INTEGER, view_distance REAL);
CREATE TABLE IF NOT EXISTS edges (
    a INTEGER NOT NULL, b INTEGER NOT NULL, kind TEXT NOT NULL, length REAL NOT NULL, PRIMARY KEY (a, b, kind));
CREATE TABLE IF NOT EXISTS forest_nodes (
    id INTEGER PRIMARY KEY, level INTEGER NOT NULL, parent INTEGER, name TEXT NOT NULL, summary TEXT NOT NULL,
    data TEXT NOT NULL, embedding BLOB, exemplars BLOB, dirty INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (
    session INTEGER NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (session, name));
CREATE TABLE IF NOT EXISTS caption_cache (hash TEXT PRIMARY KEY, caption TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    id INTEGER PRIMARY KEY, label TEXT NOT NULL, px REAL NOT NULL, py REAL NOT NULL, pz REAL NOT NULL,
    sigma REAL NOT NULL, extent REAL NOT NULL, level_z REAL NOT NULL, n INTEGER NOT NULL,
    first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL, source TEXT NOT NULL, weight REAL NOT NULL,
    labels TEXT NOT NULL, colours TEXT NOT NULL, rays TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS free_space (
    floor INTEGER NOT NULL, tx INTEGER NOT NULL, ty INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (floor, tx, ty));
CREATE TABLE IF NOT EXISTS place_features (
    keyframe INTEGER PRIMARY KEY, width INTEGER NOT NULL, height INTEGER NOT NULL, points BLOB NOT NULL,
    descriptors BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS place_vocabulary (
    id INTEGER PRIMARY KEY, size INTEGER NOT NULL, dims INTEGER NOT NULL, trained_on INTEGER NOT NULL,
    created_at REAL NOT NULL, mean BLOB NOT NULL, projection BLOB NOT NULL, centres BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS place_descriptors (
    keyframe INTEGER PRIMARY KEY, vocabulary INTEGER NOT NULL, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS keyframe_updates (seq INTEGER PRIMARY KEY AUTOINCREMENT, keyframe INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS caption_attempts (
    keyframe INTEGER PRIMARY KEY, attempts INTEGER NOT NULL, last_error TEXT NOT NULL, last_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS object_views (
    object INTEGER NOT NULL, keyframe INTEGER NOT NULL, stamp_ns INTEGER NOT NULL, PRIMARY KEY (object, keyframe))
    WITHOUT ROWID;
"""


def to_blob(vector: np.ndarray | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes | None, rows: int | None = None) -> np.ndarray | None:
    if blob is None:
        return None
    v = np.frombuffer(blob, dtype="<f4").astype(np.float32)
    return v.reshape(rows, -1) if rows is not None else v


def latest_session(sessions: list[dict[str, Any]], source: str, recording: dict[str, Any]) -> int | None:
    """The latest session built from this recording (same source name and fingerprint), if any."""
    for row in reversed(sessions):
        if row["source"] == source and row["info"].get("recording") == recording:
            return int(row["id"])
    return None


def robots_of(sessions: list[dict[str, Any]], counts: list[tuple[int, int]]) -> dict[str, int]:
    robot = {s["id"]: s["robot"] for s in sessions}
    out: dict[str, int] = {name: 0 for name in robot.values()}
    for session, n in counts:
        name = robot.get(session, "")
        out[name] = out.get(name, 0) + int(n)
    return dict(sorted(out.items()))


@dataclass
class ForestRow:
    id: int
    level: int
    parent: int | None
    name: str
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    embedding: np.ndarray | None = None
    exemplars: np.ndarray | None = None
    dirty: bool = True


class MemoryStore:
    """SQLite + JPEG persistence of one memory directory."""

    shared = False  # one writer at a time (the lock file): it never has to catch up with another writer

    def __init__(self, directory: str | Path, writable: bool = True, create: bool = True):
        self.dir = Path(directory)
        self.location: str | Path = self.dir
        self.writable = writable
        self._lock_fd: int | None = None
        db = self.dir / DB_NAME
        if not db.exists():
            if not (writable and create):
                raise UserError(f"{self.dir} is not a memory directory (no {DB_NAME}); build one first.")
            if self.dir.exists() and not self.dir.is_dir():
                raise UserError(f"{self.dir} exists and is not a directory.")
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.dir, 0o700)
        if writable:
            (self.dir / IMAGES).mkdir(mode=0o700, exist_ok=True)
            self._acquire_lock()
        try:
            if writable:
                self.conn = sqlite3.connect(db, timeout=30.0, isolation_level=None, check_same_thread=False)
                os.chmod(db, 0o600)
            else:
                self.conn = sqlite3.connect(
                    f"file:{db}?mode=ro", uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA busy_timeout=30000")
            if writable:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                self.conn.executescript(_SCHEMA)
                self._check_schema(init=True)
            else:
                self._check_schema(init=False)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise UserError(f"{db} cannot be opened as a memory store: {exc}.") from None

    # -- lifecycle -----------------------------------------------------------------------------------------
    def _acquire_lock(self) -> None:
        path = self.dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(
                f"{self.dir} is already open for writing by another process; stop it or open this memory read-only."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def close(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()
            self.conn = None  # type: ignore[assignment]
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_schema(self, init: bool) -> None:
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            if not init:
                raise UserError(f"{self.dir} has an empty memory store.")
            self.conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('created_at', ?)", (str(time.time()),))
        elif int(row[0]) < SCHEMA_VERSION and self.writable:
            with self.transaction():
                for version in range(int(row[0]), SCHEMA_VERSION):
                    step = _MIGRATIONS[version]
                    if step is None:
                        continue
                    table, column, kind = step
                    if column not in {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}:
                        self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                self.conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
        elif int(row[0]) < SCHEMA_VERSION and all(_MIGRATIONS[v] is None or v in _OPTIONAL_FOR_READERS
                                                   for v in range(int(row[0]), SCHEMA_VERSION)):
            pass  # only tables were added since: readable as it is (they read as empty) until a writer upgrades it
        elif int(row[0]) < SCHEMA_VERSION:
            raise UserError(f"{self.dir} has the older store schema {row[0]}; open it once for writing (e.g. "
                            f"`embodied-rag forest {self.dir}`) to upgrade it to {SCHEMA_VERSION}.")
        elif int(row[0]) > SCHEMA_VERSION:
            raise UserError(f"{self.dir} has store schema version {row[0]}, newer than this version reads "
                            f"({SCHEMA_VERSION}); update embodied_rag.")

    # -- meta, sessions, counters ---------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def new_session(self, source: str, info: dict[str, Any] | None = None, robot: str = "") -> int:
        cur = self.conn.execute(
            "INSERT INTO sessions (started_at, source, info, robot) VALUES (?, ?, ?, ?)",
            (time.time(), source, json.dumps(info or {}), robot))
        return int(cur.lastrowid)

    def sessions(self) -> list[dict[str, Any]]:
        has_robot = "robot" in {r[1] for r in self.conn.execute("PRAGMA table_info(sessions)")}
        robot = "robot" if has_robot else "''"
        rows = self.conn.execute(f"SELECT id, started_at, source, info, {robot} FROM sessions ORDER BY id").fetchall()
        return [{"id": r[0], "started_at": r[1], "source": r[2], "info": json.loads(r[3]), "robot": r[4]}
                for r in rows]

    def robots(self) -> dict[str, int]:
        """Robot name -> its keyframes ('' for sessions built without a robot name)."""
        return robots_of(self.sessions(), self.conn.execute(
            "SELECT session, COUNT(*) FROM keyframes GROUP BY session").fetchall())

    def session_of(self, source: str, recording: dict[str, Any]) -> int | None:
        return latest_session(self.sessions(), source, recording)

    def session_end(self, session: int) -> tuple[int | None, int | None]:
        """(id, stamp) of the session's last committed keyframe; (None, None) when it has none."""
        row = self.conn.execute("SELECT id, stamp_ns FROM keyframes WHERE session=? ORDER BY id DESC LIMIT 1",
                                (session,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def add_counters(self, session: int, counts: dict[str, int]) -> None:
        with self.transaction():
            for name, value in counts.items():
                self.conn.execute(
                    "INSERT INTO counters VALUES (?, ?, ?) ON CONFLICT(session, name) DO UPDATE SET value=value+?",
                    (session, name, value, value))

    def counters(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT name, SUM(value) FROM counters GROUP BY name").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def data_version(self) -> tuple[int, int]:
        """Changes whenever another connection commits: (max keyframe id, sqlite data_version)."""
        max_id = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM keyframes").fetchone()[0]
        return int(max_id), int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # -- transactions -------------------------------------------------------------------------------------
    class _Tx:
        def __init__(self, conn: sqlite3.Connection):
            self.conn = conn

        def __enter__(self):
            self.conn.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type, *rest):
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")

    def transaction(self) -> _Tx:
        return MemoryStore._Tx(self.conn)

    class _Snapshot:
        def __init__(self, conn: sqlite3.Connection):
            self.conn = conn

        def __enter__(self):
            self.conn.execute("BEGIN")

        def __exit__(self, *exc):
            self.conn.execute("COMMIT")

    def snapshot(self) -> _Snapshot:
        """A read transaction: every read inside it sees the same committed state."""
        return MemoryStore._Snapshot(self.conn)

    # -- images ---------------------------------------------------------------------------------------------
    def write_image(self, keyframe_id: int, rgb: np.ndarray, max_side: int, quality: int) -> str:
        """Write an RGB (or grey) image as JPEG, scaled to ``max_side``; returns the path relative to the dir."""
        h, w = rgb.shape[:2]
        scale = max_side / max(h, w)
        if scale < 1.0:
            rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        bgr = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise ValueError("JPEG encoding failed")
        rel = f"{IMAGES}/{keyframe_id:08d}.jpg"
        path = self.dir / rel
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, buf.tobytes())
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return rel

    def read_image(self, rel: str) -> np.ndarray | None:
        bgr = cv2.imread(str(self.dir / rel), cv2.IMREAD_COLOR)
        return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    # -- keyframes ------------------------------------------------------------------------------------------
    def next_keyframe_id(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM keyframes").fetchone()[0])

    def insert_keyframe(self, kf: Keyframe) -> None:
        p, q = kf.pose.position, kf.pose.orientation
        self.conn.execute(
            "INSERT INTO keyframes (id, session, stamp_ns, px, py, pz, qx, qy, qz, qw, name, caption, objects, image,"
            " source, text_emb, image_emb, parent, view_distance) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,?)",
            (kf.id, kf.session, kf.stamp_ns, *p, *q, kf.name, kf.caption, json.dumps(kf.objects), kf.image,
             kf.source, to_blob(kf.text_embedding), to_blob(kf.image_embedding), kf.view_distance))

    def insert_edges(self, edges: list[tuple[int, int, str, float]]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO edges VALUES (?, ?, ?, ?)", edges)

    def load_keyframes(self, after_id: int = 0, ids: list[int] | None = None,
                       limit: int | None = None) -> list[Keyframe]:
        """Keyframes after ``after_id`` (the first ``limit`` of them, in id order, when given), or just those in
        ``ids``."""
        columns = ("SELECT id, session, stamp_ns, px, py, pz, qx, qy, qz, qw, name, caption, objects, image, source,"
                   " text_emb, image_emb, view_distance FROM keyframes")
        if ids is None:
            rows = self.conn.execute(f"{columns} WHERE id > ? ORDER BY id LIMIT ?",
                                     (after_id, -1 if limit is None else int(limit))).fetchall()
        else:
            rows = [r for chunk in range(0, len(ids), 500) for r in self.conn.execute(
                f"{columns} WHERE id IN ({','.join('?' * len(ids[chunk:chunk + 500]))}) ORDER BY id",
                ids[chunk:chunk + 500]).fetchall()]
        return [
            Keyframe(id=r[0], session=r[1], stamp_ns=r[2], pose=Pose((r[3], r[4], r[5]), (r[6], r[7], r[8], r[9])),
                     name=r[10], caption=r[11], objects=json.loads(r[12]), image=r[13], source=r[14],
                     text_embedding=from_blob(r[15]), image_embedding=from_blob(r[16]), view_distance=r[17])
            for r in rows
        ]

    def update_keyframe_text(self, kf: Keyframe) -> None:
        """Rewrite what captioning later changes: text, embeddings (inside the caller's transaction)."""
        self.conn.execute(
            "UPDATE keyframes SET name=?, caption=?, objects=?, text_emb=?, image_emb=? WHERE id=?",
            (kf.name, kf.caption, json.dumps(kf.objects), to_blob(kf.text_embedding), to_blob(kf.image_embedding),
             kf.id))
        self.conn.execute("INSERT INTO keyframe_updates (keyframe) VALUES (?)", (kf.id,))

    def last_keyframe_update(self) -> int:
        if not self._has_table("keyframe_updates"):
            return 0
        return int(self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM keyframe_updates").fetchone()[0])

    def keyframe_updates(self, after_seq: int = 0) -> tuple[int, list[int]]:
        """(latest update number, keyframes rewritten after ``after_seq``): what a reader must load again."""
        if not self._has_table("keyframe_updates"):
            return 0, []  # a schema-4 store opened read-only
        rows = self.conn.execute("SELECT seq, keyframe FROM keyframe_updates WHERE seq > ? ORDER BY seq",
                                 (after_seq,)).fetchall()
        if not rows:
            return after_seq, []
        return int(rows[-1][0]), sorted({int(r[1]) for r in rows})

    def load_edges(self, after_id: int = 0) -> list[tuple[int, int, str, float]]:
        return [tuple(r) for r in self.conn.execute(
            "SELECT a, b, kind, length FROM edges WHERE a > ? OR b > ?", (after_id, after_id)).fetchall()]

    def count_keyframes(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM keyframes").fetchone()[0])

    # -- forest ---------------------------------------------------------------------------------------------
    def save_forest(self, nodes: list[ForestRow], removed: list[int], leaf_parents: dict[int, int | None],
                    replace_all: bool = False) -> None:
        """Upsert changed forest nodes and leaf→parent links (inside the caller's transaction): one batch per kind of
        row, and only the rows the forest reports as changed (a keyframe insert: its path to the root)."""
        if replace_all:
            self.conn.execute("DELETE FROM forest_nodes")
        if removed:
            self.conn.executemany("DELETE FROM forest_nodes WHERE id=?", [(i,) for i in removed])
        self.conn.executemany(
            "INSERT OR REPLACE INTO forest_nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(n.id, n.level, n.parent, n.name, n.summary, json.dumps(n.data), to_blob(n.embedding),
              to_blob(n.exemplars), int(n.dirty)) for n in nodes])
        self.conn.executemany("UPDATE keyframes SET parent=? WHERE id=?",
                              [(p, k) for k, p in leaf_parents.items()])

    def load_forest(self) -> tuple[list[ForestRow], dict[int, int | None]]:
        """Forest rows and every keyframe's parent. Exemplar vectors of rows from schema 3 are not read: they are the
        leaves' own embeddings."""
        nodes = []
        for r in self.conn.execute("SELECT id, level, parent, name, summary, data, embedding, dirty"
                                   " FROM forest_nodes ORDER BY id"):
            nodes.append(ForestRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), from_blob(r[6]), None, bool(r[7])))
        parents = {int(r[0]): r[1] for r in self.conn.execute("SELECT id, parent FROM keyframes")}
        return nodes, parents

    # -- objects --------------------------------------------------------------------------------------------
    def save_objects(self, changed: list[ObjectInstance], removed: list[int], views: list[tuple[int, int, int]],
                     merges: list[tuple[int, int]]) -> None:
        """Upsert changed instances, drop merged ones and record which keyframes saw what (inside the caller's
        transaction)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(o.id, o.label, *(float(v) for v in o.position), o.sigma, o.extent, o.level_z, o.n, o.first_ns,
              o.last_ns, o.source, o.weight, json.dumps(dict(o.labels)), json.dumps(dict(o.colours)),
              json.dumps([[round(v, 4) for v in r] for r in o.rays])) for o in changed])
        for a, b in merges:
            self.conn.execute("UPDATE OR IGNORE object_views SET object=? WHERE object=?", (b, a))
        if removed:
            self.conn.executemany("DELETE FROM objects WHERE id=?", [(i,) for i in removed])
            self.conn.executemany("DELETE FROM object_views WHERE object=?", [(i,) for i in removed])
        self.conn.executemany("INSERT OR IGNORE INTO object_views VALUES (?, ?, ?)", views)

    def load_objects(self) -> list[ObjectInstance]:
        views: dict[int, list[int]] = {}
        for obj, kf in self.conn.execute("SELECT object, keyframe FROM object_views ORDER BY object, keyframe"):
            views.setdefault(obj, []).append(kf)
        out = []
        for r in self.conn.execute("SELECT id, label, px, py, pz, sigma, extent, level_z, n, first_ns, last_ns,"
                                   " source, weight, labels, colours, rays FROM objects ORDER BY id"):
            out.append(ObjectInstance(r[0], r[1], np.array(r[2:5], dtype=float), r[5], r[6], r[7], r[8], r[9],
                                      r[10], r[11], r[12], Counter(json.loads(r[13])), Counter(json.loads(r[14])),
                                      views.get(r[0], []), [tuple(v) for v in json.loads(r[15])]))
        return out

    # -- free space -----------------------------------------------------------------------------------------
    def save_free_space(self, tiles: list[tuple[int, int, int, bytes]]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO free_space VALUES (?, ?, ?, ?)", tiles)

    def load_free_space(self) -> list[tuple[int, int, int, bytes]]:
        return [tuple(r) for r in self.conn.execute("SELECT floor, tx, ty, data FROM free_space")]

    # -- place recognition -----------------------------------------------------------------------------------
    def _has_table(self, name: str) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() \
            is not None

    def save_place_features(self, keyframe_id: int, feats: LocalFeatures) -> None:
        points, descriptors = feats.to_blobs()
        self.conn.execute("INSERT OR REPLACE INTO place_features VALUES (?, ?, ?, ?, ?)",
                          (keyframe_id, feats.size[0], feats.size[1], points, descriptors))

    def load_place_features(self, keyframe_ids: list[int]) -> dict[int, LocalFeatures]:
        if not keyframe_ids or not self._has_table("place_features"):
            return {}
        out = {}
        for chunk in range(0, len(keyframe_ids), 500):
            ids = keyframe_ids[chunk:chunk + 500]
            rows = self.conn.execute(
                f"SELECT keyframe, width, height, points, descriptors FROM place_features WHERE keyframe IN "
                f"({','.join('?' * len(ids))})", ids).fetchall()
            for k, w, h, pts, des in rows:
                out[int(k)] = LocalFeatures.from_blobs(pts, des, w, h)
        return out

    def place_feature_ids(self) -> set[int]:
        if not self._has_table("place_features"):
            return set()
        return {int(r[0]) for r in self.conn.execute("SELECT keyframe FROM place_features")}

    def place_index_counts(self) -> dict[str, int]:
        """Keyframes with local features and with a global descriptor of the current vocabulary."""
        if not self._has_table("place_vocabulary"):
            return {"features": 0, "descriptors": 0, "vocabulary_trained_on": 0}
        vocab = self.conn.execute("SELECT id, trained_on FROM place_vocabulary ORDER BY id DESC LIMIT 1").fetchone()
        return {"features": int(self.conn.execute("SELECT COUNT(*) FROM place_features").fetchone()[0]),
                "descriptors": int(self.conn.execute("SELECT COUNT(*) FROM place_descriptors WHERE vocabulary=?",
                                                     (vocab[0] if vocab else -1,)).fetchone()[0]),
                "vocabulary_trained_on": int(vocab[1]) if vocab else 0}

    def save_vocabulary(self, vocab: Vocabulary) -> int:
        """Store a newly trained vocabulary (it becomes the current one); returns its id."""
        size, dims = vocab.centres.shape
        cur = self.conn.execute(
            "INSERT INTO place_vocabulary (size, dims, trained_on, created_at, mean, projection, centres)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", (size, dims, vocab.trained_on, time.time(), *vocab.to_blobs()))
        vocab.id = int(cur.lastrowid)
        self.conn.execute("DELETE FROM place_descriptors WHERE vocabulary != ?", (vocab.id,))
        self.conn.execute("DELETE FROM place_vocabulary WHERE id != ?", (vocab.id,))
        return vocab.id

    def load_vocabulary(self) -> Vocabulary | None:
        if not self._has_table("place_vocabulary"):
            return None
        row = self.conn.execute("SELECT id, size, dims, trained_on, mean, projection, centres FROM place_vocabulary"
                                " ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return Vocabulary.from_blobs(row[4], row[5], row[6], row[1], row[2], row[3], row[0])

    def save_place_descriptors(self, vocab_id: int, rows: list[tuple[int, np.ndarray]]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO place_descriptors VALUES (?, ?, ?)",
                              [(k, vocab_id, np.asarray(v, dtype="<f2").tobytes()) for k, v in rows])

    def load_place_descriptors(self, vocab_id: int, after_id: int = 0) -> tuple[list[int], np.ndarray | None]:
        """(keyframe ids, matrix) of the global descriptors made with this vocabulary, keyframes after ``after_id``."""
        if not self._has_table("place_descriptors"):
            return [], None
        rows = self.conn.execute("SELECT keyframe, vector FROM place_descriptors WHERE vocabulary=? AND keyframe > ?"
                                 " ORDER BY keyframe", (vocab_id, after_id)).fetchall()
        if not rows:
            return [], None
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f2").astype(np.float32).reshape(len(rows), -1)
        return [int(r[0]) for r in rows], matrix

    # -- caption attempts -----------------------------------------------------------------------------------
    def record_caption_failure(self, keyframe_id: int, error: str) -> int:
        """Count one failed caption of a keyframe (inside the caller's transaction); returns its attempts so far."""
        self.conn.execute(
            "INSERT INTO caption_attempts VALUES (?, 1, ?, ?) ON CONFLICT(keyframe) DO UPDATE SET "
            "attempts=attempts+1, last_error=excluded.last_error, last_at=excluded.last_at",
            (keyframe_id, error, time.time()))
        return int(self.conn.execute("SELECT attempts FROM caption_attempts WHERE keyframe=?",
                                     (keyframe_id,)).fetchone()[0])

    def clear_caption_failures(self, keyframe_id: int) -> None:
        self.conn.execute("DELETE FROM caption_attempts WHERE keyframe=?", (keyframe_id,))

    def caption_failures(self) -> dict[int, tuple[int, str]]:
        """keyframe id -> (failed attempts, last error) of keyframes whose caption has failed and not yet succeeded."""
        if not self._has_table("caption_attempts"):
            return {}  # a schema-4 store opened read-only
        return {int(r[0]): (int(r[1]), r[2]) for r in
                self.conn.execute("SELECT keyframe, attempts, last_error FROM caption_attempts ORDER BY keyframe")}

    # -- caption cache --------------------------------------------------------------------------------------
    def cached_caption(self, key: str) -> str | None:
        row = self.conn.execute("SELECT caption FROM caption_cache WHERE hash=?", (key,)).fetchone()
        return row[0] if row else None

    def cache_caption(self, key: str, caption_json: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO caption_cache VALUES (?, ?)", (key, caption_json))
