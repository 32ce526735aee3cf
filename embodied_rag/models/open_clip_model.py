"""open_clip image (and text) embeddings from a pretrained tag (with a cache directory) or a local checkpoint.

Weights must exist: a pretrained tag that is neither cached nor downloadable, or a missing checkpoint file, is a
start-up error naming the setting. This never falls back to random weights.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from embodied_rag.config import ModelConfig
from embodied_rag.errors import ModelUnavailable


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class OpenClipEmbedder:
    """Implements ImageEmbedder and TextEmbedder with one open_clip model (one shared space)."""

    def __init__(self, config: ModelConfig, setting: str = "models.image_embedder"):
        import open_clip
        import torch

        self._torch = torch
        arch = config.model or "ViT-B-32"
        if arch.endswith(".json"):
            # A custom architecture: register its config file under its stem.
            cfg_path = Path(arch)
            if not cfg_path.is_file():
                raise ModelUnavailable(f"Model config {arch} does not exist; fix {setting}.model.")
            open_clip.add_model_config(cfg_path)
            arch = cfg_path.stem
        weights = config.path or config.pretrained
        if not weights:
            raise ModelUnavailable(
                f"{setting} '{arch}' has no weights: set {setting}.path to a checkpoint file or "
                f"{setting}.pretrained to a pretrained tag.")
        if config.path and not Path(config.path).is_file():
            raise ModelUnavailable(f"Checkpoint {config.path} does not exist; fix {setting}.path.")
        kwargs = {"cache_dir": config.cache_dir} if config.cache_dir else {}
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                arch, pretrained=weights, device=config.device, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any failure to get weights is a configuration problem
            where = f"{setting}.path" if config.path else f"{setting}.pretrained (and {setting}.cache_dir)"
            raise ModelUnavailable(
                f"Cannot load open_clip '{arch}' weights '{weights}' ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:120] if str(exc) else ''}); fix {where}.") from None
        model.eval()
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = open_clip.get_tokenizer(arch)
        self.device = config.device
        self.name = f"open_clip:{arch}:{Path(weights).name if config.path else weights}"
        with torch.no_grad():
            self.dim = int(self.model.encode_text(self.tokenizer(["probe"]).to(self.device)).shape[-1])

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        from PIL import Image

        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = self._torch.stack([self.preprocess(Image.fromarray(im)) for im in images]).to(self.device)
        with self._torch.no_grad():
            return _unit(self.model.encode_image(batch).float().cpu().numpy())

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._torch.no_grad():
            return _unit(self.model.encode_text(self.tokenizer(texts).to(self.device)).float().cpu().numpy())

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def write_tiny_model(directory: str | Path, seed: int = 0) -> tuple[Path, Path]:
    """Write a tiny random-init open_clip architecture and its checkpoint (for tests and offline checks).

    Returns (config json, checkpoint file). Not used by the product at run time: real weights are configured.
    """
    import open_clip
    import torch
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cfg = {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }
    cfg_path = directory / "tiny-clip.json"
    cfg_path.write_text(json.dumps(cfg))
    open_clip.add_model_config(cfg_path)
    torch.manual_seed(seed)
    model = open_clip.create_model("tiny-clip", pretrained=None)
    ckpt = directory / "tiny-clip.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(ckpt))
    os.chmod(ckpt, 0o600)
    return cfg_path, ckpt
