"""Server-side nearest-keyframe search in a PostgreSQL (+ pgvector) memory, for fleet-sized memories.

The keyframes' text embeddings live in the ``keyframes.text_vec`` column (an untyped pgvector ``vector``, see
:mod:`embodied_rag.memory.postgres_store`). :func:`ensure_vector_index` builds an HNSW index (cosine) on that column
cast to the memory's dimension, ``(text_vec::vector(D))``, plus a GiST index on the keyframes' floor-plan positions
``point(px, py)``. :func:`nearest_keyframes` answers "the k keyframes whose embedding is most similar to this one",
optionally restricted to a disc around a position, to some robots' sessions and to one floor:

* a filter that keeps few rows (at most ``exact_below`` by the planner's estimate from the column statistics) is
  answered exactly: a bitmap scan of the filter's rows through the GiST index and one distance each, no HNSW;
* otherwise the HNSW index is walked with ``hnsw.iterative_scan = relaxed_order`` (pgvector ≥ 0.8), so that a
  filter does not leave fewer than k rows, and the rows it returns are sorted again by their exact distance;
* a filtered HNSW answer is checked against the best match anywhere (an unfiltered walk for one row): when its k-th
  row is more than ``verify_gap`` less similar than that, or it has fewer than k rows, the filter holds nothing
  close to the query, the graph walk finds only some of its best-of-the-rest rows, and the exact answer is given.

:func:`exact_nearest` is the brute-force answer (for recall measurements). All functions take a psycopg 3 connection
with pgvector's types registered (``pgvector.psycopg.register_vector``); the settings they need are made with
``SET LOCAL`` inside a transaction (a savepoint when the caller already holds one).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embodied_rag.errors import UserError

#: Half the height of the band of keyframe heights that counts as one floor, around ``floor_z`` (m).
FLOOR_HALF_BAND_M = 0.6
#: A filter keeping at most this many keyframes is answered exactly rather than through the HNSW index.
EXACT_BELOW = 25000
#: HNSW candidates kept per scan step (pgvector's ``hnsw.ef_search``; its default is 40).
EF_SEARCH = 400
#: HNSW rows fetched per row asked for; they are sorted again by exact distance and the best k kept. With a
#: filter, the iterative scan returns rows in roughly increasing distance, so the first k passing it miss some of
#: the best; asking for more finds them.
OVERSAMPLE = 1
#: A filtered HNSW answer whose k-th row is this much less similar (cosine) than the best match anywhere is
#: replaced by the exact one. Measured (bench_fleet_search.py, 200k rows, 40 m disc): where the disc holds the
#: query's topic this gap was 0.006-0.08 and recall 0.999; where it did not, 0.45-0.56 and recall 0.74.
VERIFY_GAP = 0.25
#: ``hnsw.ef_search`` of the unfiltered walk for the best match anywhere (one row: a short walk finds it).
PROBE_EF_SEARCH = 64
#: Most tuples an iterative HNSW scan visits before it gives up (pgvector's ``hnsw.max_scan_tuples``).
MAX_SCAN_TUPLES = 40000
#: HNSW build parameters (pgvector's defaults are 16, 64: recall@10 0.82 instead of 0.96 at 1M, ef_search 200).
HNSW_M, HNSW_EF_CONSTRUCTION = 32, 128
#: pgvector indexes ``vector`` columns of at most this many dimensions with HNSW.
MAX_HNSW_DIM = 2000

_POSITION_INDEX = "keyframes_xy_gist"


def index_name(dim: int) -> str:
    return f"keyframes_text_vec_hnsw_{int(dim)}"


def _expr(dim: int) -> str:
    return f"(text_vec::vector({int(dim)}))"


def data_dims(conn, limit: int | None = None) -> list[int]:
    """Distinct dimensions of the stored text embeddings (of the first ``limit`` rows when given)."""
    if limit is None:
        rows = conn.execute("SELECT DISTINCT vector_dims(text_vec) FROM keyframes WHERE text_vec IS NOT NULL")
    else:
        rows = conn.execute("SELECT DISTINCT d FROM (SELECT vector_dims(text_vec) AS d FROM keyframes "
                            "WHERE text_vec IS NOT NULL LIMIT %s) s", (limit,))
    return sorted(int(r[0]) for r in rows.fetchall())


def indexed_dims(conn) -> list[int]:
    """The embedding sizes the keyframes' HNSW indexes are built for (at most one in a memory)."""
    rows = conn.execute("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                        "WHERE i.indrelid = to_regclass('keyframes') AND c.relname LIKE 'keyframes_text_vec_hnsw_%%'")
    return sorted(int(r[0].rsplit("_", 1)[1]) for r in rows.fetchall())


def ensure_vector_index(conn, dim: int, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION) -> bool:
    """Create, unless there, the HNSW (cosine) index on the keyframes' text embeddings of ``dim`` dimensions and the
    GiST index on their positions; True when the HNSW index was built now. Building it over many rows takes a
    while (bulk-load first, then index: inserts into an indexed table are slower); raise ``maintenance_work_mem``
    so that the graph fits in memory. Every stored embedding must have ``dim`` dimensions, and once the index
    exists, inserting one of another size fails."""
    dim = int(dim)
    if not 1 <= dim <= MAX_HNSW_DIM:
        raise UserError(f"pgvector's HNSW index takes 1 to {MAX_HNSW_DIM} dimensions, not {dim}.")
    with conn.transaction():
        # Keep the vector inside the row (MAIN: out of line only as a last resort; the float32 blob beside it goes
        # first): a vector moved out to the TOAST table costs a look-up per distance. Affects rows written later.
        if conn.execute("SELECT attstorage FROM pg_attribute WHERE attrelid = to_regclass('keyframes') "
                        "AND attname = 'text_vec'").fetchone() != ("m",):
            conn.execute("ALTER TABLE keyframes ALTER COLUMN text_vec SET STORAGE MAIN")
        conn.execute(f"CREATE INDEX IF NOT EXISTS {_POSITION_INDEX} ON keyframes USING gist (point(px, py))")
        if conn.execute("SELECT to_regclass(%s)", (index_name(dim),)).fetchone()[0] is not None:
            return False
        other = [d for d in indexed_dims(conn) if d != dim]
        if other:
            raise UserError(f"The memory's keyframes are indexed with {other[0]}-dimensional text embeddings, "
                            f"not {dim}; embed with the memory's model.")
        wrong = [d for d in data_dims(conn) if d != dim]
        if wrong:
            raise UserError(f"The memory holds {wrong[0]}-dimensional text embeddings, so it cannot be indexed "
                            f"with {dim} dimensions; embed with the memory's model.")
        conn.execute(f"CREATE INDEX {index_name(dim)} ON keyframes USING hnsw ({_expr(dim)} vector_cosine_ops) "
                     f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)})")
    return True


def _query(query_vector) -> np.ndarray:
    q = np.asarray(query_vector, dtype=np.float32).ravel()
    if q.size == 0 or not np.all(np.isfinite(q)) or not np.any(q):
        raise UserError("The query embedding is empty, zero or not finite.")
    return q


def _filter(near: Sequence[float] | None, radius_m: float | None, robots: Sequence[str] | None,
            floor_z: float | None, indexable: bool = True) -> tuple[list[str], list]:
    """SQL conditions (and their parameters) for the spatial, floor and robot restrictions. ``indexable``: the disc
    as a GiST-indexable ``point <@ circle``; otherwise as arithmetic no index serves (so that the planner walks the
    HNSW index rather than fetching the disc through the GiST index and sorting it)."""
    where: list[str] = []
    params: list = []
    if (near is None) != (radius_m is None):
        raise UserError("A spatial filter needs both a position (near) and a radius.")
    if near is not None:
        x, y = (float(v) for v in tuple(near)[:2])
        r = float(radius_m)
        if not r > 0:
            raise UserError(f"The search radius must be positive, not {radius_m}.")
        if indexable:
            where.append("point(px, py) <@ circle(point(%s, %s), %s)")
            params += [x, y, r]
        else:
            where.append("(px - %s) ^ 2 + (py - %s) ^ 2 <= %s")
            params += [x, y, r * r]
    if floor_z is not None:
        where.append("pz BETWEEN %s AND %s")
        params += [float(floor_z) - FLOOR_HALF_BAND_M, float(floor_z) + FLOOR_HALF_BAND_M]
    if robots is not None:
        where.append("session IN (SELECT id FROM sessions WHERE robot = ANY(%s))")
        params.append([str(r) for r in robots])
    return where, params


def estimated_rows(conn, near: Sequence[float] | None, radius_m: float | None, floor_z: float | None) -> float:
    """The planner's estimate of the keyframes within the disc (its bounding square times pi/4) and floor band:
    from the column statistics, without touching the rows (counting them costs as much as searching them)."""
    cond = []
    if near is not None and radius_m is not None:
        x, y, r = float(near[0]), float(near[1]), float(radius_m)
        cond += [f"px BETWEEN {x - r!r} AND {x + r!r}", f"py BETWEEN {y - r!r} AND {y + r!r}"]
    if floor_z is not None:
        z = float(floor_z)
        cond.append(f"pz BETWEEN {z - FLOOR_HALF_BAND_M!r} AND {z + FLOOR_HALF_BAND_M!r}")
    if not cond:
        return float("inf")
    plan = conn.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM keyframes WHERE {' AND '.join(cond)}").fetchone()[0]
    rows = float(plan[0]["Plan"]["Plan Rows"])
    return rows * (np.pi / 4 if near is not None else 1.0)


def _check_dim(conn, dim: int) -> bool:
    """True when the HNSW index for ``dim`` exists; a UserError when the memory's embeddings are of another size."""
    if conn.execute("SELECT to_regclass(%s)", (index_name(dim),)).fetchone()[0] is not None:
        return True
    known = indexed_dims(conn) or data_dims(conn, limit=1)
    if known and known[0] != dim:
        raise UserError(f"The query embedding has {dim} dimensions but the memory's keyframes have {known[0]}; "
                        "embed the query with the memory's model.")
    return False


def _rows(cur) -> list[tuple[int, float]]:
    return [(int(i), float(s)) for i, s in cur.fetchall()]


def nearest_keyframes(conn, query_vector, k: int = 10, near: Sequence[float] | None = None,
                      radius_m: float | None = None, robots: Sequence[str] | None = None,
                      floor_z: float | None = None, ef_search: int = EF_SEARCH, exact_below: int = EXACT_BELOW,
                      strategy: str = "auto", oversample: int = OVERSAMPLE,
                      verify_gap: float = VERIFY_GAP) -> list[tuple[int, float]]:
    """The ``k`` keyframes whose text embedding is most similar (cosine) to ``query_vector``, best first, as
    ``(keyframe_id, cosine_similarity)``; only keyframes within ``radius_m`` of ``near`` (x, y) in the floor plan,
    of sessions by ``robots``, and within :data:`FLOOR_HALF_BAND_M` of height ``floor_z``, when given. Fewer than
    ``k`` only when fewer keyframes pass the filter (or, with ``strategy="hnsw"``, rarely, when the walk gives up
    after :data:`MAX_SCAN_TUPLES`). ``strategy``: ``"auto"`` (exact for small filters, HNSW otherwise, exact again
    when a filtered HNSW answer fails the ``verify_gap`` check, see the module's doc), ``"hnsw"`` (no check) or
    ``"exact"``; ``ef_search`` and ``oversample`` (rows fetched per row asked for) trade HNSW speed for recall."""
    if strategy not in ("auto", "hnsw", "exact"):
        raise ValueError(f"unknown strategy {strategy!r}")
    q = _query(query_vector)
    dim = q.size
    k = int(k)
    if k <= 0:
        return []
    where, params = _filter(near, radius_m, robots, floor_z)
    with conn.transaction():
        indexed = _check_dim(conn, dim)
        verify = strategy == "auto" and bool(where)
        if not indexed:
            strategy = "exact"
        if strategy == "auto":
            strategy = "hnsw"
            if near is not None or floor_z is not None:
                if estimated_rows(conn, near, radius_m, floor_z) <= exact_below:
                    strategy = "exact"
        if strategy == "exact":
            return _exact(conn, q, k, where, params)
        walk_where, walk_params = _filter(near, radius_m, robots, floor_z, indexable=False)
        rows, best = _hnsw(conn, q, k, walk_where, walk_params, ef_search, oversample, probe=verify)
        if verify and (len(rows) < k or best - rows[-1][1] > verify_gap):
            return _exact(conn, q, k, where, params)
        return rows


def _hnsw(conn, q: np.ndarray, k: int, where: list[str], params: list, ef_search: int, oversample: int,
          probe: bool) -> tuple[list[tuple[int, float]], float]:
    """The HNSW walk's rows and, when ``probe``, the similarity of the best match without the filter (else nan).
    Inside a savepoint that is rolled back, so that its settings (which steer the planner to the HNSW index) do
    not outlive it."""
    import psycopg

    expr = _expr(q.size)
    best = float("nan")
    walk_ef = str(max(int(ef_search), k))
    with conn.transaction() as tx:
        conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                     "set_config('hnsw.ef_search', %s, true), set_config('hnsw.max_scan_tuples', %s, true), "
                     "set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)",
                     (str(PROBE_EF_SEARCH) if probe else walk_ef, str(MAX_SCAN_TUPLES)))
        if probe:
            top = conn.execute(f"SELECT 1 - ({expr} <=> %s) FROM keyframes WHERE text_vec IS NOT NULL "
                               f"ORDER BY {expr} <=> %s LIMIT 1", [q, q]).fetchone()
            best = float(top[0]) if top else best
            conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (walk_ef,))
        cond = " AND ".join(["text_vec IS NOT NULL", *where])
        rows = _rows(conn.execute(
            f"WITH c AS MATERIALIZED (SELECT id, {expr} <=> %s AS d FROM keyframes WHERE {cond} "
            f"ORDER BY {expr} <=> %s LIMIT %s) SELECT id, 1 - d FROM c ORDER BY d, id LIMIT %s",
            [q, *params, q, k * max(int(oversample), 1), k]))
        raise psycopg.Rollback(tx)
    return rows, best


def _exact(conn, q: np.ndarray, k: int, where: list[str], params: list) -> list[tuple[int, float]]:
    # ``text_vec <=> q`` (no cast) is not the HNSW index's expression: the planner cannot walk the graph. The
    # similarity is taken from the sorted distance in an outer query: ``1 - (text_vec <=> q)`` beside ``ORDER BY
    # text_vec <=> q`` would compute both for every row (PostgreSQL does not share the two expressions).
    cond = " AND ".join(["text_vec IS NOT NULL", *where])
    cur = conn.execute(f"SELECT id, 1 - d FROM (SELECT id, text_vec <=> %s AS d FROM keyframes WHERE {cond} "
                       "ORDER BY d, id LIMIT %s) s ORDER BY d, id", [q, *params, k])
    return _rows(cur)


def exact_nearest(conn, query_vector, k: int = 10, near: Sequence[float] | None = None,
                  radius_m: float | None = None, robots: Sequence[str] | None = None,
                  floor_z: float | None = None) -> list[tuple[int, float]]:
    """As :func:`nearest_keyframes`, by brute force over every row passing the filter (no HNSW index): the exact
    answer that recall is measured against."""
    q = _query(query_vector)
    where, params = _filter(near, radius_m, robots, floor_z)
    if int(k) <= 0:
        return []
    with conn.transaction():
        _check_dim(conn, q.size)
        conn.execute("SET LOCAL enable_indexscan = off")
        return _exact(conn, q, int(k), where, params)
