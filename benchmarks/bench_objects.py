"""The object layer, measured: find questions on simulated buildings (held-out phrasings and seeds, detector and
depth faults off and on) beside the keyframe-only baseline (objects disabled), instance association against the
ground truth, and the cost of incremental fusion at 100k keyframes.

    .venv/bin/python benchmarks/bench_objects.py                      # everything (about 15 min on 2 cores)
    .venv/bin/python benchmarks/bench_objects.py --seeds 201,202 --skip-scale
    .venv/bin/python benchmarks/bench_objects.py --only-scale --keyframes 100000

Buildings: seed s has 1 + s % 3 floors and 8 + 2 * ((s // 3) % 7) rooms per floor. Questions come from the
``test`` pool of :mod:`embodied_rag.sim.find_queries` unless ``--pool dev``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from embodied_rag.config import Config, ObjectsConfig
from embodied_rag.memory.objects import DEPTH, ObjectMap, Observation
from embodied_rag.memory.store import MemoryStore
from embodied_rag.models import registry
from embodied_rag.sim.detector import SensorFaults
from embodied_rag.sim.evaluation import evaluate_building, summarise

CATEGORIES = ("object", "colour", "purpose", "nearest", "floor", "recent", "all")


def quality(seeds: list[int], pool: str, per_category: int) -> dict:
    text = registry.create_text_embedder(Config().models.text_embedder)
    runs = {
        "objects, perfect sensors": (Config(), SensorFaults()),
        "objects, faulty sensors": (Config(), SensorFaults.realistic()),
        "keyframes only (baseline), faulty sensors": (
            dataclasses.replace(Config(), objects=ObjectsConfig(enabled=False)), SensorFaults.realistic()),
    }
    out = {}
    for name, (config, faults) in runs.items():
        results = []
        for s in seeds:
            floors, rooms = 1 + s % 3, 8 + 2 * ((s // 3) % 7)
            t0 = time.perf_counter()
            results.append(evaluate_building(s, floors, rooms, text, pool=pool, faults=faults, config=config,
                                             per_category=per_category))
            print(f"  [{name}] seed {s}: {floors} floor(s) x {rooms} rooms, "
                  f"{results[-1]['build']['keyframes']} keyframes, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        out[name] = summarise(results)
    return out


def print_quality(q: dict) -> None:
    for name, sm in q.items():
        print(f"\n{name}: association precision {sm['precision']:.3f}, recall {sm['recall']:.3f}")
        print(f"  {'mode':<5} " + " ".join(f"{c:>13}" for c in CATEGORIES) + f" {'median m':>9} {'inside':>7}")
        for mode in ("beam", "flat"):
            cells = []
            for c in CATEGORIES:
                t = sm["table"].get(f"{mode}/{c}")
                cells.append(f"{t['ok']:>4}/{t['n']:<3} {t['ok'] / t['n']:>4.0%}" if t else f"{'-':>13}")
            t = sm["table"][f"{mode}/all"]
            print(f"  {mode:<5} " + " ".join(cells) + f" {t['median_distance_m']:>9} {t['inside_geometry']:>7}")


def scale(keyframes: int, per_keyframe: int = 6, seed: int = 0) -> dict:
    """Incremental fusion (association + store write per keyframe) while a robot walks past ``keyframes`` views of
    a long building: objects every ~2 m along a 4 m wide strip, each seen in about 10 keyframes, with noise."""
    rng = np.random.default_rng(seed)
    labels = [f"class {i}" for i in range(40)]
    n_objects = keyframes * per_keyframe // 10
    xs = np.sort(rng.uniform(0, n_objects * 0.35, n_objects))
    ys = rng.uniform(-2, 2, n_objects)
    obj_labels = rng.integers(0, len(labels), n_objects)
    objects = ObjectMap(ObjectsConfig())
    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryStore(Path(tmp) / "m")
        times, store_times = [], []
        for k in range(keyframes):
            x = k * xs[-1] / keyframes
            near = np.searchsorted(xs, [x - 3, x + 3])
            pick = rng.integers(near[0], max(near[0] + 1, near[1]), per_keyframe)
            obs = [Observation(labels[obj_labels[i]], np.array([xs[i], ys[i], 0.8]) + rng.normal(0, 0.1, 3), 0.15,
                               0.3, DEPTH) for i in dict.fromkeys(pick.tolist()) if i < n_objects]
            t0 = time.perf_counter()
            objects.observe(k + 1, k * 10**8, 1.2, obs)
            t1 = time.perf_counter()
            with store.transaction():
                store.save_objects(*objects.flush())
            t2 = time.perf_counter()
            times.append(t1 - t0)
            store_times.append(t2 - t1)
        # What a question pays for the confirmed instances: once after each change of the map, then cached.
        t0 = time.perf_counter()
        confirmed = len(objects.confirmed())
        t1 = time.perf_counter()
        objects.confirmed()
        t2 = time.perf_counter()
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.conn.execute("VACUUM")
        n = store.conn.execute("SELECT COUNT(*) FROM objects").fetchone()[0]
        views = store.conn.execute("SELECT COUNT(*) FROM object_views").fetchone()[0]
        pages = {r[0]: r[1] for r in store.conn.execute(
            "SELECT name, SUM(pgsize) FROM dbstat WHERE name IN ('objects', 'object_views', "
            "'sqlite_autoindex_object_views_1') GROUP BY name")} if _has_dbstat(store) else {}
        size = (Path(tmp) / "m" / "memory.sqlite").stat().st_size
        store.close()
    last = slice(-min(10_000, keyframes), None)
    total = np.array(times) + np.array(store_times)
    return {"keyframes": keyframes, "instances": n, "views": views, "confirmed": confirmed,
            "confirmed_ms_after_a_change": 1000 * (t1 - t0), "confirmed_ms_cached": 1000 * (t2 - t1),
            "fuse_ms_mean_last10k": 1000 * float(np.mean(np.array(times)[last])),
            "fuse_plus_store_ms_mean_last10k": 1000 * float(np.mean(total[last])),
            "fuse_plus_store_ms_p95_last10k": 1000 * float(np.percentile(total[last], 95)),
            "bytes_per_instance_objects_table": (pages.get("objects", 0) / n) if pages else None,
            "bytes_per_instance_with_views": (sum(pages.values()) / n) if pages else size / max(1, n),
            "database_bytes": size}


def _has_dbstat(store: MemoryStore) -> bool:
    try:
        store.conn.execute("SELECT 1 FROM dbstat LIMIT 1")
        return True
    except Exception:  # noqa: BLE001 - sqlite built without the dbstat table
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="201,202,203,204,205,206", help="building seeds (comma-separated)")
    ap.add_argument("--pool", default="test", choices=("dev", "test"), help="phrasing pool")
    ap.add_argument("--per-category", type=int, default=12, help="questions per category and building at most")
    ap.add_argument("--keyframes", type=int, default=100_000, help="keyframes for the fusion-cost run")
    ap.add_argument("--skip-scale", action="store_true", help="no fusion-cost run")
    ap.add_argument("--only-scale", action="store_true", help="only the fusion-cost run")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    report: dict = {}
    if not args.only_scale:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        report["quality"] = quality(seeds, args.pool, args.per_category)
        print(f"\nfind questions ({args.pool} phrasings, seeds {args.seeds}); success = goal within 3 m of a target "
              "on its floor")
        print_quality(report["quality"])
    if not args.skip_scale:
        print(f"\nincremental fusion at {args.keyframes} keyframes ...", file=sys.stderr)
        report["scale"] = s = scale(args.keyframes)
        print(f"\nfusion at {s['keyframes']} keyframes, {s['instances']} instances, {s['views']} views: "
              f"{s['fuse_ms_mean_last10k']:.3f} ms/keyframe fusing, "
              f"{s['fuse_plus_store_ms_mean_last10k']:.3f} ms with the store write "
              f"(p95 {s['fuse_plus_store_ms_p95_last10k']:.3f} ms), last 10k keyframes")
        per = s["bytes_per_instance_objects_table"]
        print(f"store: {per:.0f} B per instance row, " if per else "store: ", end="")
        print(f"{s['bytes_per_instance_with_views']:.0f} B per instance with its views")
        print(f"confirmed instances ({s['confirmed']}): {s['confirmed_ms_after_a_change']:.1f} ms after a change of "
              f"the map, {s['confirmed_ms_cached']:.3f} ms cached")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
