"""Captioners through their real code paths: the vision chat request against the loopback server (packaged SmolLM2
answering from a description of the decoded image), a tiny random-init transformers captioner, the CLIP tagger with
a tiny random-init open_clip model, and the caption cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from openai_server import ChatServer, NoModel, closed_port, shared_local_llm

from embodied_rag.config import ModelConfig
from embodied_rag.errors import ModelUnavailable
from embodied_rag.models import prompts
from embodied_rag.models.captioners import (
    CachedCaptioner,
    ClipTagger,
    OpenAIVisionCaptioner,
    TransformersCaptioner,
    image_hash,
    load_vocabulary,
)
from embodied_rag.models.open_clip_model import OpenClipEmbedder, write_tiny_model
from embodied_rag.models.protocols import Caption, Captioner


def image(colour: tuple[int, int, int], size=(48, 64)) -> np.ndarray:
    im = np.zeros((*size, 3), np.uint8)
    im[:] = colour
    im[: size[0] // 2, : size[1] // 2] = 255 - np.array(colour, np.uint8)  # not uniform: JPEG and CLIP see structure
    return im


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> OpenClipEmbedder:
    cfg, ckpt = write_tiny_model(tmp_path_factory.mktemp("clip"))
    return OpenClipEmbedder(ModelConfig(name="open_clip", model=str(cfg), path=str(ckpt)))


def vision_captioner(base_url: str, retries: int = 0) -> OpenAIVisionCaptioner:
    return OpenAIVisionCaptioner(ModelConfig(name="openai", model="smollm2-vision", base_url=base_url,
                                             retries=retries, timeout_s=240, max_tokens=100))


# -- OpenAI-compatible vision -----------------------------------------------------------------------------------------
@pytest.mark.slow  # loads SmolLM2 on transformers (20-45 s here)
def test_vision_request_format_is_served_by_the_local_model():
    with ChatServer(shared_local_llm()) as srv:
        cap = vision_captioner(srv.base_url)
        [out] = cap.caption([image((200, 30, 30), size=(48, 64))])
    assert isinstance(cap, Captioner)
    first = srv.requests[0]
    assert first.images == [(64, 48)]  # the data URL decoded to the image that was sent (width, height)
    user = first.body["messages"][1]["content"]
    assert [p["type"] for p in user] == ["text", "image_url"]
    assert user[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert first.body["response_format"]["json_schema"]["schema"] == prompts.CAPTION_SCHEMA
    # Either the model's JSON passed validation, or it was asked once more and the failure is reported.
    if out.text:
        assert len(srv.requests) in (1, 2) and isinstance(out.objects, list) and cap.failures == 0
    else:
        assert len(srv.requests) == 2 and prompts.RETRY_NOTE in srv.requests[1].body["messages"][1]["content"][0][
            "text"] and cap.failures == 1 and "without a valid caption" in cap.last_error


@pytest.mark.parametrize("mode,reason", [("garbage", "malformed reply"), ("error", "HTTP 500")])
def test_vision_captioner_degrades_to_an_empty_caption(mode, reason):
    with ChatServer(NoModel(), mode=mode) as srv:
        cap = vision_captioner(srv.base_url)
        out = cap.caption([image((30, 50, 200)), image((30, 160, 40))])
    assert [c.text for c in out] == ["", ""] and cap.failures == 2 and reason in cap.last_error
    assert all(reason in c.error for c in out)  # each failed image says why (caption later records it)


def test_vision_captioner_server_down():
    cap = vision_captioner(f"http://127.0.0.1:{closed_port()}/v1")
    [out] = cap.caption([image((1, 2, 3))])
    assert out.text == "" and "refused" in cap.last_error and out.error == cap.last_error


def test_vision_captioner_needs_a_base_url():
    with pytest.raises(ModelUnavailable, match=r"models\.captioner\.base_url"):
        OpenAIVisionCaptioner(ModelConfig(name="openai", model="llava"))


# -- transformers -----------------------------------------------------------------------------------------------------
def write_tiny_blip(directory: Path) -> Path:
    """A randomly initialised BLIP captioner with the packaged MiniLM's tokenizer (no weights can be downloaded)."""
    import torch
    from transformers import (
        BertTokenizerFast,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    from embodied_rag.models.text_embedding import packaged_minilm_dir

    tok = BertTokenizerFast.from_pretrained(str(packaged_minilm_dir()))
    cfg = BlipConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=16),
        text_config=dict(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=64, bos_token_id=tok.cls_token_id,
                         sep_token_id=tok.sep_token_id, pad_token_id=tok.pad_token_id, eos_token_id=tok.sep_token_id),
        projection_dim=32)
    torch.manual_seed(0)
    BlipForConditionalGeneration(cfg).save_pretrained(directory)
    BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}),
                  tokenizer=tok).save_pretrained(directory)
    return directory


def test_transformers_captioner_runs_a_local_model(tmp_path):
    d = write_tiny_blip(tmp_path / "blip")
    cap = TransformersCaptioner(ModelConfig(name="transformers", path=str(d), max_tokens=12))
    ims = [image((200, 30, 30)), image((30, 160, 40)), image((30, 50, 200))]
    out = cap.caption(ims)
    assert len(out) == 3 and all(isinstance(c, Caption) for c in out) and cap.name == "transformers:blip"
    assert out == cap.caption(ims)  # greedy: the same images give the same captions
    # The caption is the model's own decoded output (cleaned), for each image of the batch.
    inputs = cap.processor(images=[__import__("PIL.Image").Image.fromarray(ims[0])], return_tensors="pt")
    ids = cap.model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert out[0].text == (prompts.clean_answer(cap.processor.batch_decode(ids, skip_special_tokens=True)[0],
                                                max_sentences=2, max_chars=300) or "")
    assert cap.caption([]) == []


def test_transformers_captioner_tags_vocabulary_objects(tmp_path):
    cap = TransformersCaptioner(ModelConfig(name="transformers", path=str(write_tiny_blip(tmp_path / "b"))))
    c = cap._to_caption("a kitchen with a sink, two chairs and a microwave oven")
    assert {"sink", "chair", "microwave", "oven"} <= set(c.objects) and "bed" not in c.objects


def test_transformers_captioner_missing_model_names_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for cfg, setting in [(ModelConfig(name="transformers"), "models.captioner.path"),
                         (ModelConfig(name="transformers", path=str(tmp_path / "none")), "models.captioner.path"),
                         (ModelConfig(name="transformers", model="Salesforce/blip-image-captioning-base",
                                      cache_dir=str(tmp_path / "hf")), "models.captioner.model")]:
        with pytest.raises(ModelUnavailable) as e:
            TransformersCaptioner(cfg)
        assert setting in str(e.value) and "\n" not in str(e.value)


# -- CLIP zero-shot tagger --------------------------------------------------------------------------------------------
def test_clip_tagger_tags_with_the_shipped_vocabulary(tiny_clip):
    vocab = load_vocabulary()
    tagger = ClipTagger(tiny_clip)
    ims = [image((200, 30, 30)), image((30, 50, 200))]
    out = tagger.caption(ims)
    assert len(out) == 2 and out == tagger.caption(ims)
    for c in out:
        assert c.name in vocab["places"] and 1 <= len(c.objects) <= 3 and set(c.objects) <= set(vocab["objects"])
        assert c.text.startswith(f"A {c.name} with ") and c.text.endswith(f"{c.objects[-1]}.")
    # The tag is the best-scoring prompt under the model, computed independently here.
    e = tiny_clip.embed_images(ims[:1])[0]
    places = list(vocab["places"])
    sims = tiny_clip.embed_documents([f"a photo of a {p}" for p in places]) @ e
    assert out[0].name == places[int(np.argmax(sims))]


def test_clip_tagger_custom_vocabulary(tiny_clip, tmp_path):
    f = tmp_path / "vocab.yaml"
    f.write_text("places:\n  greenhouse: [plants]\n  workshop: [tools]\nobjects: [plant, hammer, lathe]\n")
    [c] = ClipTagger(tiny_clip, str(f), top_objects=5, min_margin=1.0).caption([image((30, 160, 40))])
    assert c.name in {"greenhouse", "workshop"} and sorted(c.objects) == ["hammer", "lathe", "plant"]
    with pytest.raises(ModelUnavailable, match=r"models\.captioner\.vocabulary"):
        ClipTagger(tiny_clip, str(tmp_path / "missing.yaml"))
    (tmp_path / "empty.yaml").write_text("places: {}\n")
    with pytest.raises(ModelUnavailable, match=r"models\.captioner\.vocabulary"):
        ClipTagger(tiny_clip, str(tmp_path / "empty.yaml"))


# -- cache ------------------------------------------------------------------------------------------------------------
class Counting:
    def __init__(self, inner):
        self.inner, self.name, self.seen = inner, inner.name, 0

    def caption(self, images):
        self.seen += len(images)
        return self.inner.caption(images)


def test_cached_captioner_uses_the_store(tiny_clip, tmp_path):
    from embodied_rag.memory.store import MemoryStore

    store = MemoryStore(tmp_path / "mem")
    inner = Counting(ClipTagger(tiny_clip))
    cached = CachedCaptioner(inner, store.cached_caption, store.cache_caption)
    a, b = image((200, 30, 30)), image((30, 50, 200))
    first = cached.caption([a, b])
    assert inner.seen == 2 and cached.misses == 2
    again = cached.caption([b.copy(), a, a])  # equal pixels, new arrays
    assert inner.seen == 2 and cached.hits == 3 and again == [first[1], first[0], first[0]]
    raw = store.cached_caption(f"{inner.name}:{image_hash(a)}")
    assert json.loads(raw) == {"text": first[0].text, "name": first[0].name, "objects": first[0].objects,
                               "detections": []}


def test_cached_captioner_skips_failures_and_corrupt_entries():
    cache: dict[str, str] = {}
    ok = Caption(text="A kitchen.", name="kitchen", objects=["sink"])

    class Flaky:
        name = "flaky"
        replies = [[Caption(text="")], [ok]]

        def caption(self, images):
            return self.replies.pop(0)

    cached = CachedCaptioner(Flaky(), cache.get, cache.__setitem__)
    im = image((1, 2, 3))
    assert cached.caption([im]) == [Caption(text="")] and cache == {}  # a failure is retried next time
    assert cached.caption([im]) == [ok] and len(cache) == 1
    cache[next(iter(cache))] = "{not json"
    Flaky.replies = [[ok]]
    assert cached.caption([im]) == [ok]
    assert image_hash(im) != image_hash(im[:, :, ::-1].copy())
