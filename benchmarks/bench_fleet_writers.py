"""Several robots writing one PostgreSQL memory at once: keyframes committed per second in total.

Each writer is its own process (``Memory(url)``, its own session and robot) and commits keyframes as ``build``
does (a 384-d text embedding, a 160x120 JPEG, one transaction each: catch up with the others, insert, forest and
objects); embeddings are random, so this measures the store and the forest, not a model. Prints one JSON line.

    python benchmarks/bench_fleet_writers.py postgresql://postgres@127.0.0.1:5432/bench --writers 3 --keyframes 200
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time


def _writer(url: str, robot: int, n: int, start, out) -> None:
    import numpy as np

    from embodied_rag.config import Config
    from embodied_rag.memory.keyframe import Keyframe
    from embodied_rag.memory.memory import Memory
    from embodied_rag.memory.pose import Pose

    rng = np.random.default_rng(robot)
    cfg = Config()
    cfg.places.enabled = False
    with Memory(url, cfg) as m:
        m.begin_session(f"bench-{robot}", robot=f"robot{robot}")
        embs = rng.normal(size=(n, 384)).astype(np.float32)
        embs /= np.linalg.norm(embs, axis=1, keepdims=True)
        images = rng.integers(0, 255, size=(8, 120, 160, 3), dtype=np.uint8)
        start.wait()
        t0 = time.perf_counter()
        for i in range(n):
            kf = Keyframe(id=0, session=0, stamp_ns=(i + 1) * 10**9,
                          pose=Pose((0.5 * i, 6.0 * robot + 0.3 * np.sin(i), 0.0)), caption=f"robot {robot} view {i}",
                          objects=[], source=f"r{robot}/{i}", text_embedding=embs[i])
            m.add(kf, images[i % len(images)])
        out.put((robot, n, time.perf_counter() - t0, m.forest.check()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("--writers", type=int, default=3)
    ap.add_argument("--keyframes", type=int, default=200, help="per writer")
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(args.writers + 1), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(args.url, r, args.keyframes, start, out)) for r in range(args.writers)]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    results = [out.get() for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    total = sum(r[1] for r in results)
    print(json.dumps({"writers": args.writers, "keyframes": total, "wall_s": round(wall, 2),
                      "keyframes_per_s": round(total / wall, 1),
                      "per_writer_per_s": [round(r[1] / r[2], 1) for r in sorted(results)],
                      "forest_problems": sum(len(r[3]) for r in results)}))


if __name__ == "__main__":
    main()
