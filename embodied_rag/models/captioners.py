"""Captioners: an OpenAI-compatible vision chat API, a transformers vision-language model, a CLIP zero-shot tagger,
and a cache by image hash in front of any of them. (Captions that arrive with the data need no class.)

A captioner that fails on an image returns an empty Caption for it with the reason in ``error`` (and logs it), so the
ingest keeps going and the keyframe is stored with whatever text came with the data; failed captions are never
cached, and ``embodied-rag caption`` retries them later.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import logging
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from embodied_rag.config import ModelConfig
from embodied_rag.errors import ModelUnavailable
from embodied_rag.memory.detection import Detection
from embodied_rag.models import prompts
from embodied_rag.models.llm import OpenAICompatibleLLM
from embodied_rag.models.open_clip_model import OpenClipEmbedder
from embodied_rag.models.protocols import Caption, LLMError

log = logging.getLogger(__name__)


def load_vocabulary(path: str | Path | None = None) -> dict:
    """The place/object vocabulary: a YAML file, or the one shipped with the package."""
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelUnavailable(
                f"Cannot read vocabulary {path} ({exc.strerror}); fix models.captioner.vocabulary.") from None
    else:
        text = resources.files("embodied_rag").joinpath("data/vocabulary.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ModelUnavailable(f"Vocabulary {path} must map 'places' and 'objects'; fix models.captioner.vocabulary.")
    return data


def image_hash(image: np.ndarray) -> str:
    """sha256 of the pixels, shape and dtype (the same picture decoded twice gives the same key)."""
    a = np.ascontiguousarray(image)
    h = hashlib.sha256(f"{a.shape}{a.dtype}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def to_data_url(image: np.ndarray, max_side: int = 768, quality: int = 85) -> str:
    """A JPEG data URL of an RGB uint8 image, downscaled so the request stays small."""
    from PIL import Image

    im = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    im.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class OpenAIVisionCaptioner:
    """Asks an OpenAI-compatible vision model (Ollama, vLLM, OpenAI) for {"name", "description", "objects",
    "boxes"} JSON; the boxes become detections (placed in 3-D with depth when the robot has it)."""

    def __init__(self, config: ModelConfig, setting: str = "models.captioner"):
        self.client = OpenAICompatibleLLM(config, setting=setting)
        self.name = f"openai-vision:{config.model}"
        self.max_tokens = min(max(config.max_tokens, 400), 600)  # boxes need room
        self.failures = 0
        self.last_error = ""

    def _ask(self, image: np.ndarray, retry: bool) -> Caption | None:
        system, text = prompts.describe_image()
        if retry:
            text += " " + prompts.RETRY_NOTE
        messages = [{"role": "system", "content": system},
                    {"role": "user", "content": [{"type": "text", "text": text},
                                                 {"type": "image_url", "image_url": {"url": to_data_url(image)}}]}]
        reply = self.client.chat(messages, max_tokens=self.max_tokens, json_schema=prompts.CAPTION_SCHEMA)
        return prompts.parse_caption(reply, image.shape[1], image.shape[0])

    def caption_one(self, image: np.ndarray) -> Caption:
        try:
            cap = self._ask(image, retry=False) or self._ask(image, retry=True)
            if cap is None:
                self.last_error = f"{self.name} replied twice without a valid caption"
        except LLMError as exc:
            cap, self.last_error = None, str(exc)
        if cap is None:
            self.failures += 1
            log.warning("No caption for an image: %s", self.last_error)
            return Caption(text="", error=self.last_error)
        return cap

    def caption(self, images: list[np.ndarray]) -> list[Caption]:
        return [self.caption_one(im) for im in images]


class TransformersCaptioner:
    """A transformers image-to-text or vision-language model (BLIP, GIT, SmolVLM, LLaVA, ...) from a local directory
    (``path``) or a hub id (``model``, which needs the hub or its cache)."""

    PROMPT = "Describe this place in one sentence."

    def __init__(self, config: ModelConfig, setting: str = "models.captioner", vocabulary: dict | None = None):
        location = config.path or config.model
        if not location:
            raise ModelUnavailable(
                f"{setting}.path is empty; set it to a local transformers image-to-text model directory "
                f"(or {setting}.model to a hub id).")
        if config.path and not Path(config.path).is_dir():
            raise ModelUnavailable(f"Model directory {config.path} does not exist; fix {setting}.path.")
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        kwargs = {"cache_dir": config.cache_dir} if config.cache_dir else {}
        try:
            self.processor = AutoProcessor.from_pretrained(location, **kwargs)
            self.model = AutoModelForImageTextToText.from_pretrained(location, **kwargs).to(config.device).eval()
        except Exception as exc:  # noqa: BLE001 - not found, not cached, offline, unsupported: all configuration
            first = str(exc).splitlines()[0][:120] if str(exc) else ""
            where = f"{setting}.path" if config.path else f"{setting}.model (and {setting}.cache_dir)"
            raise ModelUnavailable(
                f"Cannot load the transformers captioner '{location}' ({type(exc).__name__}: {first}); "
                f"fix {where}.") from None
        self._torch = torch
        self.device = config.device
        self.max_new_tokens = min(config.max_tokens, 40)
        self.name = f"transformers:{Path(location).name if config.path else location}"
        objects = (vocabulary if vocabulary is not None else load_vocabulary(config.vocabulary or None))
        self._objects = [str(o).lower() for o in objects.get("objects", [])]
        tmpl = getattr(self.processor, "chat_template", None)
        # Chat VLMs need the image token placed by their template; plain captioners (BLIP, GIT) take no text.
        self._text = (self.processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": self.PROMPT}]}],
            add_generation_prompt=True) if tmpl else None)

    def caption(self, images: list[np.ndarray]) -> list[Caption]:
        from PIL import Image

        if not images:
            return []
        pil = [Image.fromarray(np.asarray(im, dtype=np.uint8)).convert("RGB") for im in images]
        kwargs = {"text": [self._text] * len(pil)} if self._text else {}
        inputs = self.processor(images=pil, return_tensors="pt", **kwargs).to(self.device)
        with self._torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        ids = inputs.get("input_ids")
        if ids is not None and out.shape[1] >= ids.shape[1] and self._torch.equal(out[:, : ids.shape[1]], ids):
            out = out[:, ids.shape[1]:]  # decoder-only models return the prompt too
        texts = self.processor.batch_decode(out, skip_special_tokens=True)
        return [self._to_caption(t) for t in texts]

    def _to_caption(self, text: str) -> Caption:
        text = prompts.clean_answer(text, max_sentences=2, max_chars=300) or ""
        low = text.lower()
        objects = [o for o in self._objects if re.search(rf"\b{re.escape(o)}s?\b", low)]
        return Caption(text=text, objects=objects)


class ClipTagger:
    """Zero-shot tags with an open_clip model: the best place type and the best objects of the vocabulary."""

    def __init__(self, embedder: OpenClipEmbedder, vocabulary: str | Path | dict | None = None,
                 top_objects: int = 3, min_margin: float = 0.05):
        vocab = vocabulary if isinstance(vocabulary, dict) else load_vocabulary(vocabulary)
        self.places = [str(p) for p in (vocab.get("places") or {})]
        self.objects = list(dict.fromkeys(str(o) for o in (vocab.get("objects") or [])))
        if not self.places or not self.objects:
            raise ModelUnavailable("The CLIP tagger's vocabulary needs places and objects; fix "
                                   "models.captioner.vocabulary.")
        self.embedder = embedder
        self.top_objects = top_objects
        self.min_margin = min_margin
        self.name = f"clip_tagger:{embedder.name}"
        # Prompt embeddings once; an image then costs one image embedding and two matrix products.
        self._place_emb = embedder.embed_documents([f"a photo of a {p}" for p in self.places])
        self._object_emb = embedder.embed_documents([f"a photo of a {o}" for o in self.objects])

    def caption(self, images: list[np.ndarray]) -> list[Caption]:
        if not images:
            return []
        emb = self.embedder.embed_images(images)
        out = []
        for e in emb:
            place = self.places[int(np.argmax(self._place_emb @ e))]
            sims = self._object_emb @ e
            order = np.argsort(-sims)
            # Objects close to the best one: CLIP similarities are only comparable relative to each other.
            objs = [self.objects[i] for i in order[: self.top_objects] if sims[i] >= sims[order[0]] - self.min_margin]
            out.append(Caption(text=f"A {place} with {_join(objs)}.", name=place, objects=objs))
        return out


class CachedCaptioner:
    """Captions by image hash through get/put callbacks (e.g. Store.cached_caption / Store.cache_caption)."""

    def __init__(self, inner, get: Callable[[str], str | None], put: Callable[[str, str], None]):
        self.inner = inner
        self.name = inner.name
        self._get, self._put = get, put
        self.hits = 0
        self.misses = 0

    def _key(self, image: np.ndarray) -> str:
        # The captioner's name is part of the key: switching models must not return the old model's captions.
        return f"{self.inner.name}:{image_hash(image)}"

    def caption(self, images: list[np.ndarray]) -> list[Caption]:
        keys = [self._key(im) for im in images]
        out: list[Caption | None] = [None] * len(images)
        for i, k in enumerate(keys):
            raw = self._get(k)
            if raw is None:
                continue
            try:
                d = json.loads(raw)
                out[i] = Caption(text=str(d["text"]), name=str(d.get("name", "")),
                                 objects=[str(o) for o in d.get("objects", [])],
                                 detections=[Detection.from_json(x) for x in d.get("detections", [])])
            except (ValueError, KeyError, TypeError):
                log.warning("Ignoring a corrupt cached caption %s", k)
        missing = [i for i, c in enumerate(out) if c is None]
        self.hits += len(images) - len(missing)
        self.misses += len(missing)
        if missing:
            for i, cap in zip(missing, self.inner.caption([images[i] for i in missing])):
                out[i] = cap
                if cap.text:  # a failed (empty) caption is retried next time, not remembered
                    self._put(keys[i], json.dumps({k: v for k, v in dataclasses.asdict(cap).items() if k != "error"}))
        return [c if c is not None else Caption(text="") for c in out]
