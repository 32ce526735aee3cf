"""Ingest throughput: frames/s through the keyframe policy and the store (model time shown separately), and bytes
of RAM and disk per keyframe. The baseline in the same run is the store alone (JPEG + SQLite row per frame).

A synthetic 30 Hz camera (640x480) on a robot walking at 1 m/s through rooms; captions come with the frames
(as from an external captioner), text embeddings from the packaged all-MiniLM-L6-v2.

    .venv/bin/python benchmarks/bench_ingest.py [--frames 3000]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import psutil

from embodied_rag.config import Config
from embodied_rag.io.frame import Frame, SkipLog
from embodied_rag.memory.ingest import Ingestor
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.pose import Pose, yaw_quaternion
from embodied_rag.models.registry import create_text_embedder

ROOM_CAPTIONS = [
    "A kitchen with a fridge, a sink and a microwave on the counter.",
    "An office with desks, monitors and office chairs.",
    "A lobby with a vending machine, sofas and a reception desk.",
    "A corridor with doors on both sides and a fire extinguisher.",
    "A bathroom with a toilet, a sink and a mirror.",
]


def stream(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    # Smooth images with some structure compress like camera frames do (pure noise would not).
    pool = []
    for _ in range(8):
        img = cv2.resize((rng.random((12, 16, 3)) * 255).astype(np.uint8), (640, 480), interpolation=cv2.INTER_CUBIC)
        for _ in range(6):
            x0, y0 = int(rng.integers(0, 560)), int(rng.integers(0, 400))
            cv2.rectangle(img, (x0, y0), (x0 + 80, y0 + 80), [int(c) for c in rng.integers(0, 255, 3)], -1)
        pool.append(img)
    for i in range(n):
        t = i / 30.0
        x, y = t * 1.0, 2.0 * math.sin(t / 10.0)
        room = int(x // 15) % len(ROOM_CAPTIONS)
        pose = Pose((x, y, 1.2), yaw_quaternion(0.2 * math.sin(t / 5.0)))
        yield Frame(int(t * 1e9), pose, pool[i % len(pool)], ROOM_CAPTIONS[room] + f" Area {int(x // 15)}.",
                    source=f"frame{i}")


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=9000)
    args = ap.parse_args()
    cfg = Config()
    proc = psutil.Process()
    embedder = create_text_embedder(cfg.models.text_embedder)
    embedder.embed_documents(["warm up"])
    tmp = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        # Baseline: every frame straight into the store (no policy, no forest, no model).
        frames = list(stream(min(args.frames, 600)))
        with Memory(tmp / "baseline", cfg) as mem:
            mem.begin_session("baseline")
            t0 = time.perf_counter()
            for i, f in enumerate(frames):
                with mem.store.transaction():
                    mem.store.write_image(i + 1, f.image, cfg.store.image_max_side, cfg.store.jpeg_quality)
            base_fps = len(frames) / (time.perf_counter() - t0)

        rss0 = proc.memory_info().rss
        with Memory(tmp / "memory", cfg) as mem:
            mem.begin_session("bench")
            ingest = Ingestor(mem, embedder, skips=SkipLog())
            t0 = time.perf_counter()
            for f in stream(args.frames):
                ingest.offer(f)
            ingest.finish()
            wall = time.perf_counter() - t0
            kfs = ingest.stats.keyframes
            rss1 = proc.memory_info().rss
        disk = dir_bytes(tmp / "memory")
        sec = ingest.stats.seconds
        model = sec.get("text_embedding", 0.0) + sec.get("caption", 0.0) + sec.get("image_embedding", 0.0)
        non_model = wall - model
        print(f"{args.frames} frames (30 Hz, 640x480) -> {kfs} keyframes "
              f"({ingest.stats.dropped_by_policy} dropped by the keyframe policy)")
        print(f"  wall {wall:.2f} s: model {model:.2f} s (text embedding), everything else {non_model:.2f} s")
        print(f"  throughput without model time: {args.frames / non_model:,.0f} frames/s "
              f"(policy {sec['policy'] * 1e6 / args.frames:.1f} us/frame; store+graph+forest "
              f"{sec['store_and_forest'] * 1e3 / max(kfs, 1):.2f} ms/keyframe)")
        print(f"  throughput with model time: {args.frames / wall:,.0f} frames/s")
        print(f"  baseline (store every frame, no policy): {base_fps:,.0f} frames/s")
        print(f"  RAM per keyframe: {(rss1 - rss0) / max(kfs, 1):,.0f} bytes (RSS growth)")
        print(f"  disk per keyframe: {disk / max(kfs, 1):,.0f} bytes (memory.sqlite + JPEG at max side "
              f"{cfg.store.image_max_side})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.sync()


if __name__ == "__main__":
    main()
