"""Questions of every kind about a simulated tour, with ground truth from the simulator: when a thing was seen
(``time``), how long the robot was in a kind of room (``duration``), how many things of a class it saw (``count``),
whether it saw a thing at all (``yes_no``, things it never saw included), where it was at a moment (``position``)
and which room a thing is in (``room``, scored like an explain).

Ground truth: a sighting is a frame in which the object covers at least the renderer's ``min_fraction`` of the
image; counts are of the objects seen in at least two frames (one glimpse is not a thing a robot can claim); time
in a room is the number of frames the robot stood in such a room times the frame interval.

Two disjoint pools of phrasings, ``dev`` and ``test`` (held out), as in :mod:`embodied_rag.sim.find_queries`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from embodied_rag.sim.building import CLASS_COLOURS, Building
from embodied_rag.sim.find_queries import FLOOR_ORDINALS, SYNONYMS
from embodied_rag.sim.queries import ROOM_WORDS
from embodied_rag.sim.tour import NS, Tour

TIME = {
    "dev": [("when did you last see the {c}?", "last"), ("when did you first see a {c}?", "first")],
    "test": [("what time was it when you last saw a {c}?", "last"), ("at what time did you most recently pass the {c}?",
                                                                     "last"),
             ("when was the first time you noticed a {c}?", "first"), ("when did you spot the {c} first?", "first")],
}
DURATION = {
    "dev": ["how long were you in the {t}?", "how much time did you spend in the {t}?"],
    "test": ["for how long did you stay in the {t}?", "how long did you spend inside the {t}?",
             "what was the total time you were in the {t}?"],
}
COUNT = {
    "dev": ["how many {p} did you see?", "how many {p} are there?"],
    "test": ["how many {p} have you come across?", "what's the number of {p} you saw?", "count the {p} you noticed"],
}
COUNT_FLOOR = {"dev": ["how many {p} are on the {o} floor?"], "test": ["how many {p} did you see on floor {n}?"]}
YES_NO = {
    "dev": ["did you see a {c}?", "is there a {c}?"],
    "test": ["have you come across a {c} anywhere?", "was there any {c}?", "did you happen to notice a {c}?",
             "have you seen a {c} today?"],
}
POSITION = {
    "dev": ["where were you at {hms}?", "where was the robot at {hms}?"],
    "test": ["what was your location at {hms}?", "tell me where you were at {hms}", "where were you around {hms}?"],
}
ROOM = {
    "dev": ["which room is the {c} in?", "what kind of room is the {c} in?"],
    "test": ["in which room did you see the {c}?", "what room has the {c}?"],
}
# Room types and other words people use for them (the test pool uses them half the time).
ROOM_SYNONYMS = {"bathroom": ["restroom", "washroom"], "meeting room": ["conference room"], "lab": ["laboratory"],
                 "living room": ["lounge"], "corridor": ["hallway"], "storage room": ["storeroom"]}
# Things no simulated building has: a "no" is the right answer.
NEVER = ["giraffe", "piano", "bicycle", "grand piano", "motorcycle", "surfboard", "snowman", "canoe", "horse",
         "tennis racket", "drum kit", "christmas tree", "aquarium", "pool table", "harp"]


def _plural(c: str) -> str:
    head, _, last = c.rpartition(" ")
    if last.endswith("shelf"):
        word = last[:-1] + "ves"
    else:
        word = last + "es" if last.endswith(("s", "x", "ch", "sh")) else last + "s"
    return f"{head} {word}".strip()


def _hms(stamp_ns: int) -> str:
    return datetime.fromtimestamp(stamp_ns / NS, tz=timezone.utc).strftime("%H:%M:%S")


def _iso(stamp_ns: int) -> str:
    return datetime.fromtimestamp(stamp_ns / NS, tz=timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def make_kind_queries(building: Building, tour: Tour, pool: str = "dev", seed: int = 0, per_category: int = 10,
                      dataset: str | None = None) -> list[dict[str, Any]]:
    """Questions of the typed kinds about a tour that has been iterated (``tour.seen``, ``tour.visible``)."""
    rng = random.Random(f"kinds-{seed}-{pool}")
    name = dataset or building.name
    stamps = [bp.stamp_ns for bp in tour.base_poses]
    dt = 1.0 / tour.fps
    seen = {oid: ix for oid, ix in tour.seen.items()}
    by_class: dict[str, list[int]] = defaultdict(list)
    for oid in seen:
        by_class[building.objects[oid].cls].append(oid)
    classes = sorted(by_class)
    out: list[dict[str, Any]] = []

    def word(c: str, table: dict[str, list[str]] = SYNONYMS) -> str:
        return rng.choice(table[c]) if pool == "test" and c in table and rng.random() < 0.5 else c

    def add(category: str, items: list[dict[str, Any]]) -> None:
        if len(items) > per_category:
            items = rng.sample(items, per_category)
        out.extend({"dataset": name, **q, "category": category} for q in items)

    times = []
    for c in classes:
        template, which = rng.choice(TIME[pool])
        pick = max if which == "last" else min
        t = pick(stamps[seen[o][-1] if which == "last" else seen[o][0]] for o in by_class[c])
        times.append({"query": template.format(c=word(c)), "kind": "time", "expect_time": _iso(t), "tolerance_s": 15})
    add("time", times)

    in_type: dict[str, int] = defaultdict(int)
    for bp in tour.base_poses:
        if bp.room >= 0:
            in_type[building.rooms[bp.room].type] += 1
    add("duration", [{"query": rng.choice(DURATION[pool]).format(t=word(t, ROOM_SYNONYMS)), "kind": "duration",
                      "expect_duration_s": round(n * dt, 1), "tolerance": 0.25}
                     for t, n in sorted(in_type.items()) if n * dt >= 5])

    counts = []
    for c in classes:
        n = sum(1 for o in by_class[c] if len(seen[o]) >= 2)
        if n:
            counts.append({"query": rng.choice(COUNT[pool]).format(p=_plural(word(c))), "kind": "count",
                           "expect_count": n})
        if building.floors > 1:
            f = rng.randrange(building.floors)
            nf = sum(1 for o in by_class[c]
                     if len(seen[o]) >= 2 and building.rooms[building.objects[o].room].floor == f)
            counts.append({"query": rng.choice(COUNT_FLOOR[pool]).format(p=_plural(word(c)), o=FLOOR_ORDINALS[f],
                                                                         n=f + 1),
                           "kind": "count", "expect_count": nf})
    add("count", counts)

    absent = sorted({c for c in CLASS_COLOURS if c not in by_class} | set(NEVER))
    yes = [{"query": rng.choice(YES_NO[pool]).format(c=word(c)), "kind": "yes_no", "expect_yes_no": True}
           for c in classes if any(len(seen[o]) >= 2 for o in by_class[c])]
    no = [{"query": rng.choice(YES_NO[pool]).format(c=c), "kind": "yes_no", "expect_yes_no": False} for c in absent]
    add("yes_no", rng.sample(yes, min(len(yes), per_category // 2)) + rng.sample(no, min(len(no), per_category // 2)))

    positions = []
    for i in rng.sample(range(len(stamps)), min(len(stamps), per_category)):
        bp = tour.base_poses[i]
        positions.append({"query": rng.choice(POSITION[pool]).format(hms=_hms(bp.stamp_ns)), "kind": "position",
                          "target_positions": [[round(bp.x, 3), round(bp.y, 3), round(bp.z, 3)]], "radius_m": 3.0})
    add("position", positions)

    rooms = []
    for c in classes:
        types = {building.rooms[building.objects[o].room].type for o in by_class[c]}
        if len(types) == 1 and (t := types.pop()) != "corridor":
            rooms.append({"query": rng.choice(ROOM[pool]).format(c=word(c)), "kind": "explain",
                          "expect_any": ROOM_WORDS[t]})
    add("room", rooms)
    return out
