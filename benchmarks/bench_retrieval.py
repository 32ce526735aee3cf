"""Retrieval and forest benchmarks on synthetic keyframes with a realistic spatial layout (no model calls).

A building of rooms along corridors on several floors; the robot tours it, a keyframe every ~0.7 m; each room type
has its own caption topic (unit vectors in 384-d with noise), so embeddings cluster by room type and place.

Per size N, with ``--insert-tail`` T (default 1000) more keyframes, N + T in all:

- the forest of the first N keyframes: built one insert at a time when N <= ``--incremental-max`` (default
  100,000), else by a full rebuild (a fully incremental build of a million keyframes takes longer than the rest of
  the run); then the T next keyframes (new rooms on the next floors, as a robot exploring) are inserted one by
  one: ``insert ms``/``ins p95`` is the mean/p95 of insert + flush per keyframe, ``rows/kf`` the forest rows the
  flush hands to the store per keyframe (mean and max), ``store ms`` the mean of writing them to SQLite in one
  transaction per keyframe, as ``Memory.add`` does (into a store holding the whole forest; the keyframe rows
  themselves are not written);
- ``RAM/kf``: bytes per keyframe of the leaf index and the forest beyond the 384-d float32 embedding itself,
  from the process RSS before the leaf index was created and after the inserts (after garbage collection and
  ``malloc_trim``, so freed rebuild temporaries are not counted);
- retrieval latency p50/p95 of beam and flat search (query embedding excluded; a fresh retriever, so the beam's
  per-area matrices start uncached; all beam queries, then all flat ones) and, as forest quality, beam
  ``ok`` (the best keyframe has the asked room type) and ``rec@5`` (share of flat search's exact top 5 that the
  beam also returns): for that incremental forest, and for a full rebuild over the same N + T keyframes with the
  same queries (``rebuilt ok``/``rebuilt rec``); ``rebuild s`` is that rebuild's time.

The last lines repeat the paper-scale check: 3,313 leaves built fully incrementally vs rebuilt.

    .venv/bin/python benchmarks/bench_retrieval.py [--sizes 1000,10000,100000,1000000] [--queries 200]

A million keyframes need about 6 GB of RAM here (the embeddings twice: the layout and the leaf index). On a machine
shared with other CPU-heavy work, OpenBLAS threads that wait for busy cores can make small matrix products many times
slower; ``OPENBLAS_NUM_THREADS=1`` avoids that (the header line says what was set).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import platform
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from embodied_rag.config import Config
from embodied_rag.memory.forest import SemanticForest
from embodied_rag.memory.leaves import LeafIndex
from embodied_rag.memory.store import MemoryStore

DIM = 384
ROOM_TYPES = 40
PER_ROOM = 12


class FakeMemory:
    """The parts of Memory the retriever's search touches (leaves and forest), without a store."""

    def __init__(self, config: Config, leaves: LeafIndex, forest: SemanticForest):
        self.config, self.leaves, self.forest = config, leaves, forest

    def nearest_keyframes(self, q, k, robot=None) -> None:
        return None  # no database server: the retriever ranks the leaves in RAM


def layout(n: int, seed: int = 0):
    """Positions along a tour of rooms (6 m x 6 m) off corridors, 50 rooms per floor; room-type topics."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(ROOM_TYPES, DIM))
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    rooms = (n + PER_ROOM - 1) // PER_ROOM
    room_type = rng.integers(0, ROOM_TYPES, size=rooms)
    room_of = np.arange(n) // PER_ROOM
    floor, idx = np.divmod(room_of, 50)
    pos = np.stack([(idx % 25) * 8.0 + rng.uniform(0, 6, n), (idx // 25) * 14.0 + rng.uniform(0, 6, n),
                    floor * 4.0], axis=1)
    emb = np.empty((n, DIM), dtype=np.float32)
    for a in range(0, n, 65536):  # in chunks: a million rows of float64 noise would be 3 GB at once
        b = min(a + 65536, n)
        # Noise of norm ~0.8: views of the same room type have cosine ~0.6, as captions of one room do.
        e = topics[room_type[room_of[a:b]]] + 0.8 * rng.normal(size=(b - a, DIM)) / np.sqrt(DIM)
        emb[a:b] = e / np.linalg.norm(e, axis=1, keepdims=True)
    return pos, emb, room_of, room_type, topics


def percentile_ms(samples: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(samples) * 1000.0, p))


def rss_bytes() -> int:
    """Resident memory of this process after returning freed heap to the system (Linux)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def queries(n: int, topics: np.ndarray, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    qtypes = rng.integers(0, ROOM_TYPES, size=n)
    q = topics[qtypes] + 1.0 * rng.normal(size=(n, DIM)) / np.sqrt(DIM)
    return qtypes, (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def search_quality(cfg: Config, leaves: LeafIndex, forest: SemanticForest, qtypes: np.ndarray, qs: np.ndarray,
                   room_type: np.ndarray, room_of: np.ndarray) -> dict:
    """Beam and flat latency, beam success (room type of the best keyframe) and recall of flat's top 5."""
    from embodied_rag.retrieval.retriever import Retriever

    retriever = Retriever.__new__(Retriever)
    Retriever.__init__(retriever, FakeMemory(cfg, leaves, forest), None, None, cfg.retrieval)  # type: ignore[arg-type]
    lat: dict[str, list[float]] = {"beam": [], "flat": []}
    ok = {"beam": 0, "flat": 0}
    found: dict[str, list[list[int]]] = {"beam": [], "flat": []}
    # One pass per mode, as a query node serves one: flat's full scans would otherwise evict the beam's working set.
    for mode in ("beam", "flat"):
        for t, q in zip(qtypes, qs):
            t0 = time.perf_counter()
            cands = retriever.search(q, mode)
            lat[mode].append(time.perf_counter() - t0)
            found[mode].append([k for k, _ in cands.leaves])
            ok[mode] += int(room_type[room_of[found[mode][-1][0] - 1]] == t)
    recall = sum(len(set(f[:5]) & set(b)) / len(f[:5]) for f, b in zip(found["flat"], found["beam"]))
    return {**{f"{m}_p50_ms": percentile_ms(v, 50) for m, v in lat.items()},
            **{f"{m}_p95_ms": percentile_ms(v, 95) for m, v in lat.items()},
            **{f"{m}_ok": ok[m] / len(qs) for m in ok}, "recall5": recall / len(qs)}


def bench_size(n: int, n_queries: int, tail: int, incremental_max: int) -> dict:
    cfg = Config()
    total = n + tail
    pos, emb, room_of, room_type, topics = layout(total)
    ids = np.arange(1, total + 1)
    before = rss_bytes()
    leaves = LeafIndex(DIM, capacity=total)
    forest = SemanticForest(cfg.forest, leaves)
    t0 = time.perf_counter()
    if n <= incremental_max:
        for i in range(n):
            leaves.add(i + 1, pos[i], emb[i])
            forest.insert(i + 1)
        build_how = "incremental"
    else:
        leaves.extend(ids[:n], pos[:n], emb[:n])
        forest.rebuild()
        build_how = "rebuild"
    build_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryStore(Path(tmp) / "m")
        with store.transaction():
            store.save_forest(*forest.flush(), replace_all=True)
        t_ins, t_store, rows = [], [], []
        for i in range(n, total):
            t0 = time.perf_counter()
            leaves.add(i + 1, pos[i], emb[i])
            forest.insert(i + 1)
            flushed = forest.flush()
            t1 = time.perf_counter()
            with store.transaction():
                store.save_forest(*flushed)
            t_store.append(time.perf_counter() - t1)
            t_ins.append(t1 - t0)
            rows.append(len(flushed[0]))
        store.close()
    ram = (rss_bytes() - before) / total - 4 * DIM
    qtypes, qs = queries(n_queries, topics)
    consistent = not forest.check()
    inc = search_quality(cfg, leaves, forest, qtypes, qs, room_type, room_of)
    levels, areas = forest.depth, len(forest.nodes)
    del forest
    rebuilt = SemanticForest(cfg.forest, leaves)
    t0 = time.perf_counter()
    rebuilt.rebuild()
    rebuild_s = time.perf_counter() - t0
    reb = search_quality(cfg, leaves, rebuilt, qtypes, qs, room_type, room_of)
    return {
        "keyframes": total, "forest_build": build_how, "build_s": build_s, "levels": levels, "areas": areas,
        "insert_ms_mean": float(np.mean(t_ins) * 1000), "insert_ms_p95": percentile_ms(t_ins, 95),
        "rows_mean": float(np.mean(rows)), "rows_max": int(np.max(rows)),
        "store_ms_mean": float(np.mean(t_store)) * 1000,
        "ram_per_kf": ram, "rebuild_s": rebuild_s, "rebuilt_areas": len(rebuilt.nodes), "consistent": consistent,
        **inc, "rebuilt_ok": reb["beam_ok"], "rebuilt_recall5": reb["recall5"],
    }


def bench_rebuild(n: int = 3313) -> dict:
    """Full rebuild time, and find quality of incremental vs rebuilt forest on the same leaves and queries."""
    cfg = Config()
    pos, emb, room_of, room_type, topics = layout(n, seed=3)
    out = {}
    qtypes, qs = queries(300, topics, seed=7)
    for how in ("incremental", "rebuild"):
        leaves = LeafIndex(DIM, capacity=n)
        forest = SemanticForest(cfg.forest, leaves)
        t0 = time.perf_counter()
        for i in range(n):
            leaves.add(i + 1, pos[i], emb[i])
            if how == "incremental":
                forest.insert(i + 1)
        if how == "rebuild":
            forest.rebuild()
        out[f"{how}_s"] = time.perf_counter() - t0
        q = search_quality(cfg, leaves, forest, qtypes, qs, room_type, room_of)
        out[f"{how}_beam_success"], out[f"{how}_recall5"] = q["beam_ok"], q["recall5"]
        out[f"{how}_levels"] = forest.depth
        out[f"{how}_areas"] = len(forest.nodes)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--insert-tail", type=int, default=1000, help="inserts timed at each size")
    ap.add_argument("--incremental-max", type=int, default=100000,
                    help="largest size whose forest is built one insert at a time (above: rebuilt, then the tail)")
    args = ap.parse_args()
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 2**20
    print(f"machine: {os.cpu_count()} cores, {mem_gib:.0f} GiB, {platform.processor() or platform.machine()}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; SQLite {sqlite3.sqlite_version}")
    print("retrieval without LLM, query embedding excluded (synthetic building, 384-d embeddings)")
    print(f"{'keyframes':>9} {'forest':>11} {'build s':>7} {'levels':>6} {'areas':>6} {'insert ms':>9} "
          f"{'ins p95':>7} {'rows/kf':>7} {'store ms':>8} {'RAM/kf':>7} {'beam p50':>8} {'beam p95':>8} "
          f"{'flat p50':>8} {'beam ok':>7} {'rec@5':>5} {'rebuild s':>9} {'rebuilt ok':>10} {'rebuilt rec':>11}")
    for n in [int(s) for s in args.sizes.split(",")]:
        r = bench_size(n, args.queries, args.insert_tail, args.incremental_max)
        print(f"{r['keyframes']:>9} {r['forest_build']:>11} {r['build_s']:>7.1f} {r['levels']:>6} {r['areas']:>6} "
              f"{r['insert_ms_mean']:>9.2f} {r['insert_ms_p95']:>7.2f} {r['rows_mean']:>4.1f}/{r['rows_max']:<2} "
              f"{r['store_ms_mean']:>8.2f} {r['ram_per_kf']:>7.0f} {r['beam_p50_ms']:>8.2f} {r['beam_p95_ms']:>8.2f} "
              f"{r['flat_p50_ms']:>8.2f} {r['beam_ok']:>7.0%} {r['recall5']:>5.0%} {r['rebuild_s']:>9.1f} "
              f"{r['rebuilt_ok']:>10.0%} {r['rebuilt_recall5']:>11.0%}"
              f"{'' if r['consistent'] else '  (forest check FAILED)'}", flush=True)
    r = bench_rebuild()
    print(f"3313 leaves: full rebuild {r['rebuild_s']:.2f} s ({r['rebuild_levels']} levels, {r['rebuild_areas']} "
          f"areas); incremental build {r['incremental_s']:.2f} s ({r['incremental_levels']} levels, "
          f"{r['incremental_areas']} areas)")
    print(f"find success (beam, 300 synthetic queries): incremental {r['incremental_beam_success']:.0%}, "
          f"rebuild {r['rebuild_beam_success']:.0%}; recall of flat top 5: incremental {r['incremental_recall5']:.0%}, "
          f"rebuild {r['rebuild_recall5']:.0%}")


if __name__ == "__main__":
    main()
