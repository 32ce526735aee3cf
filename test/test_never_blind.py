"""Never silently blind: a memory says how many keyframes words can find and why the others cannot, and a question
in words on images without captions or image embeddings says so instead of "I have not seen anything"."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_tum_folder

from embodied_rag.api import Models, build_memory, inspect_memory, open_memory
from embodied_rag.config import Config, config_from_dict
from embodied_rag.memory.coverage import language_coverage
from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.pose import Pose


def _kf(i: int, caption: str = "", image: str | None = None, image_embedding=None) -> Keyframe:
    return Keyframe(i, 1, i, Pose((float(i), 0.0, 0.0), (0, 0, 0, 1)), caption=caption, image=image,
                    image_embedding=image_embedding)


def test_coverage_counts_and_says_what_fixes_it():
    kfs = [_kf(1, "a lobby"), _kf(2, image="images/2.jpg", image_embedding=np.ones(4)), _kf(3, image="images/3.jpg"),
           _kf(4)]
    c = language_coverage(kfs)
    assert (c.keyframes, c.by_text, c.by_image_embedding_only, c.blind_with_image, c.blind) == (4, 1, 1, 1, 2)
    assert c.searchable == 2
    why = c.why(Config())
    assert why.startswith("2 keyframes have no caption and no image embedding")
    assert "models.captioner" in why and "models.image_embedder" in why and "--image" in why
    configured = config_from_dict({"models": {"captioner": {"name": "openai"}}})
    assert "models.captioner 'openai'" in c.why(configured)
    assert language_coverage(kfs[:1]).why(Config()) == ""


@pytest.fixture(scope="module")
def uncaptioned(tmp_path_factory, minilm):
    """The example walk's images and poses with its captions removed (a robot with only a camera)."""
    root = tmp_path_factory.mktemp("blind")
    folder = write_tum_folder(root / "walk", image_size=(320, 240))
    (folder / "captions.jsonl").unlink()
    report = build_memory(folder, root / "mem", Config(), models=Models(text=minilm), progress=False)
    return root / "mem", report


def test_build_and_inspect_report_keyframes_words_cannot_find(uncaptioned, minilm):
    path, report = uncaptioned
    ls = report["language_search"]
    assert ls["keyframes"] == 24 and ls["searchable"] == 0 and ls["blind_with_image"] == 24
    assert "models.captioner" in ls["why"]
    with Memory(path, Config(), writable=False) as mem:
        info = inspect_memory(mem)
    assert info["language_search"] == ls and info["place_index"]["descriptors"] == 24


def test_a_question_in_words_says_why_it_cannot_answer(uncaptioned, minilm):
    path, _ = uncaptioned
    with open_memory(path, Config(), models=Models(text=minilm)) as mem:
        for question in ("where can I get a drink?", "what is this place like?", "did you see a sofa?"):
            ans = mem.ask(question)
            assert ans.answer.startswith("I hold 24 images without captions or image embeddings"), ans.answer
            assert "models.captioner" in ans.answer and "--image" in ans.answer
            assert ans.goal is None and not ans.found
        # Poses and times still answer where the robot was.
        assert "I hold" not in mem.ask("where were you 10 seconds ago?").answer


def test_partly_blind_memory_searches_the_rest_and_says_what_it_skipped(tmp_path, minilm):
    with Memory(tmp_path / "m", Config()) as mem:
        mem.bind_text_embedder(minilm.name, minilm.dim)
        mem.begin_session("mixed")
        for i, caption in enumerate(["A lobby with a vending machine selling drinks.", "", "", ""], start=1):
            kf = _kf(i, caption)
            kf.text_embedding = minilm.embed_documents([caption or "(no description)"])[0]
            mem.add(kf, np.full((64, 64, 3), 40 * i, np.uint8))
    with open_memory(tmp_path / "m", Config(), models=Models(text=minilm)) as mem:
        drink = mem.ask("where can I get a drink?")
        assert drink.evidence[0] == "kf:1" and drink.goal is not None
        nothing = mem.ask("where is the giraffe enclosure?")
        assert nothing.goal is None
        assert "3 of my 4 keyframes have no caption or image embedding" in nothing.answer, nothing.answer
