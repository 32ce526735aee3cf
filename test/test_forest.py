import numpy as np
import pytest

from embodied_rag.config import Config, ForestConfig
from embodied_rag.memory.forest import SemanticForest
from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.leaves import LeafIndex
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.pose import Pose


def synthetic(n, rooms=8, dim=16, seed=0):
    """Keyframes in rooms laid out on a line, each room with its own topic vector."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(rooms, dim))
    room = np.sort(rng.integers(0, rooms, size=n))
    pos = np.stack([room * 30.0 + rng.uniform(0, 8, n), rng.uniform(0, 8, n), np.zeros(n)], axis=1)
    emb = topics[room] + 0.3 * rng.normal(size=(n, dim))
    return pos, emb / np.linalg.norm(emb, axis=1, keepdims=True), room


def build(n, cfg=None, rebuild=False, **kw):
    pos, emb, room = synthetic(n, **kw)
    leaves = LeafIndex()
    forest = SemanticForest(cfg or ForestConfig(), leaves)
    for i in range(n):
        leaves.add(i + 1, pos[i], emb[i])
        if not rebuild:
            forest.insert(i + 1, [])
    if rebuild:
        forest.rebuild()
    return forest, room


@pytest.mark.parametrize("rebuild", [False, True])
def test_invariants_hold(rebuild):
    forest, _ = build(300, ForestConfig(max_children=8), rebuild=rebuild)
    assert forest.check() == []
    assert len(forest.roots()) == 1
    assert 2 <= forest.depth <= ForestConfig().max_levels
    for node in forest.nodes.values():
        if node.level > 1:
            assert len(node.children) <= 8 or node.parent is None or node.level == ForestConfig().max_levels


@pytest.mark.parametrize("rebuild", [False, True])
def test_areas_group_rooms(rebuild):
    forest, room = build(200, rebuild=rebuild)
    # Level-1 areas should rarely mix rooms that are 30 m apart with different topics.
    pure = 0
    for node in forest.level_nodes(1):
        rooms = {room[k - 1] for k in node.children}
        pure += len(rooms) == 1
    assert pure / len(forest.level_nodes(1)) > 0.9


def test_persistence_round_trip(tmp_path):
    pos, emb, _ = synthetic(60)
    with Memory(tmp_path / "m", Config()) as m:
        m.begin_session("s")
        for i in range(60):
            m.add(Keyframe(i + 1, 0, i, Pose(tuple(pos[i])), caption="c", text_embedding=emb[i].astype(np.float32)))
        m.forest.nodes[m.forest.root.id].summary = "root summary"
        m.forest.mark_changed(m.forest.root)
        m.save_forest()
        before = {i: (n.level, n.parent, n.children, n.n, n.summary) for i, n in m.forest.nodes.items()}
        m.rebuild_forest()
        rebuilt = {i: (n.level, n.parent, n.children, n.n) for i, n in m.forest.nodes.items()}
    with Memory(tmp_path / "m", Config()) as m:
        assert {i: (n.level, n.parent, n.children, n.n) for i, n in m.forest.nodes.items()} == rebuilt
        assert m.forest.check() == []
    assert before  # the incremental forest existed before the rebuild


def test_rebuild_at_paper_scale_keeps_invariants():
    pos, emb, _ = synthetic(3313, rooms=40, dim=64)
    leaves = LeafIndex()
    for i in range(len(pos)):
        leaves.add(i + 1, pos[i], emb[i])
    forest = SemanticForest(ForestConfig(), leaves)
    forest.rebuild()
    assert forest.check() == []


def test_rebuild_splits_large_levels_spatially(monkeypatch):
    import embodied_rag.memory.forest as forest_module

    monkeypatch.setattr(forest_module, "_LINKAGE_MAX", 40)  # exercise the k-d partition on a small input
    forest, room = build(300, rebuild=True)
    assert forest.check() == []
    assert len(forest.roots()) == 1
    assert all(len({room[k - 1] for k in n.children}) == 1 for n in forest.level_nodes(1))
