"""open_clip image preprocessing: PIL image by image on the CPU (open_clip's own transform, the previous path) against
batched tensors on the model's device (``OpenClipEmbedder.preprocess_batch``), in one process.

For each model (the tiny random-init test architecture and ViT-B-32 with random weights: preprocessing does not
depend on the weights, and none can be downloaded here) and batch size, prints images/s of preprocessing alone and
of the whole ``embed_images`` (preprocessing + image tower), and the cosine between the two paths' embeddings.
Frames are coex_lobby's photos (1024x810) when ``../shared/datasets`` is there, else 640x480 noise.

    .venv/bin/python benchmarks/bench_clip_preprocess.py [--device cuda] [--batches 8,32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from embodied_rag.config import ModelConfig
from embodied_rag.models.open_clip_model import OpenClipEmbedder, write_tiny_model

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "coex_lobby" / "images"


def frames(n: int) -> list[np.ndarray]:
    from PIL import Image

    paths = sorted(PHOTOS.glob("*.jpg"))[:n] if PHOTOS.is_dir() else []
    if paths:
        ims = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
        return [ims[i % len(ims)] for i in range(n)]
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(n)]


def vit_b32(directory: Path, device: str) -> OpenClipEmbedder:
    """ViT-B-32 with random weights, loaded through the product's checkpoint path."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    ckpt = directory / "vit-b-32-random.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(ckpt))
    return OpenClipEmbedder(ModelConfig(name="open_clip", model="ViT-B-32", path=str(ckpt), device=device))


def rate(fn: Callable[[], object], n: int, repeats: int, sync: Callable[[], None]) -> float:
    """Images per second, best of ``repeats`` (after one warm-up)."""
    fn()
    sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return n / best


def measure(emb: OpenClipEmbedder, batch: list[np.ndarray], repeats: int, sync: Callable[[], None]
            ) -> tuple[float, float, float, float, float]:
    """Images/s of PIL and tensor preprocessing, alone and with the image tower; the lowest cosine between them."""
    import torch

    p_pil = rate(lambda: emb.preprocess_pil(batch), len(batch), repeats, sync)
    p_ten = rate(lambda: emb.preprocess_batch(batch), len(batch), repeats, sync)
    e_pil = rate(lambda: emb.model.encode_image(emb.preprocess_pil(batch)), len(batch), repeats, sync)
    e_ten = rate(lambda: emb.model.encode_image(emb.preprocess_batch(batch)), len(batch), repeats, sync)
    a = emb.model.encode_image(emb.preprocess_pil(batch)).float()
    t = emb.model.encode_image(emb.preprocess_batch(batch)).float()
    return p_pil, p_ten, e_pil, e_ten, torch.nn.functional.cosine_similarity(a, t, dim=-1).min().item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batches", default="8,32")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import torch

    torch.set_grad_enabled(False)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    batches = [int(b) for b in args.batches.split(",")]
    ims = frames(max(batches))
    print(f"device {args.device}, frames {ims[0].shape[1]}x{ims[0].shape[0]}, torch threads {torch.get_num_threads()}")
    print(f"{'model':10} {'batch':>5} {'prep PIL/s':>11} {'prep tensor/s':>14} {'x':>6} {'embed PIL/s':>12} "
          f"{'embed tensor/s':>15} {'x':>6} {'cosine min':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        cfg, ckpt = write_tiny_model(Path(tmp))
        models = {"tiny": OpenClipEmbedder(ModelConfig(name="open_clip", model=str(cfg), path=str(ckpt),
                                                       device=args.device)),
                  "ViT-B-32": vit_b32(Path(tmp), args.device)}
        for name, emb in models.items():
            for b in batches:
                p_pil, p_ten, e_pil, e_ten, cos = measure(emb, ims[:b], args.repeats, sync)
                print(f"{name:10} {b:5d} {p_pil:11.1f} {p_ten:14.1f} {p_ten / p_pil:5.1f}x {e_pil:12.1f} "
                      f"{e_ten:15.1f} {e_ten / e_pil:5.1f}x {cos:10.5f}", flush=True)


if __name__ == "__main__":
    main()
