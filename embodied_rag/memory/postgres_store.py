"""The PostgreSQL (+ pgvector) store: one memory = the tables of one database (or of the schema the URL's
``options=-csearch_path=...`` names), images included (``bytea``), so every robot of a fleet reads and writes the
same memory.

Same methods and meaning as the SQLite :class:`~embodied_rag.memory.store.MemoryStore`; text embeddings are kept as
float32 blobs (what loading reads) and also as a pgvector ``vector`` column for server-side search.

**Several writers at once.** Every write transaction first takes ``pg_advisory_xact_lock`` on the memory's key, so
write transactions run one after another, and numbers itself: ``meta.commits`` is incremented and every forest row,
object, object view, free-space tile, keyframe→parent link and deletion it writes carries that number (``rev``). A
writer (:class:`~embodied_rag.memory.memory.Memory` with ``store.shared``) then, inside the same transaction and
before touching its copy in RAM, reads only what was committed after the number it last saw (:meth:`changes`: new
keyframes and edges, changed forest rows, objects and tiles, deletions, keyframes captioned later), applies it, takes
the next keyframe id (``max(id) + 1``, exact because it holds the lock and has caught up) and writes its keyframe.
Catching up costs what the other writers wrote since, not the size of the memory. Readers take the same increments
in one ``REPEATABLE READ`` snapshot: a commit number is only visible together with every row it wrote.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from embodied_rag.errors import UserError
from embodied_rag.memory.backend import redact
from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.local_features import LocalFeatures
from embodied_rag.memory.objects import ObjectInstance
from embodied_rag.memory.pose import Pose
from embodied_rag.memory.store import IMAGES, SCHEMA_VERSION, ForestRow, from_blob, latest_session, robots_of, to_blob
from embodied_rag.memory.vocabulary import Vocabulary

# The advisory lock key of a memory (one memory per database or schema): "erag" in ASCII.
LOCK_KEY = 0x65726167

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id BIGSERIAL PRIMARY KEY, started_at DOUBLE PRECISION NOT NULL, source TEXT NOT NULL,
    info TEXT NOT NULL DEFAULT '{}', robot TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS keyframes (
    id BIGINT PRIMARY KEY, session BIGINT NOT NULL, stamp_ns BIGINT NOT NULL,
    px DOUBLE PRECISION NOT NULL, py DOUBLE PRECISION NOT NULL, pz DOUBLE PRECISION NOT NULL,
    qx DOUBLE PRECISION NOT NULL, qy DOUBLE PRECISION NOT NULL, qz DOUBLE PRECISION NOT NULL,
    qw DOUBLE PRECISION NOT NULL, name TEXT NOT NULL, caption TEXT NOT NULL, objects TEXT NOT NULL, image TEXT,
    source TEXT NOT NULL, text_emb BYTEA, image_emb BYTEA, text_vec vector, parent BIGINT,
    view_distance DOUBLE PRECISION, parent_rev BIGINT NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS keyframes_parent_rev ON keyframes (parent_rev);
CREATE INDEX IF NOT EXISTS keyframes_session ON keyframes (session);
CREATE TABLE IF NOT EXISTS images (key TEXT PRIMARY KEY, data BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS edges (
    a BIGINT NOT NULL, b BIGINT NOT NULL, kind TEXT NOT NULL, length DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (a, b, kind));
CREATE INDEX IF NOT EXISTS edges_b ON edges (b);
CREATE TABLE IF NOT EXISTS forest_nodes (
    id BIGINT PRIMARY KEY, level INTEGER NOT NULL, parent BIGINT, name TEXT NOT NULL, summary TEXT NOT NULL,
    data TEXT NOT NULL, embedding BYTEA, exemplars BYTEA, dirty INTEGER NOT NULL, rev BIGINT NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS forest_nodes_rev ON forest_nodes (rev);
CREATE TABLE IF NOT EXISTS counters (
    session BIGINT NOT NULL, name TEXT NOT NULL, value BIGINT NOT NULL, PRIMARY KEY (session, name));
CREATE TABLE IF NOT EXISTS caption_cache (hash TEXT PRIMARY KEY, caption TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    id BIGINT PRIMARY KEY, label TEXT NOT NULL, px DOUBLE PRECISION NOT NULL, py DOUBLE PRECISION NOT NULL,
    pz DOUBLE PRECISION NOT NULL, sigma DOUBLE PRECISION NOT NULL, extent DOUBLE PRECISION NOT NULL,
    level_z DOUBLE PRECISION NOT NULL, n INTEGER NOT NULL, first_ns BIGINT NOT NULL, last_ns BIGINT NOT NULL,
    source TEXT NOT NULL, weight DOUBLE PRECISION NOT NULL, labels TEXT NOT NULL, colours TEXT NOT NULL,
    rays TEXT NOT NULL DEFAULT '[]', rev BIGINT NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS objects_rev ON objects (rev);
CREATE TABLE IF NOT EXISTS object_views (
    object BIGINT NOT NULL, keyframe BIGINT NOT NULL, stamp_ns BIGINT NOT NULL, PRIMARY KEY (object, keyframe));
CREATE TABLE IF NOT EXISTS free_space (
    floor INTEGER NOT NULL, tx INTEGER NOT NULL, ty INTEGER NOT NULL, data BYTEA NOT NULL,
    rev BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (floor, tx, ty));
CREATE INDEX IF NOT EXISTS free_space_rev ON free_space (rev);
CREATE TABLE IF NOT EXISTS place_features (
    keyframe BIGINT PRIMARY KEY, width INTEGER NOT NULL, height INTEGER NOT NULL, points BYTEA NOT NULL,
    descriptors BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS place_vocabulary (
    id BIGSERIAL PRIMARY KEY, size INTEGER NOT NULL, dims INTEGER NOT NULL, trained_on INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL, mean BYTEA NOT NULL, projection BYTEA NOT NULL, centres BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS place_descriptors (
    keyframe BIGINT PRIMARY KEY, vocabulary BIGINT NOT NULL, vector BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS keyframe_updates (seq BIGSERIAL PRIMARY KEY, keyframe BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS caption_attempts (
    keyframe BIGINT PRIMARY KEY, attempts INTEGER NOT NULL, last_error TEXT NOT NULL,
    last_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS deleted (rev BIGINT NOT NULL, kind TEXT NOT NULL, id BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS deleted_rev ON deleted (rev);
"""

# Every table a memory has, in the order a copy writes them (migrate).
TABLES = ("meta", "sessions", "keyframes", "edges", "forest_nodes", "counters", "caption_cache", "objects",
          "object_views", "free_space", "place_features", "place_vocabulary", "place_descriptors",
          "keyframe_updates", "caption_attempts")

_KF_COLUMNS = ("id, session, stamp_ns, px, py, pz, qx, qy, qz, qw, name, caption, objects, image, source, text_emb,"
               " image_emb, view_distance")
_OBJ_COLUMNS = "id, label, px, py, pz, sigma, extent, level_z, n, first_ns, last_ns, source, weight, labels, " \
               "colours, rays"


def _keyframe(r: tuple) -> Keyframe:
    return Keyframe(id=r[0], session=r[1], stamp_ns=r[2], pose=Pose((r[3], r[4], r[5]), (r[6], r[7], r[8], r[9])),
                    name=r[10], caption=r[11], objects=json.loads(r[12]), image=r[13], source=r[14],
                    text_embedding=from_blob(_bytes(r[15])), image_embedding=from_blob(_bytes(r[16])),
                    view_distance=r[17])


def _bytes(v: Any) -> bytes | None:
    return None if v is None else bytes(v)


def _object(r: tuple, views: dict[int, list[int]]) -> ObjectInstance:
    return ObjectInstance(r[0], r[1], np.array(r[2:5], dtype=float), r[5], r[6], r[7], r[8], r[9], r[10], r[11],
                          r[12], Counter(json.loads(r[13])), Counter(json.loads(r[14])), views.get(r[0], []),
                          [tuple(v) for v in json.loads(r[15])])


@dataclass
class Changes:
    """What other writers committed after a commit number (see :meth:`PostgresStore.changes`)."""

    rev: int
    keyframes: list[Keyframe] = field(default_factory=list)
    edges: list[tuple[int, int, str, float]] = field(default_factory=list)
    forest_rows: list[ForestRow] = field(default_factory=list)
    forest_removed: list[int] = field(default_factory=list)
    leaf_parents: dict[int, int | None] = field(default_factory=dict)
    objects: list[ObjectInstance] = field(default_factory=list)
    objects_removed: list[int] = field(default_factory=list)
    tiles: list[tuple[int, int, int, bytes]] = field(default_factory=list)
    update_seq: int = 0
    recaptioned: list[Keyframe] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.keyframes or self.edges or self.forest_rows or self.forest_removed or self.leaf_parents
                    or self.objects or self.objects_removed or self.tiles or self.recaptioned)


class PostgresStore:
    """PostgreSQL persistence of one memory (see the module docstring for several writers at once)."""

    shared = True

    def __init__(self, url: str, writable: bool = True, create: bool = True):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise UserError("A postgresql:// memory needs psycopg: pip install 'psycopg[binary]' pgvector.") from None
        self.url = url
        self.location: str = url
        self.name = redact(url)
        self.writable = writable
        self.create = create
        self.conn = None
        self._rev: int | None = None  # the commit number of the write transaction in progress
        self._connect()

    # -- lifecycle -----------------------------------------------------------------------------------------
    def _connect(self) -> None:
        import psycopg
        try:
            try:
                self.conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            except psycopg.OperationalError as exc:
                if not (self.writable and self.create and "does not exist" in str(exc)):
                    raise
                self.conn = _create_and_connect(self.url)
        except psycopg.Error as exc:
            raise UserError(f"Cannot connect to the memory database {self.name}: {_first_line(exc)}.") from None
        try:
            self._setup()
        except psycopg.Error as exc:
            self.close()
            raise UserError(f"{self.name} cannot be opened as a memory store: {_first_line(exc)}.") from None

    def _setup(self) -> None:
        conn = self.conn
        has_meta = conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]
        if not has_meta and not (self.writable and self.create):
            raise UserError(f"{self.name} holds no memory; build one first.")
        if self.writable:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                if not conn.execute("SELECT 1 FROM pg_extension WHERE extname='vector'").fetchone():
                    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                conn.execute(_SCHEMA)
                row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                if row is None:
                    conn.execute("INSERT INTO meta VALUES ('schema_version', %s), ('created_at', %s), "
                                 "('commits', '0') ON CONFLICT DO NOTHING", (str(SCHEMA_VERSION), str(time.time())))
                    row = (str(SCHEMA_VERSION),)
        else:
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                raise UserError(f"{self.name} has an empty memory store.")
        if int(row[0]) > SCHEMA_VERSION:
            raise UserError(f"{self.name} has store schema version {row[0]}, newer than this version reads "
                            f"({SCHEMA_VERSION}); update embodied_rag.")
        from pgvector.psycopg import register_vector
        register_vector(conn)
        if not self.writable:
            conn.execute("SET default_transaction_read_only = on")

    def reconnect(self) -> None:
        """Open the connection again (after the server restarted); raises UserError while it is unreachable."""
        with contextlib.suppress(Exception):
            if self.conn is not None:
                self.conn.close()
        self.conn = None
        self._rev = None
        self._connect()

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self):
        """One write transaction, serialised with every other writer's by the memory's advisory lock."""
        if self._rev is not None:  # already inside one (a helper that opens its own)
            yield
            return
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            self._rev = int(self.conn.execute(
                "UPDATE meta SET value = (value::bigint + 1)::text WHERE key='commits' RETURNING value").fetchone()[0])
            try:
                yield
            finally:
                self._rev = None

    @contextlib.contextmanager
    def snapshot(self):
        """A read transaction that sees one committed state."""
        if self._rev is not None:
            yield
            return
        with self.conn.transaction():
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    @contextlib.contextmanager
    def _write(self):
        """The caller's transaction, or one of its own when there is none."""
        if self._rev is not None:
            yield self._rev
        else:
            with self.transaction():
                yield self._rev

    def commits(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key='commits'").fetchone()
        return int(row[0]) if row else 0

    # -- meta, sessions, counters ---------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=%s", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                          (key, value))

    def new_session(self, source: str, info: dict[str, Any] | None = None, robot: str = "") -> int:
        return int(self.conn.execute(
            "INSERT INTO sessions (started_at, source, info, robot) VALUES (%s, %s, %s, %s) RETURNING id",
            (time.time(), source, json.dumps(info or {}), robot)).fetchone()[0])

    def sessions(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT id, started_at, source, info, robot FROM sessions ORDER BY id").fetchall()
        return [{"id": r[0], "started_at": r[1], "source": r[2], "info": json.loads(r[3]), "robot": r[4]}
                for r in rows]

    def robots(self) -> dict[str, int]:
        return robots_of(self.sessions(), self.conn.execute(
            "SELECT session, COUNT(*) FROM keyframes GROUP BY session").fetchall())

    def session_of(self, source: str, recording: dict[str, Any]) -> int | None:
        return latest_session(self.sessions(), source, recording)

    def session_end(self, session: int) -> tuple[int | None, int | None]:
        row = self.conn.execute("SELECT id, stamp_ns FROM keyframes WHERE session=%s ORDER BY id DESC LIMIT 1",
                                (session,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def add_counters(self, session: int, counts: dict[str, int]) -> None:
        with self._write():
            with self.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO counters VALUES (%s, %s, %s) ON CONFLICT (session, name) DO UPDATE SET "
                    "value = counters.value + excluded.value", [(session, n, v) for n, v in counts.items()])

    def counters(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT name, SUM(value) FROM counters GROUP BY name").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def data_version(self) -> tuple[int, int]:
        """Changes whenever a writer commits: (max keyframe id, commit number)."""
        row = self.conn.execute("SELECT (SELECT COALESCE(MAX(id), 0) FROM keyframes),"
                                " (SELECT value FROM meta WHERE key='commits')").fetchone()
        return int(row[0]), int(row[1] or 0)

    # -- images ---------------------------------------------------------------------------------------------
    def write_image(self, keyframe_id: int, rgb: np.ndarray, max_side: int, quality: int) -> str:
        """Store an RGB (or grey) image as JPEG, scaled to ``max_side``, in the database; returns its key."""
        h, w = rgb.shape[:2]
        scale = max_side / max(h, w)
        if scale < 1.0:
            rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        bgr = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise ValueError("JPEG encoding failed")
        key = f"{IMAGES}/{keyframe_id:08d}.jpg"
        self.write_image_bytes(key, buf.tobytes())
        return key

    def write_image_bytes(self, key: str, data: bytes) -> None:
        self.conn.execute("INSERT INTO images VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET data=excluded.data",
                          (key, data))

    def read_image(self, rel: str) -> np.ndarray | None:
        row = self.conn.execute("SELECT data FROM images WHERE key=%s", (rel,)).fetchone()
        if row is None:
            return None
        bgr = cv2.imdecode(np.frombuffer(bytes(row[0]), dtype=np.uint8), cv2.IMREAD_COLOR)
        return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    # -- keyframes ------------------------------------------------------------------------------------------
    def next_keyframe_id(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM keyframes").fetchone()[0])

    def insert_keyframe(self, kf: Keyframe) -> None:
        p, q = kf.pose.position, kf.pose.orientation
        vec = None if kf.text_embedding is None else np.asarray(kf.text_embedding, dtype=np.float32)
        self.conn.execute(
            "INSERT INTO keyframes (id, session, stamp_ns, px, py, pz, qx, qy, qz, qw, name, caption, objects, image,"
            " source, text_emb, image_emb, text_vec, parent, view_distance) VALUES"
            " (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,NULL,%s)",
            (kf.id, kf.session, kf.stamp_ns, *(float(v) for v in p), *(float(v) for v in q), kf.name, kf.caption,
             json.dumps(kf.objects), kf.image, kf.source, to_blob(kf.text_embedding), to_blob(kf.image_embedding),
             vec, kf.view_distance))

    def insert_edges(self, edges: list[tuple[int, int, str, float]]) -> None:
        if edges:
            with self.conn.cursor() as cur:
                cur.executemany("INSERT INTO edges VALUES (%s, %s, %s, %s) ON CONFLICT (a, b, kind) DO UPDATE SET "
                                "length=excluded.length", [(a, b, k, float(length)) for a, b, k, length in edges])

    def load_keyframes(self, after_id: int = 0, ids: list[int] | None = None,
                       limit: int | None = None) -> list[Keyframe]:
        if ids is None:
            rows = self.conn.execute(f"SELECT {_KF_COLUMNS} FROM keyframes WHERE id > %s ORDER BY id LIMIT %s",
                                     (after_id, limit)).fetchall()
        else:
            rows = self.conn.execute(f"SELECT {_KF_COLUMNS} FROM keyframes WHERE id = ANY(%s) ORDER BY id",
                                     (list(ids),)).fetchall()
        return [_keyframe(r) for r in rows]

    def update_keyframe_text(self, kf: Keyframe) -> None:
        vec = None if kf.text_embedding is None else np.asarray(kf.text_embedding, dtype=np.float32)
        with self._write():
            self.conn.execute(
                "UPDATE keyframes SET name=%s, caption=%s, objects=%s, text_emb=%s, image_emb=%s, text_vec=%s"
                " WHERE id=%s", (kf.name, kf.caption, json.dumps(kf.objects), to_blob(kf.text_embedding),
                                 to_blob(kf.image_embedding), vec, kf.id))
            self.conn.execute("INSERT INTO keyframe_updates (keyframe) VALUES (%s)", (kf.id,))

    def last_keyframe_update(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM keyframe_updates").fetchone()[0])

    def keyframe_updates(self, after_seq: int = 0) -> tuple[int, list[int]]:
        rows = self.conn.execute("SELECT seq, keyframe FROM keyframe_updates WHERE seq > %s ORDER BY seq",
                                 (after_seq,)).fetchall()
        if not rows:
            return after_seq, []
        return int(rows[-1][0]), sorted({int(r[1]) for r in rows})

    def load_edges(self, after_id: int = 0) -> list[tuple[int, int, str, float]]:
        return [tuple(r) for r in self.conn.execute(
            "SELECT a, b, kind, length FROM edges WHERE a > %s UNION ALL "
            "SELECT a, b, kind, length FROM edges WHERE b > %s AND a <= %s", (after_id, after_id, after_id))]

    def count_keyframes(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM keyframes").fetchone()[0])

    # -- server-side keyframe search (an HNSW index over text_vec, see postgres_search) --------------------------
    def search_index_dim(self) -> int | None:
        """The size of the text embeddings the keyframes' search index is built for; None without one."""
        from embodied_rag.memory import postgres_search

        dims = postgres_search.indexed_dims(self.conn)
        return dims[0] if dims else None

    def build_search_index(self, maintenance_mem: str = "1GB") -> tuple[int, bool]:
        """Build the keyframes' search index (HNSW, cosine) unless it is there: (its dimension, whether it was built
        now). Writers wait while it builds; afterwards every keyframe written is indexed as it is inserted."""
        from embodied_rag.memory import postgres_search

        dims = postgres_search.data_dims(self.conn, limit=1)
        if not dims:
            raise UserError(f"{self.name} holds no keyframe with a text embedding to index yet.")
        self.conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (maintenance_mem,))
        return dims[0], postgres_search.ensure_vector_index(self.conn, dims[0])

    def nearest_keyframes(self, query_vector: np.ndarray, k: int, robots: list[str] | None = None
                          ) -> list[tuple[int, float]]:
        """The ``k`` keyframes (of ``robots``' sessions, when given) whose text embedding is most similar to the
        query's, best first, as ``(id, cosine similarity)``: answered by the server through its search index."""
        from embodied_rag.memory import postgres_search

        return postgres_search.nearest_keyframes(self.conn, query_vector, k, robots=robots)

    # -- forest ---------------------------------------------------------------------------------------------
    def save_forest(self, nodes: list[ForestRow], removed: list[int], leaf_parents: dict[int, int | None],
                    replace_all: bool = False) -> None:
        with self._write() as rev, self.conn.cursor() as cur:
            if replace_all:
                cur.execute("INSERT INTO deleted SELECT %s, 'forest', id FROM forest_nodes", (rev,))
                cur.execute("DELETE FROM forest_nodes")
            if removed:
                cur.execute("DELETE FROM forest_nodes WHERE id = ANY(%s)", (list(removed),))
                cur.executemany("INSERT INTO deleted VALUES (%s, 'forest', %s)", [(rev, i) for i in removed])
            if nodes:
                cur.executemany(
                    "INSERT INTO forest_nodes VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO "
                    "UPDATE SET level=excluded.level, parent=excluded.parent, name=excluded.name, "
                    "summary=excluded.summary, data=excluded.data, embedding=excluded.embedding, "
                    "exemplars=excluded.exemplars, dirty=excluded.dirty, rev=excluded.rev",
                    [(n.id, n.level, n.parent, n.name, n.summary, json.dumps(n.data), to_blob(n.embedding),
                      to_blob(n.exemplars), int(n.dirty), rev) for n in nodes])
            if leaf_parents:
                cur.executemany("UPDATE keyframes SET parent=%s, parent_rev=%s WHERE id=%s",
                                [(p, rev, k) for k, p in leaf_parents.items()])

    def load_forest(self) -> tuple[list[ForestRow], dict[int, int | None]]:
        nodes = [ForestRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), from_blob(_bytes(r[6])), None, bool(r[7]))
                 for r in self.conn.execute("SELECT id, level, parent, name, summary, data, embedding, dirty"
                                            " FROM forest_nodes ORDER BY id")]
        parents = {int(r[0]): r[1] for r in self.conn.execute("SELECT id, parent FROM keyframes")}
        return nodes, parents

    # -- objects --------------------------------------------------------------------------------------------
    def save_objects(self, changed: list[ObjectInstance], removed: list[int], views: list[tuple[int, int, int]],
                     merges: list[tuple[int, int]]) -> None:
        with self._write() as rev, self.conn.cursor() as cur:
            if changed:
                cur.executemany(
                    f"INSERT INTO objects ({_OBJ_COLUMNS}, rev) VALUES ({', '.join(['%s'] * 17)}) ON CONFLICT (id) "
                    "DO UPDATE SET " + ", ".join(f"{c.strip()}=excluded.{c.strip()}"
                                                 for c in (_OBJ_COLUMNS + ", rev").split(",")[1:]),
                    [(o.id, o.label, *(float(v) for v in o.position), o.sigma, o.extent, o.level_z, o.n, o.first_ns,
                      o.last_ns, o.source, o.weight, json.dumps(dict(o.labels)), json.dumps(dict(o.colours)),
                      json.dumps([[round(v, 4) for v in r] for r in o.rays]), rev) for o in changed])
            for a, b in merges:
                cur.execute("UPDATE object_views v SET object=%s WHERE object=%s AND NOT EXISTS (SELECT 1 FROM "
                            "object_views w WHERE w.object=%s AND w.keyframe=v.keyframe)", (b, a, b))
            if removed:
                cur.execute("DELETE FROM objects WHERE id = ANY(%s)", (list(removed),))
                cur.execute("DELETE FROM object_views WHERE object = ANY(%s)", (list(removed),))
                cur.executemany("INSERT INTO deleted VALUES (%s, 'object', %s)", [(rev, i) for i in removed])
            if views:
                cur.executemany("INSERT INTO object_views VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", views)

    def _views(self, ids: list[int] | None) -> dict[int, list[int]]:
        views: dict[int, list[int]] = {}
        if ids is None:
            rows = self.conn.execute("SELECT object, keyframe FROM object_views ORDER BY object, keyframe")
        else:
            rows = self.conn.execute("SELECT object, keyframe FROM object_views WHERE object = ANY(%s) "
                                     "ORDER BY object, keyframe", (ids,))
        for obj, kf in rows:
            views.setdefault(obj, []).append(kf)
        return views

    def load_objects(self) -> list[ObjectInstance]:
        views = self._views(None)
        return [_object(r, views) for r in self.conn.execute(f"SELECT {_OBJ_COLUMNS} FROM objects ORDER BY id")]

    # -- free space -----------------------------------------------------------------------------------------
    def save_free_space(self, tiles: list[tuple[int, int, int, bytes]]) -> None:
        with self._write() as rev, self.conn.cursor() as cur:
            cur.executemany("INSERT INTO free_space VALUES (%s, %s, %s, %s, %s) ON CONFLICT (floor, tx, ty) DO "
                            "UPDATE SET data=excluded.data, rev=excluded.rev", [(*t, rev) for t in tiles])

    def load_free_space(self, keys: list[tuple[int, int, int]] | None = None) -> list[tuple[int, int, int, bytes]]:
        rows = self.conn.execute("SELECT floor, tx, ty, data FROM free_space").fetchall()
        if keys is not None:
            wanted = set(keys)
            rows = [r for r in rows if (r[0], r[1], r[2]) in wanted]
        return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    # -- catching up with other writers ---------------------------------------------------------------------
    def changes(self, after_kf: int, after_rev: int, after_seq: int, known: set[int] | None = None) -> Changes:
        """What was committed after commit number ``after_rev`` (keyframes after id ``after_kf``, caption rewrites
        after ``after_seq``); inside a write transaction (or a snapshot) so it is exactly what is there."""
        c = self.conn
        # Inside a write transaction the counter already holds this commit's own number: others' are below it.
        rev = self._rev - 1 if self._rev is not None else self.commits()
        out = Changes(rev=rev, update_seq=after_seq)
        if rev == after_rev:
            return out
        out.keyframes = [_keyframe(r) for r in c.execute(
            f"SELECT {_KF_COLUMNS} FROM keyframes WHERE id > %s ORDER BY id", (after_kf,))]
        out.edges = self.load_edges(after_kf)
        out.forest_rows = [
            ForestRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), from_blob(_bytes(r[6])), None, bool(r[7]))
            for r in c.execute("SELECT id, level, parent, name, summary, data, embedding, dirty FROM forest_nodes"
                               " WHERE rev > %s ORDER BY id", (after_rev,))]
        deleted = c.execute("SELECT kind, id FROM deleted WHERE rev > %s ORDER BY rev", (after_rev,)).fetchall()
        live = {r.id for r in out.forest_rows}
        out.forest_removed = sorted({int(i) for k, i in deleted if k == "forest"} - live)
        out.leaf_parents = {int(k): p for k, p in c.execute(
            "SELECT id, parent FROM keyframes WHERE parent_rev > %s", (after_rev,))}
        rows = c.execute(f"SELECT {_OBJ_COLUMNS} FROM objects WHERE rev > %s ORDER BY id", (after_rev,)).fetchall()
        views = self._views([r[0] for r in rows]) if rows else {}
        out.objects = [_object(r, views) for r in rows]
        out.objects_removed = sorted({int(i) for k, i in deleted if k == "object"} - {o.id for o in out.objects})
        out.tiles = [(r[0], r[1], r[2], bytes(r[3])) for r in c.execute(
            "SELECT floor, tx, ty, data FROM free_space WHERE rev > %s", (after_rev,))]
        out.update_seq, rewritten = self.keyframe_updates(after_seq)
        if rewritten and known is not None:
            out.recaptioned = self.load_keyframes(ids=[k for k in rewritten if k in known])
        return out

    # -- place recognition -----------------------------------------------------------------------------------
    def save_place_features(self, keyframe_id: int, feats: LocalFeatures) -> None:
        points, descriptors = feats.to_blobs()
        self.conn.execute("INSERT INTO place_features VALUES (%s, %s, %s, %s, %s) ON CONFLICT (keyframe) DO UPDATE "
                          "SET width=excluded.width, height=excluded.height, points=excluded.points, "
                          "descriptors=excluded.descriptors",
                          (keyframe_id, feats.size[0], feats.size[1], points, descriptors))

    def load_place_features(self, keyframe_ids: list[int]) -> dict[int, LocalFeatures]:
        if not keyframe_ids:
            return {}
        rows = self.conn.execute("SELECT keyframe, width, height, points, descriptors FROM place_features WHERE "
                                 "keyframe = ANY(%s)", (list(keyframe_ids),)).fetchall()
        return {int(k): LocalFeatures.from_blobs(bytes(p), bytes(d), w, h) for k, w, h, p, d in rows}

    def place_feature_ids(self) -> set[int]:
        return {int(r[0]) for r in self.conn.execute("SELECT keyframe FROM place_features")}

    def place_index_counts(self) -> dict[str, int]:
        vocab = self.conn.execute("SELECT id, trained_on FROM place_vocabulary ORDER BY id DESC LIMIT 1").fetchone()
        return {"features": int(self.conn.execute("SELECT COUNT(*) FROM place_features").fetchone()[0]),
                "descriptors": int(self.conn.execute("SELECT COUNT(*) FROM place_descriptors WHERE vocabulary=%s",
                                                     (vocab[0] if vocab else -1,)).fetchone()[0]),
                "vocabulary_trained_on": int(vocab[1]) if vocab else 0}

    def save_vocabulary(self, vocab: Vocabulary) -> int:
        size, dims = vocab.centres.shape
        vocab.id = int(self.conn.execute(
            "INSERT INTO place_vocabulary (size, dims, trained_on, created_at, mean, projection, centres)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (size, dims, vocab.trained_on, time.time(), *vocab.to_blobs())).fetchone()[0])
        self.conn.execute("DELETE FROM place_descriptors WHERE vocabulary != %s", (vocab.id,))
        self.conn.execute("DELETE FROM place_vocabulary WHERE id != %s", (vocab.id,))
        return vocab.id

    def vocabulary_id(self) -> int | None:
        """The id of the current place vocabulary (None before one is trained): cheap, for writers to notice
        another writer's."""
        row = self.conn.execute("SELECT max(id) FROM place_vocabulary").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def load_vocabulary(self) -> Vocabulary | None:
        row = self.conn.execute("SELECT id, size, dims, trained_on, mean, projection, centres FROM place_vocabulary"
                                " ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return Vocabulary.from_blobs(bytes(row[4]), bytes(row[5]), bytes(row[6]), row[1], row[2], row[3], row[0])

    def save_place_descriptors(self, vocab_id: int, rows: list[tuple[int, np.ndarray]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany("INSERT INTO place_descriptors VALUES (%s, %s, %s) ON CONFLICT (keyframe) DO UPDATE SET "
                            "vocabulary=excluded.vocabulary, vector=excluded.vector",
                            [(k, vocab_id, np.asarray(v, dtype="<f2").tobytes()) for k, v in rows])

    def load_place_descriptors(self, vocab_id: int, after_id: int = 0) -> tuple[list[int], np.ndarray | None]:
        rows = self.conn.execute("SELECT keyframe, vector FROM place_descriptors WHERE vocabulary=%s AND keyframe > %s"
                                 " ORDER BY keyframe", (vocab_id, after_id)).fetchall()
        if not rows:
            return [], None
        matrix = np.frombuffer(b"".join(bytes(r[1]) for r in rows), dtype="<f2").astype(np.float32)
        return [int(r[0]) for r in rows], matrix.reshape(len(rows), -1)

    # -- caption attempts -----------------------------------------------------------------------------------
    def record_caption_failure(self, keyframe_id: int, error: str) -> int:
        return int(self.conn.execute(
            "INSERT INTO caption_attempts VALUES (%s, 1, %s, %s) ON CONFLICT (keyframe) DO UPDATE SET "
            "attempts=caption_attempts.attempts+1, last_error=excluded.last_error, last_at=excluded.last_at "
            "RETURNING attempts", (keyframe_id, error, time.time())).fetchone()[0])

    def clear_caption_failures(self, keyframe_id: int) -> None:
        self.conn.execute("DELETE FROM caption_attempts WHERE keyframe=%s", (keyframe_id,))

    def caption_failures(self) -> dict[int, tuple[int, str]]:
        return {int(r[0]): (int(r[1]), r[2]) for r in
                self.conn.execute("SELECT keyframe, attempts, last_error FROM caption_attempts ORDER BY keyframe")}

    # -- caption cache --------------------------------------------------------------------------------------
    def cached_caption(self, key: str) -> str | None:
        row = self.conn.execute("SELECT caption FROM caption_cache WHERE hash=%s", (key,)).fetchone()
        return row[0] if row else None

    def cache_caption(self, key: str, caption_json: str) -> None:
        self.conn.execute("INSERT INTO caption_cache VALUES (%s, %s) ON CONFLICT (hash) DO UPDATE SET "
                          "caption=excluded.caption", (key, caption_json))

    # -- migrate --------------------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        return not self.conn.execute("SELECT EXISTS (SELECT 1 FROM keyframes) OR EXISTS (SELECT 1 FROM sessions)"
                                     " OR EXISTS (SELECT 1 FROM forest_nodes)").fetchone()[0]


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.rstrip(".")


def _create_and_connect(url: str):
    """A connection to the database a URL names, created first (several writers may race to create it)."""
    import psycopg

    for attempt in range(5):
        _create_database(url)
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _create_database(url: str) -> bool:
    """Create the database a URL names (a new memory), through the server's ``postgres`` database; False when that
    is not possible (no right to, or the URL names no database)."""
    import psycopg
    from psycopg import sql

    info = psycopg.conninfo.conninfo_to_dict(url)
    name = info.get("dbname")
    if not name or name == "postgres":
        return False
    try:
        with psycopg.connect(**{**info, "dbname": "postgres"}, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.DuplicateDatabase:
        return True
    except psycopg.Error:
        return False
    return True
