"""open_clip preprocessing as batched tensors on the model's device matches open_clip's own PIL transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import dataset

from embodied_rag.config import ModelConfig
from embodied_rag.models.open_clip_model import OpenClipEmbedder, TensorPreprocess, write_tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> OpenClipEmbedder:
    cfg, ckpt = write_tiny_model(tmp_path_factory.mktemp("clip"))
    return OpenClipEmbedder(ModelConfig(name="open_clip", model=str(cfg), path=str(ckpt)))


def photos(n: int) -> list[np.ndarray]:
    from PIL import Image

    paths = sorted((dataset("coex_lobby") / "images").glob("*.jpg"))[:: 10][:n]
    return [np.asarray(Image.open(p).convert("RGB")) for p in paths]


def cosines(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.cosine_similarity(a.flatten(1), b.flatten(1), dim=-1).numpy()


def test_tensor_path_embeds_like_pil_on_photos_and_mixed_sizes(tiny):
    assert tiny._tensor_cfg is not None and tiny._tensor_cfg.size == (32, 32)  # read from the model, not fixed
    rng = np.random.default_rng(0)
    synthetic = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((120, 160, 3), (300, 200, 3),
                                                                             (64, 64, 3))]
    ims = photos(4) + synthetic
    with torch.no_grad():
        pil = tiny.model.encode_image(tiny.preprocess_pil(ims))
        ten = tiny.model.encode_image(tiny.preprocess_batch(ims))
    assert cosines(pil, ten).min() >= 0.99
    assert np.allclose(tiny.embed_images(ims), torch.nn.functional.normalize(ten, dim=-1).numpy(), atol=1e-5)
    # Order is kept when sizes are grouped: each row is its own image's.
    assert np.allclose(tiny.embed_images(ims[::-1])[::-1], tiny.embed_images(ims), atol=1e-5)


def test_vit_b_32_preprocess_config_and_pixels_match():
    import open_clip
    from PIL import Image

    model, _, pil_transform = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    cfg = TensorPreprocess.from_model(model)
    assert cfg is not None and cfg.size == (224, 224) and cfg.resize == (224,)
    assert cfg.interpolation.value == "bicubic" and cfg.mean == tuple(model.visual.preprocess_cfg["mean"])
    ims = photos(3)
    pil = torch.stack([pil_transform(Image.fromarray(im)) for im in ims])
    ten = cfg(ims, "cpu")  # preprocessing only: random weights are enough to compare pixels
    assert ten.shape == pil.shape == (3, 3, 224, 224)
    assert cosines(pil, ten).min() >= 0.999
    assert float((pil - ten).abs().mean()) < 0.02  # normalised units: under 1/200 of the pixel range on average


def test_longest_resize_mode_keeps_the_pil_transform():
    class Visual:
        preprocess_cfg = {"size": 224, "mean": (0.5,) * 3, "std": (0.5,) * 3, "resize_mode": "longest"}

    class Model:
        visual = Visual()

    assert TensorPreprocess.from_model(Model()) is None
