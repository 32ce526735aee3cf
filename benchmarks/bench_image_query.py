"""Query by image: top-1 place accuracy on re-shot photos of the shared data sets, and latency at 10k keyframes.

Accuracy: each data set is built into a fresh memory (as ``embodied-rag build`` does); every frame is re-shot with
each distortion of ``embodied_rag/retrieval/reshoot.py`` (crop, rotation, exposure, blur, jpeg, scale, noise,
perspective, and combo = two or three of them) for each seed, and asked with ``ask(image=...)``. A hit is an answer
whose goal lies within 2 m (ground plane) of the frame's camera on coex_lobby, or whose keyframe is at the same
viewpoint on preqa_house. Printed beside it: the baseline, top-1 of the global descriptor alone (VLAD, no geometric
verification), and the share of photos recognised at all (a goal was given).

Latency: a synthetic memory of ``--size`` keyframes: coex_lobby's 50 real keyframes plus distractors made from
preqa_house's 96 images (each feature set replicated with 80 % of its features kept, keypoints jittered by 2 px and
5 % of descriptor bits flipped, so no two are identical), indexed like any memory; then re-shot coex_lobby photos are
asked. Prints p50/p95 of the whole ask (decode excluded: the photo is given as an array) and of the baseline.

    .venv/bin/python benchmarks/bench_image_query.py [--seeds 0,1] [--size 10000] [--skip-accuracy]
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from embodied_rag.api import Models, build_memory, open_memory
from embodied_rag.config import Config
from embodied_rag.io.images import read_image_file
from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.local_features import LocalFeatures
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.pose import Pose
from embodied_rag.retrieval.reshoot import NAMES, reshoot_seeded

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


def frames(folder: Path) -> list[tuple[str, tuple[float, float, float]]]:
    """(image name as in rgb.txt, camera position) per frame."""
    names = [ln.split()[1] for ln in (folder / "rgb.txt").read_text().splitlines() if ln.strip() and ln[0] != "#"]
    poses = [tuple(float(v) for v in ln.split()[1:4]) for ln in (folder / "groundtruth.txt").read_text().splitlines()
             if ln.strip() and ln[0] != "#"]
    return list(zip(names, poses))


def hit(dataset: str, kf: Keyframe | None, goal, truth_name: str, truth_pos) -> bool:
    if kf is None:
        return False
    if dataset == "coex_lobby":
        p = goal.position if goal is not None else kf.pose.position
        return math.hypot(p[0] - truth_pos[0], p[1] - truth_pos[1]) <= 2.0
    return Path(kf.source).name.split("-")[0] == Path(truth_name).name.split("-")[0]


def accuracy(dataset: str, seeds: list[int], models: Models, workdir: Path,
             distortions: tuple[str, ...] = NAMES) -> dict[str, dict[str, float]]:
    folder = DATASETS / dataset
    out = workdir / dataset
    build_memory(folder, out, Config(), models=models, progress=False)
    rows: dict[str, dict[str, float]] = {}
    with open_memory(out, Config(), models=models) as mem:
        by_source = {kf.source: kf for kf in mem.memory.keyframes.values()}
        recognizer = mem._recognizer(progress=False)
        vlad = recognizer.shortlisters[0]
        for distortion in distortions:
            ours = base = given = n = 0
            for seed in seeds:
                for i, (name, pos) in enumerate(frames(folder)):
                    photo = reshoot_seeded(read_image_file(str(folder / name)), distortion, seed, i)
                    answer = mem.ask("", image=photo)
                    kf = mem.memory.keyframes.get(int(answer.evidence[0][3:])) if answer.goal else None
                    ours += hit(dataset, kf, answer.goal, name, pos)
                    given += answer.goal is not None
                    top = vlad.shortlist(photo, recognizer.index.extractor.extract(photo), 1)
                    base += hit(dataset, mem.memory.keyframes[top[0][0]] if top else None, None, name, pos)
                    n += 1
            assert by_source
            rows[distortion] = {"top1": ours / n, "baseline_vlad_only": base / n, "recognised": given / n, "n": n}
            print(f"  {dataset:<12} {distortion:<12} top-1 {ours / n:6.1%}   baseline {base / n:6.1%}   "
                  f"recognised {given / n:6.1%}   ({n} photos)", flush=True)
    return rows


def jitter(feats: LocalFeatures, rng: np.random.Generator) -> LocalFeatures:
    keep = rng.random(len(feats)) < 0.8
    pts = feats.points[keep] + rng.normal(0.0, 2.0, size=(int(keep.sum()), 2)).astype(np.float32)
    bits = np.unpackbits(feats.descriptors[keep], axis=1)
    bits ^= (rng.random(bits.shape) < 0.05).astype(np.uint8)
    return LocalFeatures(pts, np.packbits(bits, axis=1), feats.size)


def latency(size: int, seeds: list[int], models: Models, workdir: Path, queries: int) -> None:
    coex, preqa = DATASETS / "coex_lobby", DATASETS / "preqa_house"
    out = workdir / "big"
    build_memory(coex, out, Config(), models=models, progress=False)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    with Memory(out, Config()) as mem:
        extractor = mem.places.extractor
        sources = [extractor.extract(read_image_file(str(preqa / name))) for name, _ in frames(preqa)]
        next_id = mem.next_id()
        n_extra = size - len(mem.keyframes)
        emb = np.ones(models.text.dim, np.float32) / math.sqrt(models.text.dim)
        with mem.store.transaction():
            for j in range(n_extra):
                kid = next_id + j
                x, y = rng.uniform(-500, 500, size=2)
                kf = Keyframe(kid, mem.session or 1, 10**18 + kid, Pose((float(x), float(y), 0.0), (0, 0, 0, 1)),
                              image=f"images/synthetic_{kid}.jpg", source=f"synthetic/{kid}", text_embedding=emb)
                mem.store.insert_keyframe(kf)
                mem.store.save_place_features(kid, jitter(sources[j % len(sources)], rng))
    print(f"  synthetic memory: {size} keyframes ({size - n_extra} real coex_lobby, {n_extra} distractors from "
          f"preqa_house features) written in {time.perf_counter() - t0:.0f} s", flush=True)
    t0 = time.perf_counter()
    with Memory(out, Config(), writable=False) as mem:
        mem.place_index(progress=True)  # retrains the vocabulary (the memory grew) and indexes every keyframe
    print(f"  place index of {size} keyframes built in {time.perf_counter() - t0:.0f} s", flush=True)
    with open_memory(out, Config(), models=models) as mem:
        recognizer = mem._recognizer(progress=False)
        vlad = recognizer.shortlisters[0]
        names = frames(coex)
        photos = []
        for q in range(queries):
            name, pos = names[q % len(names)]
            distortion = NAMES[q % len(NAMES)]
            photos.append((reshoot_seeded(read_image_file(str(coex / name)), distortion, seeds[0], q), name, pos))
        mem.ask("", image=photos[0][0])  # warm up
        ours, base, hits, base_hits = [], [], 0, 0
        for photo, name, pos in photos:
            t = time.perf_counter()
            answer = mem.ask("", image=photo)
            ours.append((time.perf_counter() - t) * 1000)
            kf = mem.memory.keyframes.get(int(answer.evidence[0][3:])) if answer.goal else None
            hits += hit("coex_lobby", kf, answer.goal, name, pos)
            t = time.perf_counter()
            top = vlad.shortlist(photo, recognizer.index.extractor.extract(photo), 1)
            base.append((time.perf_counter() - t) * 1000)
            base_hits += hit("coex_lobby", mem.memory.keyframes[top[0][0]] if top else None, None, name, pos)
    p = np.percentile
    print(f"  {size} keyframes, {queries} re-shot coex_lobby photos (all distortions):")
    print(f"    VLAD shortlist + RANSAC (ours): p50 {p(ours, 50):6.1f} ms  p95 {p(ours, 95):6.1f} ms  "
          f"top-1 {hits / queries:.1%}")
    print(f"    baseline, VLAD only (brute force): p50 {p(base, 50):6.1f} ms  p95 {p(base, 95):6.1f} ms  "
          f"top-1 {base_hits / queries:.1%}")
    with open("/proc/loadavg") as f:
        print(f"    load average during the run: {f.read().split()[0]} (2 cores; other processes share them)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1", help="re-shoot seeds (default 0,1)")
    ap.add_argument("--datasets", default="coex_lobby,preqa_house")
    ap.add_argument("--distortions", default=",".join(NAMES), help=f"default: all of {', '.join(NAMES)}")
    ap.add_argument("--size", type=int, default=10_000, help="keyframes of the latency memory (default 10000)")
    ap.add_argument("--queries", type=int, default=200, help="photos asked for the latency figures")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not DATASETS.is_dir():
        print(f"shared data sets not found at {DATASETS}", file=sys.stderr)
        return 2
    seeds = [int(s) for s in args.seeds.split(",")]
    models = Models.for_ingest(Config())
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_accuracy:
            print(f"top-1 place on re-shot photos, seeds {seeds}:")
            for dataset in args.datasets.split(","):
                rows = accuracy(dataset, seeds, models, Path(tmp), tuple(args.distortions.split(",")))
                mean = np.mean([r["top1"] for r in rows.values()])
                print(f"  {dataset:<12} {'all':<12} top-1 {mean:6.1%}", flush=True)
        if not args.skip_latency:
            print("latency:")
            latency(args.size, seeds, models, Path(tmp), args.queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
