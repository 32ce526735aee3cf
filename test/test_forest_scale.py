"""The forest at scale: inserts touch only the path to the root (in RAM and in the store), the level grid finds what a
scan finds, rebalance gives a rebuild's shape while keeping unchanged areas, and the store round-trips it."""

import json
import sqlite3

import numpy as np
from test_forest import build, synthetic

from embodied_rag.config import Config, ForestConfig
from embodied_rag.memory.forest import SemanticForest
from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.leaves import LeafIndex
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.pose import Pose
from embodied_rag.memory.store import SCHEMA_VERSION


def shape(forest: SemanticForest) -> set[tuple[int, frozenset[int]]]:
    """Each area as (level, the keyframes under it): comparable across node ids."""
    return {(n.level, frozenset(forest.leaf_ids(n))) for n in forest.nodes.values()}


def structure(forest: SemanticForest) -> dict[int, tuple]:
    return {i: (n.level, n.parent, sorted(n.children), n.n) for i, n in forest.nodes.items()}


def test_an_insert_writes_only_its_path_to_the_root():
    forest, _ = build(1500, ForestConfig(max_children=8), rooms=30)
    pos, emb, _ = synthetic(400, rooms=30, seed=5)
    forest.flush()
    plain = 0
    for i, (p, e) in enumerate(zip(pos, emb), 10_000):
        before = set(forest.nodes)
        forest.leaves.add(i, p, e)
        forest.insert(i)
        rows, removed, leaves = forest.flush()
        written = {r.id for r in rows}
        path = {n.id for n in forest.ancestors(i)}
        created = set(forest.nodes) - before
        assert not removed
        if not created:
            plain += 1
            assert written == path and set(leaves) == {i}
        else:
            # A new area or a split: the path, the new nodes, and the children moved to them (bounded).
            assert path <= written and created <= written
            assert len(written) <= ForestConfig().max_levels * (8 + 3)
        # A row is fixed-size statistics: no list that grows with the memory (children follow from parent links).
        assert all("children" not in r.data for r in rows)
    assert plain > 200
    assert forest.check() == []


def test_the_level_grid_finds_the_best_area_a_scan_finds():
    forest, _ = build(2000, rooms=25)
    rng = np.random.default_rng(3)
    pos, emb, _ = synthetic(200, rooms=25, seed=9)
    for p, e in zip(pos + rng.normal(0, 20, pos.shape), emb):
        for level in range(1, forest.depth):
            nodes = forest.level_nodes(level)
            scores = forest.affinity(p, e, nodes, level)
            got = forest._best(level, p, e.astype(np.float32))
            if not np.isfinite(scores.max()):
                assert got is None or not np.isfinite(got[1])
                continue
            assert got is not None and got[0].id == nodes[int(np.argmax(scores))].id
            assert abs(got[1] - scores.max()) < 1e-5


def test_rebalance_gives_the_shape_of_a_rebuild_and_keeps_unchanged_areas():
    forest, _ = build(800, ForestConfig(max_children=8), rooms=12)
    rebuilt = SemanticForest(forest.config, forest.leaves)
    rebuilt.rebuild()
    assert shape(forest) != shape(rebuilt)  # the incremental forest drifted
    changed = forest.rebalance()
    assert changed > 0 and forest.check() == []
    assert shape(forest) == shape(rebuilt)
    rows, removed, _ = forest.flush()
    assert rows and removed
    for node in forest.nodes.values():
        node.name = f"area {node.id}"
    assert forest.rebalance() == 0  # nothing moved: nothing written, names kept
    rows, removed, leaves = forest.flush()
    assert rows == [] and removed == [] and leaves == {}
    assert all(n.name == f"area {n.id}" for n in forest.nodes.values())
    # Inserts after a rebalance keep a valid forest, and the next rebalance keeps the areas they did not touch.
    pos, emb, _ = synthetic(50, rooms=12, seed=4)
    for i, (p, e) in enumerate(zip(pos, emb), 5000):
        forest.leaves.add(i, p, e)
        forest.insert(i)
    assert forest.check() == []
    forest.rebalance()
    assert forest.check() == []
    assert any(n.name for n in forest.nodes.values())


def test_store_round_trip_after_inserts_and_rebalance(tmp_path):
    pos, emb, _ = synthetic(300, rooms=10)

    def add(m: Memory, ids: range) -> None:
        m.begin_session("s")
        for i in ids:
            m.add(Keyframe(i, 0, i, Pose(tuple(pos[i - 1])), caption="c", text_embedding=emb[i - 1].astype(np.float32)))

    with Memory(tmp_path / "m", Config()) as m:
        add(m, range(1, 151))
        saved = structure(m.forest)
    with Memory(tmp_path / "m", Config()) as m:
        assert structure(m.forest) == saved and m.forest.check() == []
        add(m, range(151, 301))
        saved = structure(m.forest)
    with Memory(tmp_path / "m", Config(), writable=False) as m:
        assert structure(m.forest) == saved and m.forest.check() == []
    with Memory(tmp_path / "m", Config()) as m:
        assert m.rebalance_forest(min_growth=0.5) is not None  # never balanced before: due
        assert m.rebalance_forest(min_growth=0.5) is None  # no growth since
        saved = structure(m.forest)
    with Memory(tmp_path / "m", Config(), writable=False) as m:
        assert structure(m.forest) == saved and m.forest.check() == []


def test_a_schema_3_store_still_loads(tmp_path):
    """Rows written before schema 4 list their children and carry exemplar vectors; both are ignored."""
    pos, emb, _ = synthetic(80, rooms=4)
    with Memory(tmp_path / "m", Config()) as m:
        m.begin_session("s")
        for i in range(1, 81):
            m.add(Keyframe(i, 0, i, Pose(tuple(pos[i - 1])), caption="c", text_embedding=emb[i - 1].astype(np.float32)))
        saved = structure(m.forest)
        children = {i: n.children for i, n in m.forest.nodes.items()}
    conn = sqlite3.connect(tmp_path / "m" / "memory.sqlite")
    for node_id, data in conn.execute("SELECT id, data FROM forest_nodes").fetchall():
        conn.execute("UPDATE forest_nodes SET data=?, exemplars=? WHERE id=?",
                     (json.dumps({**json.loads(data), "children": children[node_id]}), b"\0" * 16, node_id))
    conn.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with Memory(tmp_path / "m", Config()) as m:
        assert structure(m.forest) == saved and m.forest.check() == []
        assert m.store.get_meta("schema_version") == str(SCHEMA_VERSION)


def test_indistinguishable_keyframes_still_split():
    """A robot standing still: identical keyframes must not make one area grow without bound."""
    leaves = LeafIndex()
    forest = SemanticForest(ForestConfig(max_children=6), leaves)
    e = np.ones(8) / np.sqrt(8)
    for i in range(1, 200):
        leaves.add(i, (1.0, 2.0, 0.0), e)
        forest.insert(i)
    assert forest.check() == []
    assert all(len(n.children) <= 6 for n in forest.nodes.values() if n.parent is not None)


def test_check_reports_a_broken_index_and_count():
    forest, _ = build(200)
    node = forest.level_nodes(1)[0]
    node.n += 1
    del forest._levels[2].slot[forest.level_nodes(2)[0].id]
    problems = " ".join(forest.check())
    assert "counts" in problems and "index" in problems


def test_leaf_index_extend_matches_add():
    pos, emb, _ = synthetic(50)
    one, many = LeafIndex(), LeafIndex(capacity=4)
    for i in range(50):
        one.add(i + 7, pos[i], emb[i] * 3.0)
    many.extend(np.arange(7, 57), pos, emb * 3.0)
    assert np.array_equal(one.ids[:50], many.ids[:50]) and one.row == many.row
    assert np.allclose(one.positions, many.positions) and np.allclose(one.embeddings, many.embeddings)
