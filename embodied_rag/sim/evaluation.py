"""Scoring a memory built from a simulated tour against the building's ground truth: object instances (precision,
recall), find questions (success on the right floor, goal-to-object distance, goals inside geometry), per category.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from embodied_rag.api import Models, ingest_frames, write_summaries
from embodied_rag.config import Config
from embodied_rag.memory.memory import Memory
from embodied_rag.retrieval.evaluate import score
from embodied_rag.retrieval.retriever import Retriever
from embodied_rag.sim.building import FLOOR_HEIGHT_M, Building, generate_building
from embodied_rag.sim.detector import SensorFaults
from embodied_rag.sim.find_queries import make_find_queries
from embodied_rag.sim.kind_queries import make_kind_queries
from embodied_rag.sim.record import ingest_config
from embodied_rag.sim.tour import Tour

MATCH_RADIUS_M = 1.5  # an instance within this of a true object of its class (same floor) is that object


def association(building: Building, tour: Tour, memory: Memory, min_views: int = 2) -> dict[str, float]:
    """Precision: confirmed instances that are a seen object of their label (nearest unmatched one within
    MATCH_RADIUS_M on the same floor); recall: objects the tour saw in at least ``min_views`` frames that an instance
    stands for."""
    floor_of = {r.id: r.floor for r in building.rooms}
    gt = [o for o in building.objects if len(tour.seen.get(o.id, ())) >= min_views]
    anywhere = {o.id for o in building.objects if o.id in tour.seen}
    pairs = []
    conf = memory.objects.confirmed()
    for inst in conf:
        floor = round((inst.level_z - memory.floors.levels[0]) / FLOOR_HEIGHT_M) if len(memory.floors) else 0
        for o in building.objects:
            if o.id in anywhere and o.cls == inst.label and floor_of[o.room] == floor:
                d = math.dist(o.position[:2], inst.position[:2])
                if d <= MATCH_RADIUS_M:
                    pairs.append((d, inst.id, o.id))
    pairs.sort()
    used_i, used_o = set(), set()
    for _d, i, o in pairs:
        if i not in used_i and o not in used_o:
            used_i.add(i)
            used_o.add(o)
    recall = sum(o.id in used_o for o in gt) / max(1, len(gt))
    return {"instances": len(conf), "objects": len(gt), "precision": len(used_i) / max(1, len(conf)),
            "recall": recall}


def inside_geometry(building: Building, position: tuple[float, float, float]) -> str:
    """What a goal (on its floor) lies inside: a wall, fixture or object that stands on the floor ("" if none)."""
    x, y, z = position
    floor = min(range(building.floors), key=lambda f: abs(f * FLOOR_HEIGHT_M - z))
    fz = floor * FLOOR_HEIGHT_M
    for p in building.parts:
        x0, y0, z0, x1, y1, z1 = p.bounds
        if p.surface in ("floor", "ceiling") or z1 < fz + 0.05 or z0 > fz + 1.0:
            continue  # floors, ceilings and things above a robot (wall-mounted) or on another floor
        if p.surface == "object" and z1 - z0 < 0.03:
            continue  # rugs lie flat on the floor
        if x0 <= x <= x1 and y0 <= y <= y1:
            return building.objects[p.obj].cls if p.obj >= 0 else p.surface
    return ""


def build_sim_memory(directory: Path, building: Building, config: Config, text, faults: SensorFaults,
                     fps: float = 2.0, width: int = 160, height: int = 120, seed: int = 0) -> tuple[Memory, Tour,
                                                                                                    dict[str, float]]:
    """A memory (left open) of the robot's rendered tour of ``building``, through the same ingest as ``build``."""
    tour = Tour(building, fps=fps, render=True, width=width, height=height, faults=faults, sensor_seed=seed)
    cfg = dataclasses.replace(config, ingest=ingest_config())
    memory = Memory(directory, cfg)
    memory.begin_session(building.name)
    t0 = time.perf_counter()
    models = Models(text=text)
    ingested = ingest_frames(memory, tour, models)
    write_summaries(memory, models)
    stats = {"seconds": time.perf_counter() - t0, "keyframes": len(memory.keyframes),
             "observations": ingested.observations}
    return memory, tour, stats


def evaluate_building(seed: int, floors: int, rooms: int, text, pool: str = "test", faults: SensorFaults | None = None,
                      modes: tuple[str, ...] = ("beam", "flat"), config: Config | None = None,
                      per_category: int = 12, finds: bool = True, kinds: bool = False) -> dict[str, Any]:
    """Build a memory of one simulated building and score questions from ``pool`` in each mode: find questions
    (``finds``) and questions of the typed kinds (``kinds``: time, duration, count, yes/no, position, room)."""
    config = config or Config()
    building = generate_building(seed=seed, floors=floors, rooms_per_floor=rooms)
    with tempfile.TemporaryDirectory(prefix="embodied_rag_eval_") as tmp:
        memory, tour, stats = build_sim_memory(Path(tmp) / "memory", building, config, text,
                                               faults or SensorFaults(), seed=seed)
        try:
            queries = make_find_queries(building, tour, pool=pool, seed=seed, per_category=per_category) if finds \
                else []
            if kinds:
                queries += make_kind_queries(building, tour, pool=pool, seed=seed, per_category=per_category)
            retriever = Retriever(memory, text)
            rows = []
            for mode in modes:
                for q in queries:
                    ans = retriever.ask(q["query"], mode=mode, robot_position=q.get("from"))
                    ok, detail = score(q, ans)
                    inside = inside_geometry(building, ans.goal.position) if ans.goal is not None else ""
                    rows.append({"mode": mode, "category": q["category"], "query": q["query"], "ok": ok,
                                 "distance_m": detail.get("distance_m"), "inside": inside,
                                 "latency_ms": ans.latency_ms, "answer": ans.answer, "error": detail.get("error"),
                                 "detail": detail, "asked_as": ans.kind,
                                 "expect": {k: v for k, v in q.items() if k.startswith("expect")}})
            assoc = association(building, tour, memory)
        finally:
            memory.close()
    return {"building": building.name, "seed": seed, "floors": floors, "rooms": rooms, "build": stats,
            "association": assoc, "rows": rows}


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Success per mode and category, median goal-to-target distance, goals inside geometry, association."""
    by: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in results:
        for row in r["rows"]:
            by[(row["mode"], row["category"])].append(row)
            by[(row["mode"], "all")].append(row)
    table = {}
    for (mode, cat), rows in sorted(by.items()):
        dists = [row["distance_m"] for row in rows if row["distance_m"] is not None]
        table[f"{mode}/{cat}"] = {"ok": sum(row["ok"] for row in rows), "n": len(rows),
                                  "median_distance_m": round(statistics.median(dists), 2) if dists else None,
                                  "inside_geometry": sum(bool(row["inside"]) for row in rows)}
    assoc = [r["association"] for r in results]
    return {"table": table,
            "precision": float(np.mean([a["precision"] for a in assoc])) if assoc else None,
            "recall": float(np.mean([a["recall"] for a in assoc])) if assoc else None}
