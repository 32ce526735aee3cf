"""The PostgreSQL store against a real server (``embodied-rag db start``; no mocks): round trip, several writers at
once, the robot filter, migrate, and a kill -9 of the server mid-ingest."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import write_tum_folder

from embodied_rag.config import Config
from embodied_rag.errors import UserError
from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.pose import Pose


def _kf(i: int, x: float, emb: np.ndarray, y: float = 0.0) -> Keyframe:
    return Keyframe(id=i, session=0, stamp_ns=(i + 1) * 10**9, pose=Pose((x, y, 0.0)), caption=f"caption {i}",
                    objects=["chair"], source=f"f{i}", text_embedding=emb)


def _config() -> Config:
    cfg = Config()
    cfg.places.enabled = False
    return cfg


def test_round_trip_of_every_table(postgres_url, monkeypatch):
    monkeypatch.setattr("embodied_rag.memory.memory.LOAD_BATCH", 7)  # a reader opens it in batches of 7 keyframes
    rng = np.random.default_rng(0)
    embs = rng.normal(size=(20, 16)).astype(np.float32)
    img = rng.integers(0, 255, size=(120, 160, 3), dtype=np.uint8)
    with Memory(postgres_url, _config()) as m:
        m.begin_session("walk", robot="alpha")
        for i in range(20):
            m.add(_kf(0, i * 1.0, embs[i]), img)
        m.store.cache_caption("h", '{"caption": "x"}')
        assert m.record_caption_failure(3, "server down") == 1
        m.store.add_counters(m.session, {"frames": 20})
        m.store.save_free_space([(0, 1, 2, np.arange(2 * 64 * 64, dtype="<u2").tobytes())])
        forest = {n.id: (n.level, n.parent, sorted(n.children)) for n in m.forest.nodes.values()}
    with Memory(postgres_url, _config(), writable=False) as r:
        assert sorted(r.keyframes) == list(range(1, 21)) and len(r.leaves) == 20
        # The store keeps the embedding as given; the reader holds it once, as a unit row of its leaf matrix.
        assert np.allclose(r.store.load_keyframes(ids=[5])[0].text_embedding, embs[4])
        assert np.allclose(r.leaves.embedding(5), embs[4] / np.linalg.norm(embs[4]), atol=1e-6)
        assert r.keyframes[5].text_embedding is None
        assert r.lexical.matching("caption 0")[0] == set(range(1, 21))  # every batch indexed by its words
        assert {n.id: (n.level, n.parent, sorted(n.children)) for n in r.forest.nodes.values()} == forest
        assert r.forest.check() == []
        assert r.store.read_image(r.keyframes[1].image).shape == (120, 160, 3)
        assert r.store.cached_caption("h") == '{"caption": "x"}'
        assert r.store.caption_failures() == {3: (1, "server down")}
        assert r.store.counters() == {"frames": 20}
        assert r.store.robots() == {"alpha": 20}
        assert r.store.load_free_space()[0][:3] == (0, 1, 2)
        dims = r.store.conn.execute("SELECT DISTINCT vector_dims(text_vec) FROM keyframes").fetchall()
        assert dims == [(16,)]  # also a pgvector column, for server-side search


def test_two_writers_at_once_keep_one_consistent_forest(postgres_url):
    rng = np.random.default_rng(1)
    a, b = Memory(postgres_url, _config()), Memory(postgres_url, _config())
    try:
        a.begin_session("a", robot="alpha")
        b.begin_session("b", robot="beta")
        for i in range(60):  # interleaved commits, each writer catching up with the other's
            for m, y in ((a, 0.0), (b, 0.7)):
                e = rng.normal(size=16).astype(np.float32)
                m.add(_kf(0, i * 0.5, e / np.linalg.norm(e), y))
        assert a.forest.check() == [] and b.forest.check() == []
    finally:
        a.close()
        b.close()
    with Memory(postgres_url, _config(), writable=False) as r:
        assert sorted(r.keyframes) == list(range(1, 121))  # no id taken twice, none lost
        assert r.forest.check() == []
        assert r.store.robots() == {"alpha": 60, "beta": 60}


def test_writers_training_the_place_vocabulary_at_once_share_one(postgres_url):
    """Two writers both reach places.train_after with images: the one that trains second under the lock adopts the
    first's vocabulary, so every keyframe's place descriptor is made with the one stored vocabulary."""
    rng = np.random.default_rng(4)
    cfg = Config()
    cfg.places.train_after = 12

    def image() -> np.ndarray:  # texture enough for local features
        return rng.integers(0, 255, size=(120, 160, 3), dtype=np.uint8)

    a, b = Memory(postgres_url, cfg), Memory(postgres_url, cfg)
    try:
        a.begin_session("a", robot="alpha")
        b.begin_session("b", robot="beta")
        b.places.load(b.store)  # b looked before anyone trained ...
        for i in range(cfg.places.train_after):
            a.add(_kf(0, i * 1.0, rng.normal(size=8).astype(np.float32)), image())
        assert a.places.vocabulary is not None  # ... a trained on reaching train_after ...
        b.refresh()
        b.places._train(b, b.store, progress=False)  # ... and b trains too, having begun before a's was stored
        assert b.places.vocabulary.id == a.places.vocabulary.id
        for m, x in ((b, 50.0), (a, 60.0)):  # later keyframes are encoded with the stored vocabulary
            m.add(_kf(0, x, rng.normal(size=8).astype(np.float32)), image())
    finally:
        a.close()
        b.close()
    with Memory(postgres_url, cfg, writable=False) as r:
        conn = r.store.conn
        vocabularies = [v for (v,) in conn.execute("SELECT id FROM place_vocabulary").fetchall()]
        assert len(vocabularies) == 1
        rows = dict(conn.execute("SELECT keyframe, vocabulary FROM place_descriptors").fetchall())
        assert sorted(rows) == sorted(r.keyframes) and set(rows.values()) == set(vocabularies)


def test_a_reader_follows_the_writers_commits(postgres_url):
    rng = np.random.default_rng(2)
    with Memory(postgres_url, _config()) as w:
        w.begin_session("w", robot="alpha")
        w.add(_kf(0, 0.0, rng.normal(size=8).astype(np.float32)))
        with Memory(postgres_url, _config(), writable=False) as r:
            assert len(r.keyframes) == 1 and r.refresh() is False
            for i in range(1, 10):
                w.add(_kf(0, i * 1.0, rng.normal(size=8).astype(np.float32)))
            assert r.refresh() and len(r.keyframes) == 10 and r.forest.check() == []


def test_build_two_robots_query_with_filter_and_migrate(postgres_url, postgres_server, memo_minilm, tmp_path):
    from embodied_rag.api import Models, build_memory, open_memory
    from embodied_rag.memory.migrate import migrate

    folder = write_tum_folder(tmp_path / "walk")
    cfg = Config()
    models = Models.for_ingest(cfg, text=memo_minilm)
    build_memory(folder, postgres_url, cfg, models=models, progress=False, robot="alpha")
    report = build_memory(folder, postgres_url, cfg, models=models, progress=False, robot="beta")
    assert report["keyframes"] == 48 and not report["resumed"]  # beta's build of the same walk is its own session
    with open_memory(postgres_url, cfg, Models.for_queries(cfg, text=memo_minilm, need_llm=False)) as om:
        assert om.inspect()["robots"] == {"alpha": 24, "beta": 24}
        fleet = om.ask("where can I get a drink?")
        assert fleet.goal is not None
        beta = om.ask("where can I get a drink?", robot="beta")
        kf = int(beta.evidence[0].split(":")[1])
        assert om.memory.robot_of(kf) == "beta"
        with pytest.raises(UserError, match="No robot named 'gamma'"):
            om.ask("where can I get a drink?", robot="gamma")
    # migrate: a SQLite memory into an empty database, then refused into a non-empty one
    build_memory(folder, tmp_path / "mem", cfg, models=models, progress=False)
    _, server_url = postgres_server
    target = server_url.rsplit("/", 1)[0] + "/migrated_" + str(os.getpid())
    out = migrate(tmp_path / "mem", target, progress=False)
    assert out["rows"]["keyframes"] == 24 and out["images"] == 24
    with Memory(tmp_path / "mem", cfg, writable=False) as s, Memory(target, cfg, writable=False) as p:
        assert sorted(p.keyframes) == sorted(s.keyframes) and p.forest.check() == []
        assert {n.id: n.parent for n in p.forest.nodes.values()} == {n.id: n.parent for n in s.forest.nodes.values()}
        assert p.store.read_image(p.keyframes[1].image).shape == s.store.read_image(s.keyframes[1].image).shape
    with pytest.raises(UserError, match="already holds a memory"):
        migrate(tmp_path / "mem", target, progress=False)


@pytest.mark.slow
def test_server_killed_mid_ingest_keeps_every_committed_keyframe_and_a_reader_reconnects():
    from embodied_rag.memory import postgres_server

    try:
        postgres_server.binaries()
    except UserError as exc:
        pytest.skip(str(exc))
    directory = Path(tempfile.mkdtemp(prefix="embodied_rag_pgkill_"))
    url = postgres_server.start(directory)
    try:
        rng = np.random.default_rng(3)
        committed = 0
        reader = None
        with Memory(url, _config()) as w:
            w.begin_session("w", robot="alpha")
            with pytest.raises(UserError) as err:
                for i in range(10_000):
                    w.add(_kf(0, i * 0.5, rng.normal(size=8).astype(np.float32)))
                    committed += 1
                    if committed == 5:
                        reader = Memory(url, _config(), writable=False)
                    if committed == 40:
                        os.kill(postgres_server.server_pid(directory), signal.SIGKILL)
            message = str(err.value)
            assert "cannot be reached" in message and "committed before it is safe" in message
            assert "\n" not in message and message.count(". ") == 0  # one sentence
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        postgres_server.start(directory, port=port)
        with Memory(url, _config(), writable=False) as again:
            assert len(again.keyframes) == committed and again.forest.check() == []
        deadline = time.time() + 30
        while True:  # the reader's connection died with the server: refresh reconnects
            try:
                assert reader.refresh() and len(reader.keyframes) == committed
                break
            except UserError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        reader.close()
    finally:
        postgres_server.remove(directory)


def test_a_large_fleet_memory_is_ranked_by_its_server_search_index(postgres_url, memo_minilm, tmp_path, monkeypatch,
                                                                  capsys):
    import json

    from embodied_rag import cli
    from embodied_rag.api import Models, build_memory, open_memory
    from embodied_rag.memory import postgres_search

    folder = write_tum_folder(tmp_path / "walk")
    cfg = Config()
    models = Models.for_ingest(cfg, text=memo_minilm)
    for robot in ("alpha", "beta"):
        build_memory(folder, postgres_url, cfg, models=models, progress=False, robot=robot)
    cfg.retrieval.server_search_min_keyframes = 10  # as if this memory were a fleet's million keyframes
    served: list[dict] = []
    real = postgres_search.nearest_keyframes
    monkeypatch.setattr(postgres_search, "nearest_keyframes", lambda *a, **kw: served.append(kw) or real(*a, **kw))
    question = "what is the area with the fridge like?"
    queries = Models.for_queries(cfg, text=memo_minilm, need_llm=False)
    with open_memory(postgres_url, cfg, queries) as om:
        in_ram = [_said(om.ask(question, robot="beta")), _said(om.ask(question, mode="flat"))]
        assert not served  # no index yet: ranked in RAM

    assert cli.main(["db", "index", postgres_url, "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["built"] and report["dim"] == memo_minilm.dim and report["keyframes"] == 48

    with open_memory(postgres_url, cfg, queries) as om:
        answers = [om.ask(question, robot="beta"), om.ask(question, mode="flat")]
        assert [kw["robots"] for kw in served] == [["beta"], None]
        # The same answers; the walk repeats captions, so keyframes of equal similarity may stand in for each other.
        assert [a.answer for a in answers] == [a[0] for a in in_ram]
        mem = om.memory
        ranked = answers[0].evidence[: answers[0].evidence.index("node:1")]  # the views, before the area's
        assert ranked and {mem.robot_of(int(e[3:])) for e in ranked} == {"beta"}
        # the server's ranking is the exact one of the copy in RAM, of one robot's keyframes
        q = memo_minilm.embed_documents([question])[0]
        beta = [int(k) for k in mem.leaves.ids[: len(mem.leaves)] if mem.robot_of(int(k)) == "beta"]
        exact = sorted(float(mem.leaves.embedding(k) @ q) for k in beta)[::-1][:5]
        got = mem.nearest_keyframes(q, 5, "beta")
        assert [s for _, s in got] == pytest.approx(exact, abs=1e-5) and all(k in beta for k, _ in got)
        assert mem.nearest_keyframes(q[:100], 5) is None  # another model's embedding: not the index's
        mem.store.conn.close()  # the server connection is lost: the copy in RAM answers
        assert mem.nearest_keyframes(q, 5) is None
        assert _said(om.ask(question, robot="beta")) == in_ram[0]
    assert cli.main(["db", "index", postgres_url]) == 0
    assert "already there" in capsys.readouterr().out


def _said(answer) -> tuple:
    return answer.answer, answer.evidence, answer.goal.to_json() if answer.goal else None
