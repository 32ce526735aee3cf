"""open_clip image (and text) embeddings from a pretrained tag (with a cache directory) or a local checkpoint.

Weights must exist: a pretrained tag that is neither cached nor downloadable, or a missing checkpoint file, is a
start-up error naming the setting. This never falls back to random weights.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embodied_rag.config import ModelConfig
from embodied_rag.errors import ModelUnavailable

if TYPE_CHECKING:
    import torch
    from torchvision.transforms import InterpolationMode


@dataclass(frozen=True)
class TensorPreprocess:
    """The model's own preprocessing (open_clip's ``visual.preprocess_cfg``) as parameters of tensor ops."""

    size: tuple[int, int]  # (height, width) after the crop
    resize: tuple[int, ...]  # torchvision resize size: [short side] keeps the aspect ratio, [h, w] squashes
    interpolation: InterpolationMode
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def from_model(cls, model: Any) -> TensorPreprocess | None:
        """None for what the tensor path does not implement (``longest`` resize with padding): PIL then."""
        from torchvision.transforms import InterpolationMode

        cfg = getattr(getattr(model, "visual", None), "preprocess_cfg", None)
        if not cfg or cfg.get("resize_mode", "shortest") not in ("shortest", "squash"):
            return None
        size = cfg["size"]
        size = (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))
        if cfg.get("resize_mode", "shortest") == "squash":
            resize = size
        elif size[0] == size[1]:
            resize = (size[0],)
        else:
            return None  # a non-square crop after an aspect-keeping resize: open_clip's transform does more here
        return cls(size, resize, InterpolationMode(cfg.get("interpolation", "bicubic")),
                   tuple(cfg["mean"]), tuple(cfg["std"]))

    def __call__(self, images: list[np.ndarray], device: str) -> torch.Tensor:
        """A normalised float batch (N, 3, H, W) on ``device``. The uint8 frames are copied there once, and resize,
        crop and normalisation run there (on a GPU, not on the CPU that also serves the ROS callbacks). Frames of
        one size (a camera stream) make one tensor; mixed sizes are resized group by group."""
        import torch
        import torchvision.transforms.v2.functional as F

        out = torch.empty((len(images), 3, *self.size), device=device)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, im in enumerate(images):
            groups.setdefault(im.shape, []).append(i)
        for idx in groups.values():
            x = torch.from_numpy(np.stack([images[i][..., :3] for i in idx])).to(device).permute(0, 3, 1, 2)
            # Resize uint8 to uint8 as PIL does (torchvision: a native kernel on the CPU, 4x PIL's speed there;
            # float, clamped and rounded back on a GPU), then crop, scale and normalise in float.
            x = F.resize(x, list(self.resize), interpolation=self.interpolation, antialias=True)
            x = F.center_crop(x, list(self.size)).float().div_(255.0)
            out[idx] = F.normalize(x, list(self.mean), list(self.std))
        return out


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
        kwargs = {"cache_dir": os.path.expanduser(config.cache_dir)} if config.cache_dir else {}
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
        self._tensor_cfg = TensorPreprocess.from_model(model)
        self.name = f"open_clip:{arch}:{Path(weights).name if config.path else weights}"
        with torch.no_grad():
            self.dim = int(self.model.encode_text(self.tokenizer(["probe"]).to(self.device)).shape[-1])

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = self.preprocess_batch(images) if self._tensor_cfg is not None else self.preprocess_pil(images)
        with self._torch.no_grad():
            return _unit(self.model.encode_image(batch).float().cpu().numpy())

    def preprocess_pil(self, images: list[np.ndarray]) -> torch.Tensor:
        """open_clip's own transform, image by image through PIL on the CPU (the reference the batched path is
        tested against, and the path for resize modes it does not implement)."""
        from PIL import Image

        return self._torch.stack([self.preprocess(Image.fromarray(im)) for im in images]).to(self.device)

    def preprocess_batch(self, images: list[np.ndarray]) -> torch.Tensor:
        """The same transform as batched tensor ops on the model's device (see :class:`TensorPreprocess`)."""
        assert self._tensor_cfg is not None
        return self._tensor_cfg(images, self.device)

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
