"""Query by image: classical place recognition built from the memory itself (ORB, VLAD, RANSAC), its index in the
store (incremental, lazy for old memories, migrated), bad photos, and real re-shot photos of the shared data sets."""

from __future__ import annotations

import io
import math
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import dataset

from embodied_rag.api import Models, build_memory, open_memory
from embodied_rag.config import Config, config_from_dict
from embodied_rag.errors import UserError
from embodied_rag.io.images import BadImage, query_image
from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.local_features import FeatureExtractor, LocalFeatures
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.pose import Pose
from embodied_rag.memory.store import SCHEMA_VERSION
from embodied_rag.memory.vocabulary import train_vocabulary
from embodied_rag.retrieval.reshoot import NAMES, reshoot_seeded

DIM = 8


def textured(seed: int, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A synthetic 'place': random rectangles, circles and lines on a noisy background (plenty of corners)."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = rng.integers(60, 120, size=(h, w, 3), dtype=np.uint8)
    img = cv2.GaussianBlur(img, (0, 0), 3)
    for _ in range(60):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(0, 3)
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(16, 120)), y + int(rng.integers(16, 120))), colour, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), int(rng.integers(8, 50)), colour, -1)
        else:
            cv2.line(img, (x, y), (int(rng.integers(0, w)), int(rng.integers(0, h))), colour, 3)
    return img


def _config(**places) -> Config:
    return config_from_dict({"places": {"train_after": 4, **places}})


def _add(mem: Memory, kf_id: int, image: np.ndarray | None, x: float, caption: str = "") -> Keyframe:
    kf = Keyframe(id=kf_id, session=0, stamp_ns=kf_id * 10**9, pose=Pose((x, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)),
                  caption=caption, source=f"images/{kf_id:05d}.jpg", text_embedding=np.ones(DIM, np.float32))
    return mem.add(kf, image)


def _memory(path: Path, n: int = 10, config: Config | None = None, seed0: int = 100) -> Path:
    with Memory(path, config or _config()) as mem:
        mem.begin_session("synthetic")
        for i in range(n):
            _add(mem, i + 1, textured(seed0 + i), 3.0 * i)  # places 3 m apart
    return path


class _Embedder:
    """A text embedder that needs no model (image queries never embed text)."""

    name, dim = "test:constant", DIM

    def embed_query(self, text):
        return np.ones(DIM, np.float32) / math.sqrt(DIM)

    def embed_documents(self, texts):
        return np.tile(self.embed_query(""), (len(texts), 1))


def _open(path: Path, config: Config | None = None):
    return open_memory(path, config or _config(), models=Models(text=_Embedder()))


# -- units ------------------------------------------------------------------------------------------------------
def test_features_and_vocabulary_round_trip_and_are_deterministic():
    ex = FeatureExtractor(Config().places)
    f = ex.extract(textured(1))
    assert 200 < len(f) <= 1000 and f.size == (640, 480)
    assert ex.extract(cv2.resize(textured(1), (320, 240))).size == (640, 480)  # small photos are scaled up
    g = LocalFeatures.from_blobs(*f.to_blobs(), *f.size)
    assert np.array_equal(g.descriptors, f.descriptors) and np.allclose(g.points, f.points)
    sets = [ex.extract(textured(s)).descriptors for s in range(6)]
    a, b = train_vocabulary(sets, 8, 16, seed=0), train_vocabulary(sets, 8, 16, seed=0)
    va, vb = a.encode(sets[0]), b.encode(sets[0])
    assert va.shape == (8 * 16,) and abs(np.linalg.norm(va) - 1.0) < 1e-4 and np.allclose(va, vb)
    assert not a.encode(np.zeros((0, 32), np.uint8)).any()
    # The same place scores higher than another place.
    assert va @ a.encode(ex.extract(reshoot_seeded(textured(0), "crop", 0, 0)).descriptors) > \
        va @ a.encode(sets[3])


def test_index_is_built_incrementally_at_ingest(tmp_path):
    path = _memory(tmp_path / "m", n=10)
    con = sqlite3.connect(path / "memory.sqlite")
    assert con.execute("SELECT COUNT(*) FROM place_features").fetchone()[0] == 10
    # The vocabulary came after train_after (4) keyframes; later keyframes were encoded as they arrived; the
    # ones before it were encoded when it was trained.
    assert con.execute("SELECT COUNT(*) FROM place_descriptors").fetchone()[0] == 10
    assert con.execute("SELECT trained_on FROM place_vocabulary").fetchone()[0] == 4
    con.close()
    with Memory(path, _config()) as mem:
        index = mem.place_index()  # grown 2.5x since: trained again
        assert len(index) == 10 and index.vocabulary.trained_on == 10


@pytest.mark.parametrize("distortion", NAMES)
def test_synthetic_places_are_recognised_after_each_distortion(tmp_path_factory, distortion):
    path = tmp_path_factory.getbasetemp() / "synthetic_places"
    if not path.exists():
        _memory(path, n=12)
    with _open(path) as mem:
        hits = 0
        for i in range(12):
            ans = mem.ask("", image=reshoot_seeded(textured(100 + i), distortion, 7, i))
            hits += ans.goal is not None and ans.evidence[0] == f"kf:{i + 1}"
            if ans.goal is not None:
                assert 0.0 < ans.confidence <= 1.0 and ans.kind == "find"
        # combo chains two or three distortions: crop then scale leaves as little as 60 x 45 pixels.
        assert hits >= (8 if distortion == "combo" else 10), f"{hits}/12 after {distortion}"


def test_goal_is_the_keyframe_pose_and_an_unknown_place_gets_none(tmp_path):
    path = _memory(tmp_path / "m", n=8)
    with _open(path) as mem:
        ans = mem.ask("take me where this photo was taken", image=textured(103))
        assert ans.evidence[0] == "kf:4" and ans.confidence > 0.9
        assert ans.goal.position == pytest.approx((9.0, 0.0, 0.0)) and ans.goal.frame_id == "map"
        assert "recognise this place" in ans.answer and ans.to_json()["confidence"] == ans.confidence
        other = mem.ask("", image=textured(999))  # a place the memory never saw
        assert other.goal is None and not other.found and other.confidence < 0.5
        assert "do not recognise" in other.answer
        flat = mem.ask("", image=np.full((240, 320, 3), 128, np.uint8))
        assert flat.goal is None and "too little texture" in flat.answer


# -- the store ----------------------------------------------------------------------------------------------------
def test_old_memory_is_indexed_at_its_first_image_query_and_upgraded(tmp_path):
    path = _memory(tmp_path / "m", n=6, config=_config(enabled=False))
    con = sqlite3.connect(path / "memory.sqlite")
    assert con.execute("SELECT COUNT(*) FROM place_features").fetchone()[0] == 0
    # What a schema 3 store looked like: no place tables.
    for table in ("place_features", "place_vocabulary", "place_descriptors"):
        con.execute(f"DROP TABLE {table}")
    con.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
    con.commit()
    con.close()
    with _open(path) as mem:  # read-only open of the old schema works (only tables were added since)
        assert mem.ask("", image=textured(102)).evidence[0] == "kf:3"
    con = sqlite3.connect(path / "memory.sqlite")
    assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    assert con.execute("SELECT COUNT(*) FROM place_descriptors").fetchone()[0] == 6
    con.close()


def test_a_reader_that_cannot_write_keeps_the_index_in_ram(tmp_path):
    path = _memory(tmp_path / "m", n=6, config=_config(enabled=False))
    with Memory(path, _config()):  # another process holds the write lock
        with _open(path) as mem:
            assert mem.ask("", image=textured(104)).evidence[0] == "kf:5"
            assert mem.ask("", image=textured(101)).evidence[0] == "kf:2"  # the RAM vocabulary is kept
    con = sqlite3.connect(path / "memory.sqlite")
    assert con.execute("SELECT COUNT(*) FROM place_descriptors").fetchone()[0] == 0
    con.close()


def test_new_keyframes_of_a_writer_are_found_by_a_reader(tmp_path):
    path = _memory(tmp_path / "m", n=6)
    with _open(path) as mem:
        assert mem.ask("", image=textured(102)).evidence[0] == "kf:3"
        with Memory(path, _config()) as writer:
            writer.begin_session("more")
            _add(writer, 7, textured(500), 30.0)
        mem.refresh()
        assert mem.ask("", image=textured(500)).evidence[0] == "kf:7"


# -- bad photos and memories --------------------------------------------------------------------------------------
def test_bad_query_images_are_one_sentence_errors(tmp_path):
    ok = textured(1)
    good = tmp_path / "ok.jpg"
    cv2.imwrite(str(good), ok)
    data = good.read_bytes()
    cases = {
        "empty": b"", "corrupt": b"\xff\xd8\xff\xe0 not really a jpeg" * 20, "truncated": data[: len(data) // 10],
    }
    for name, blob in cases.items():
        with pytest.raises(BadImage):
            query_image(blob)
        (tmp_path / f"{name}.jpg").write_bytes(blob)
        with pytest.raises(BadImage, match=f"{name}.jpg"):
            query_image(str(tmp_path / f"{name}.jpg"))
    with pytest.raises(BadImage, match="too small"):
        query_image(np.zeros((8, 8, 3), np.uint8))
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (12000, 6000)).save(buf, format="PNG")  # 72 megapixels in a few kilobytes
    with pytest.raises(BadImage, match="too large"):
        query_image(buf.getvalue())
    with pytest.raises(BadImage, match="dtype"):
        query_image(np.zeros((64, 64, 3), np.int32))
    with pytest.raises(BadImage, match="cannot read"):
        query_image(str(tmp_path / "missing.jpg"))
    assert query_image(data).shape == ok.shape
    assert query_image(ok.astype(np.float32) / 255.0).dtype == np.uint8
    assert query_image(ok[..., 0]).shape == ok.shape  # grey is fine


def test_api_bad_inputs_and_a_memory_without_images(tmp_path):
    path = _memory(tmp_path / "m", n=5)
    with _open(path) as mem:
        for bad in (b"", np.zeros((8, 8, 3), np.uint8), b"garbage" * 10):
            with pytest.raises(UserError, match="The query image cannot be used"):
                mem.ask("", image=bad)
    blind = tmp_path / "no_images"
    with Memory(blind, _config()) as m:
        m.begin_session("captions only")
        _add(m, 1, None, 0.0, "a lobby")
    with _open(blind) as mem:
        with pytest.raises(UserError, match="holds no images"):
            mem.ask("", image=textured(1))


# -- real photos ---------------------------------------------------------------------------------------------------
def _frames(folder: Path) -> list[tuple[str, tuple[float, ...]]]:
    names = [ln.split()[1] for ln in (folder / "rgb.txt").read_text().splitlines() if ln.strip() and ln[0] != "#"]
    poses = [tuple(float(v) for v in ln.split()[1:4]) for ln in (folder / "groundtruth.txt").read_text().splitlines()
             if ln.strip() and ln[0] != "#"]
    return list(zip(names, poses))


@pytest.mark.parametrize("name", ["coex_lobby", "preqa_house"])
def test_real_reshot_photos_are_placed(tmp_path, minilm, name):
    from embodied_rag.io.images import read_image_file

    folder = dataset(name)
    build_memory(folder, tmp_path / "m", Config(), models=Models(text=minilm), progress=False)
    frames = _frames(folder)
    rng = np.random.default_rng(3)
    picks = rng.choice(len(frames), 12, replace=False)
    hits = n = 0
    with open_memory(tmp_path / "m", Config(), models=Models(text=minilm)) as mem:
        kfs = mem.memory.keyframes
        for distortion in ("crop", "combo", "blur", "jpeg"):
            for i in picks:
                image_name, pos = frames[int(i)]
                photo = reshoot_seeded(read_image_file(str(folder / image_name)), distortion, 11, int(i))
                ans = mem.ask("where was this taken?", image=photo)
                n += 1
                if ans.goal is None:
                    continue
                kf = kfs[int(ans.evidence[0][3:])]
                if name == "coex_lobby":
                    hits += math.hypot(ans.goal.position[0] - pos[0], ans.goal.position[1] - pos[1]) <= 2.0
                else:
                    hits += Path(kf.source).name.split("-")[0] == Path(image_name).name.split("-")[0]
    assert hits / n >= 0.85, f"{hits}/{n} re-shot photos placed"


def test_open_clip_image_embeddings_widen_the_shortlist_when_configured(tmp_path):
    from embodied_rag.models.open_clip_model import write_tiny_model
    from embodied_rag.models.registry import create_image_embedder
    from embodied_rag.retrieval.place_recognition import ImageEmbeddingShortlist

    cfg_path, ckpt = write_tiny_model(tmp_path / "clip")
    config = config_from_dict({"places": {"train_after": 4},
                               "models": {"image_embedder": {"name": "open_clip", "model": str(cfg_path),
                                                             "path": str(ckpt)}}})
    embedder = create_image_embedder(config.models.image_embedder)
    with Memory(tmp_path / "m", config) as mem:
        mem.begin_session("with clip")
        for i in range(6):
            image = textured(100 + i)
            kf = Keyframe(id=i + 1, session=0, stamp_ns=i, pose=Pose((3.0 * i, 0.0, 0.0), (0, 0, 0, 1)),
                          text_embedding=np.ones(DIM, np.float32), image_embedding=embedder.embed_images([image])[0])
            mem.add(kf, image)
    with open_memory(tmp_path / "m", config, models=Models(text=_Embedder(), image=embedder)) as mem:
        ans = mem.ask("", image=reshoot_seeded(textured(104), "crop", 0, 4))
        recognizer = mem._places
        assert any(isinstance(s, ImageEmbeddingShortlist) for s in recognizer.shortlisters)
        assert ans.evidence[0] == "kf:5" and ans.goal is not None
        clip = recognizer.shortlisters[1].shortlist(textured(104), None, 3)
        assert clip[0][0] == 5  # the exact image is its own nearest embedding, whatever the random weights
