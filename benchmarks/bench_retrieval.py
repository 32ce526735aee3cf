"""Retrieval and forest benchmarks on synthetic keyframes with a realistic spatial layout (no model calls).

A building of rooms along corridors on several floors; the robot tours it, a keyframe every ~0.7 m; each room type
has its own caption topic (unit vectors in 384-d with noise), so embeddings cluster by room type and place.

Prints, per size: retrieval latency p50/p95 (beam and flat, query embedding excluded), incremental insert cost
per keyframe (amortised over the last inserts at that size), full rebuild time for 3,313 leaves, and forest
quality of the incremental forest against a full rebuild (find success on synthetic queries).

    .venv/bin/python benchmarks/bench_retrieval.py [--sizes 1000,10000,100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from embodied_rag.config import Config
from embodied_rag.memory.forest import SemanticForest
from embodied_rag.memory.leaves import LeafIndex

DIM = 384
ROOM_TYPES = 40


class FakeMemory:
    """The parts of Memory the retriever's search touches (leaves and forest), without a store."""

    def __init__(self, config: Config, leaves: LeafIndex, forest: SemanticForest):
        self.config, self.leaves, self.forest = config, leaves, forest


def layout(n: int, seed: int = 0):
    """Positions along a tour of rooms (6 m x 6 m) off corridors, 50 rooms per floor; room-type topics."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(ROOM_TYPES, DIM))
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    per_room = 12
    rooms = (n + per_room - 1) // per_room
    room_type = rng.integers(0, ROOM_TYPES, size=rooms)
    pos = np.zeros((n, 3))
    emb = np.zeros((n, DIM), dtype=np.float32)
    room_of = np.zeros(n, dtype=np.int64)
    for i in range(n):
        r = i // per_room
        floor, idx = divmod(r, 50)
        cx, cy = (idx % 25) * 8.0, (idx // 25) * 14.0
        pos[i] = (cx + rng.uniform(0, 6), cy + rng.uniform(0, 6), floor * 4.0)
        # Noise of norm ~0.8: views of the same room type have cosine ~0.6, as captions of one room do.
        e = topics[room_type[r]] + 0.8 * rng.normal(size=DIM) / np.sqrt(DIM)
        emb[i] = e / np.linalg.norm(e)
        room_of[i] = r
    return pos, emb, room_of, room_type, topics


def percentile_ms(samples: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(samples) * 1000.0, p))


def bench_size(n: int, n_queries: int, insert_tail: int) -> dict:
    from embodied_rag.retrieval.retriever import Retriever

    cfg = Config()
    pos, emb, room_of, room_type, topics = layout(n + insert_tail)
    leaves = LeafIndex(DIM, capacity=n + insert_tail)
    forest = SemanticForest(cfg.forest, leaves)
    t0 = time.perf_counter()
    if n <= 20000:
        for i in range(n):
            leaves.add(i + 1, pos[i], emb[i])
            forest.insert(i + 1, [])
        build_how = "incremental"
    else:
        for i in range(n):
            leaves.add(i + 1, pos[i], emb[i])
        forest.rebuild()
        build_how = "rebuild"
    build_s = time.perf_counter() - t0
    # Insert cost at this size: the next keyframes, one by one, with their spatial neighbours as a node would pass.
    grid = {}
    for i in range(n):
        grid.setdefault((int(pos[i, 0] // 10), int(pos[i, 1] // 10), int(pos[i, 2] // 4)), []).append(i + 1)
    t_ins = []
    for i in range(n, n + insert_tail):
        key = (int(pos[i, 0] // 10), int(pos[i, 1] // 10), int(pos[i, 2] // 4))
        neighbours = grid.get(key, [])[-50:]
        t0 = time.perf_counter()
        leaves.add(i + 1, pos[i], emb[i])
        forest.insert(i + 1, neighbours)
        forest.flush()
        t_ins.append(time.perf_counter() - t0)
        grid.setdefault(key, []).append(i + 1)
    retriever = Retriever.__new__(Retriever)
    Retriever.__init__(retriever, FakeMemory(cfg, leaves, forest), None, None, cfg.retrieval)  # type: ignore[arg-type]
    rng = np.random.default_rng(1)
    qtypes = rng.integers(0, ROOM_TYPES, size=n_queries)
    lat = {"beam": [], "flat": []}
    hits = {"beam": 0, "flat": 0}
    for t in qtypes:
        q = topics[t] + 1.0 * rng.normal(size=DIM) / np.sqrt(DIM)
        q = (q / np.linalg.norm(q)).astype(np.float32)
        for mode in ("beam", "flat"):
            t0 = time.perf_counter()
            cands = retriever.search(q, mode)
            lat[mode].append(time.perf_counter() - t0)
            best = cands.leaves[0][0] - 1
            hits[mode] += int(room_type[room_of[best]] == t)
    return {
        "keyframes": n + insert_tail, "forest_build": build_how, "build_s": build_s,
        "levels": forest.depth, "areas": len(forest.nodes),
        "insert_ms_mean": float(np.mean(t_ins) * 1000), "insert_ms_p95": percentile_ms(t_ins, 95),
        **{f"{m}_p50_ms": percentile_ms(v, 50) for m, v in lat.items()},
        **{f"{m}_p95_ms": percentile_ms(v, 95) for m, v in lat.items()},
        **{f"{m}_success": hits[m] / n_queries for m in hits},
        "consistent": not forest.check() if n <= 20000 else None,
    }


def bench_rebuild(n: int = 3313) -> dict:
    """Full rebuild time, and find quality of incremental vs rebuilt forest on the same leaves and queries."""
    from embodied_rag.retrieval.retriever import Retriever

    cfg = Config()
    pos, emb, room_of, room_type, topics = layout(n, seed=3)
    out = {}
    forests = {}
    for how in ("incremental", "rebuild"):
        leaves = LeafIndex(DIM, capacity=n)
        forest = SemanticForest(cfg.forest, leaves)
        t0 = time.perf_counter()
        for i in range(n):
            leaves.add(i + 1, pos[i], emb[i])
            if how == "incremental":
                forest.insert(i + 1, [])
        if how == "rebuild":
            forest.rebuild()
        out[f"{how}_s"] = time.perf_counter() - t0
        forests[how] = (leaves, forest)
    rng = np.random.default_rng(7)
    for how, (leaves, forest) in forests.items():
        retriever = Retriever.__new__(Retriever)
        Retriever.__init__(retriever, FakeMemory(cfg, leaves, forest), None, None, cfg.retrieval)  # type: ignore
        ok = 0
        for _ in range(300):
            t = int(rng.integers(0, ROOM_TYPES))
            q = topics[t] + 1.0 * rng.normal(size=DIM) / np.sqrt(DIM)
            best = retriever.search((q / np.linalg.norm(q)).astype(np.float32), "beam").leaves[0][0] - 1
            ok += int(room_type[room_of[best]] == t)
        out[f"{how}_beam_success"] = ok / 300
        out[f"{how}_levels"] = forest.depth
        out[f"{how}_areas"] = len(forest.nodes)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--insert-tail", type=int, default=1000, help="inserts timed at each size")
    args = ap.parse_args()
    print("retrieval without LLM, query embedding excluded (synthetic building, 384-d embeddings)")
    print(f"{'keyframes':>9} {'forest':>11} {'build s':>8} {'levels':>6} {'areas':>6} {'insert ms':>9} "
          f"{'ins p95':>8} {'beam p50':>8} {'beam p95':>8} {'flat p50':>8} {'flat p95':>8} {'beam ok':>7} "
          f"{'flat ok':>7}")
    for n in [int(s) for s in args.sizes.split(",")]:
        r = bench_size(n, args.queries, args.insert_tail)
        print(f"{r['keyframes']:>9} {r['forest_build']:>11} {r['build_s']:>8.1f} {r['levels']:>6} {r['areas']:>6} "
              f"{r['insert_ms_mean']:>9.2f} {r['insert_ms_p95']:>8.2f} {r['beam_p50_ms']:>8.2f} "
              f"{r['beam_p95_ms']:>8.2f} {r['flat_p50_ms']:>8.2f} {r['flat_p95_ms']:>8.2f} "
              f"{r['beam_success']:>7.0%} {r['flat_success']:>7.0%}", flush=True)
    r = bench_rebuild()
    print(f"3313 leaves: full rebuild {r['rebuild_s']:.2f} s ({r['rebuild_levels']} levels, {r['rebuild_areas']} "
          f"areas); incremental build {r['incremental_s']:.2f} s ({r['incremental_levels']} levels, "
          f"{r['incremental_areas']} areas)")
    print(f"find success (beam, 300 synthetic queries): incremental {r['incremental_beam_success']:.0%}, "
          f"rebuild {r['rebuild_beam_success']:.0%}")


if __name__ == "__main__":
    main()
