"""``embodied-rag bench``: memories at growing scale from simulated buildings, measured end to end.

For each size: a procedural building, the robot's tour with visible-object labels from a coarse ray cast (no
rendering: render time is excluded), a memory built through the same ingest as ``build`` (keyframe policy, packaged
text embedder, store, incremental forest, summaries), then the generated queries answered in every mode and scored
against the ground truth. Prints build time by stage, keyframes, forest levels, retrieval latency p50/p95 per mode,
LLM calls per query, find/explain success per mode and memory per keyframe.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from embodied_rag.api import Models, ingest_frames, write_summaries
from embodied_rag.config import Config
from embodied_rag.memory.memory import Memory
from embodied_rag.retrieval.evaluate import evaluate
from embodied_rag.retrieval.retriever import MODES, Retriever


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run_size(floors: int, rooms: int, config: Config, text, llm=None, seed: int = 0, fps: float = 4.0,
             modes: tuple[str, ...] = MODES) -> dict:
    from embodied_rag.sim import generate_building, ingest_config, make_queries, robot_tour

    building = generate_building(seed=seed, floors=floors, rooms_per_floor=rooms)
    tour = robot_tour(building, fps=fps, render=False)
    cfg = dataclasses.replace(config, ingest=ingest_config())
    tmp = Path(tempfile.mkdtemp(prefix="embodied_rag_bench_"))
    proc = psutil.Process()
    try:
        rss0 = proc.memory_info().rss
        with Memory(tmp / "memory", cfg) as memory:
            memory.begin_session(building.name)
            t_tour = [0.0]

            def timed_tour():  # the simulator's time is not the memory's
                it = iter(tour)
                while True:
                    t1 = time.perf_counter()
                    frame = next(it, None)
                    t_tour[0] += time.perf_counter() - t1
                    if frame is None:
                        return
                    yield frame

            t0 = time.perf_counter()
            extractive = Models(text=text)  # summaries without an LLM, as a robot writes them online
            stats = ingest_frames(memory, timed_tour(), extractive)
            build_s = time.perf_counter() - t0 - t_tour[0]
            t1 = time.perf_counter()
            write_summaries(memory, extractive)
            summaries_s = time.perf_counter() - t1
            rss1 = proc.memory_info().rss
            queries = make_queries(building, tour.seen)
            retriever = Retriever(memory, text, llm)
            results = evaluate(retriever, queries, list(modes))
            n_kf = len(memory.keyframes)
            levels = memory.forest.depth
        disk = _dir_bytes(tmp / "memory")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sec = stats.seconds
    row = {
        "building": building.name, "floors": floors, "rooms": len(building.rooms), "frames": stats.frames,
        "keyframes": n_kf, "levels": levels, "build_s": build_s, "labels_s": t_tour[0],
        "policy_s": sec.get("policy", 0.0), "embed_s": sec.get("text_embedding", 0.0),
        "store_forest_s": sec.get("store_and_forest", 0.0), "summaries_s": summaries_s,
        "disk_per_kf": disk / max(n_kf, 1), "ram_per_kf": max(rss1 - rss0, 0) / max(n_kf, 1), "modes": {},
    }
    for mode in modes:
        rs = [r for r in results if r.mode == mode]
        lat = np.array([r.latency_ms for r in rs])
        row["modes"][mode] = {
            "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
            "llm_calls": float(np.mean([r.llm_calls for r in rs])),
            **{f"{kind}_success": (sum(r.success for r in rs if r.kind == kind),
                                   sum(1 for r in rs if r.kind == kind)) for kind in ("find", "explain")},
        }
    return row


def print_table(rows: list[dict]) -> None:
    print(f"{'building':<22} {'rooms':>5} {'frames':>7} {'keyfr':>6} {'lvl':>3} {'build s':>8} {'(embed':>7} "
          f"{'store+forest':>12} {'policy)':>7} {'summ s':>6} {'disk/kf':>8} {'RAM/kf':>8}")
    for r in rows:
        print(f"{r['building']:<22} {r['rooms']:>5} {r['frames']:>7} {r['keyframes']:>6} {r['levels']:>3} "
              f"{r['build_s']:>8.1f} {r['embed_s']:>7.1f} {r['store_forest_s']:>12.1f} {r['policy_s']:>7.2f} "
              f"{r['summaries_s']:>6.1f} {r['disk_per_kf'] / 1024:>6.1f}kB {r['ram_per_kf'] / 1024:>6.1f}kB")
    print()
    print(f"{'building':<22} {'mode':<9} {'p50 ms':>7} {'p95 ms':>7} {'LLM/q':>6} {'find':>9} {'explain':>9}")
    for r in rows:
        for mode, m in r["modes"].items():
            f_ok, f_n = m["find_success"]
            e_ok, e_n = m["explain_success"]
            print(f"{r['building']:<22} {mode:<9} {m['p50_ms']:>7.1f} {m['p95_ms']:>7.1f} {m['llm_calls']:>6.2f} "
                  f"{f_ok:>4}/{f_n:<4} {e_ok:>4}/{e_n:<4}")


def run_bench(sizes: list[tuple[int, int]], config: Config, fps: float = 4.0, seed: int = 0) -> list[dict]:
    models = Models.for_queries(config)
    text, llm = models.text, models.llm
    rows = []
    for floors, rooms in sizes:
        print(f"building {floors} floor(s) x {rooms} rooms ...", flush=True)
        rows.append(run_size(floors, rooms, config, text, llm, seed=seed, fps=fps))
    print()
    print("Build time excludes the simulator; latency includes embedding the query; no LLM unless configured.")
    print_table(rows)
    return rows
