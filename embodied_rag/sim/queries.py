"""Query files (the format of ``shared/datasets/dev_queries.jsonl``) generated from a building's ground truth.

Only what the tour saw is asked about: every ``find`` target is an object instance that was visible in at least one
frame, and every ``explain`` expectation names a room type or object that was seen. A ``find`` succeeds when the goal
lies within ``radius_m`` of any target position (the objects' centres on the ground plane).

Each query also has a ``category`` (object, colour, purpose, nearest, area, room, floor) for per-category tables;
the scorer ignores it.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from embodied_rag.sim.building import Building, Obj

# What people ask for, and which object classes answer it.
PURPOSES: list[tuple[str, list[str]]] = [
    ("where can I wash my hands?", ["sink", "washbasin"]),
    ("where can I get a drink?", ["vending machine", "fridge", "water fountain", "coffee machine"]),
    ("where can I sit down and rest?", ["sofa", "armchair", "bench"]),
    ("where can I print a document?", ["printer", "photocopier"]),
    ("where can I heat up my lunch?", ["microwave", "stove"]),
    ("where can I get a coffee?", ["coffee machine", "vending machine"]),
    ("where can I go to the toilet?", ["toilet"]),
    ("where can I take a shower?", ["shower", "bathtub"]),
    ("where can I sleep?", ["bed"]),
    ("where can I find a book to read?", ["bookshelf"]),
    ("where can we hold a meeting?", ["conference table"]),
    ("where can I take the elevator to another floor?", ["elevator"]),
    ("where is something to put out a fire?", ["fire extinguisher"]),
    ("where can I look at a sample under a microscope?", ["microscope"]),
    ("where can I watch TV?", ["tv"]),
    ("where can I throw away my rubbish?", ["trash can"]),
    ("where can I store my things?", ["locker", "wardrobe"]),
    ("where can I ask for help at a front desk?", ["reception desk"]),
]
FIND_TEMPLATES = ["where is the {c}?", "take me to the {c}", "find the {c}", "I am looking for the {c}",
                  "navigate to the {c}", "where can I find the {c}?"]
NEAREST_TEMPLATES = ["where is the nearest {c}?", "take me to the closest {c}", "find the nearest {c}"]
AREA_TEMPLATES = ["what is the area around the {c} like?", "describe the place where the {c} is",
                  "what kind of room is the {c} in?"]
ROOM_TEMPLATES = ["what is in the {t}?", "describe the {t}", "what can I find in the {t}?"]
# Words that count as naming a room type in an answer.
ROOM_WORDS: dict[str, list[str]] = {
    "kitchen": ["kitchen"], "bathroom": ["bathroom", "restroom", "washroom"], "office": ["office"],
    "bedroom": ["bedroom"], "lab": ["lab"], "meeting room": ["meeting room", "conference room"],
    "living room": ["living room", "lounge"], "library": ["library"], "storage room": ["storage"],
    "print room": ["print room", "copy room"], "lobby": ["lobby", "reception"], "corridor": ["corridor", "hallway"],
}
# Objects that identify a room type: an answer naming them describes that room correctly.
SIGNATURE: dict[str, list[str]] = {
    "kitchen": ["fridge", "stove", "microwave", "dishwasher"], "bathroom": ["toilet", "washbasin", "shower"],
    "office": ["desk", "office chair", "monitor"], "bedroom": ["bed", "wardrobe", "nightstand"],
    "lab": ["lab bench", "fume hood", "microscope"], "meeting room": ["conference table", "projector screen"],
    "living room": ["sofa", "armchair", "coffee table", "tv"], "library": ["bookshelf", "reading table"],
    "storage room": ["shelf", "cardboard box", "ladder", "locker"], "print room": ["photocopier", "printer"],
    "lobby": ["reception desk", "elevator", "vending machine"], "corridor": [],
}


def _xy(o: Obj) -> list[float]:
    return [round(o.position[0], 3), round(o.position[1], 3)]


def make_queries(building: Building, seen: Iterable[int], seed: int = 0, radius_m: float = 3.0,
                 max_per_category: int = 12, dataset: str | None = None) -> list[dict[str, Any]]:
    """Queries about ``building`` answerable from a tour that saw the objects with ids ``seen`` (e.g. the keys of
    ``Tour.seen``). Deterministic for a seed; at most ``max_per_category`` queries per category."""
    rng = random.Random(seed)
    name = dataset or building.name
    seen_ids = sorted(set(seen))
    objs = [building.objects[i] for i in seen_ids]
    by_class: dict[str, list[Obj]] = defaultdict(list)
    for o in objs:
        by_class[o.cls].append(o)
    classes = sorted(by_class)
    out: list[dict[str, Any]] = []

    def add(category: str, items: list[dict[str, Any]]) -> None:
        if len(items) > max_per_category:
            items = rng.sample(items, max_per_category)
        for q in items:
            out.append({"dataset": name, **q, "category": category})

    def find(query: str, targets: list[Obj], **extra: Any) -> dict[str, Any]:
        return {"query": query, "kind": "find", "target_positions": [_xy(o) for o in targets], "radius_m": radius_m,
                **extra}

    # Objects by class.
    add("object", [find(rng.choice(FIND_TEMPLATES).format(c=c), by_class[c]) for c in classes])

    # Objects by colour and class, where the colour tells instances of a class apart.
    coloured = []
    for c in classes:
        colours = sorted({o.colour for o in by_class[c]})
        if len(colours) > 1:
            for col in colours:
                coloured.append(find(f"where is the {col} {c}?", [o for o in by_class[c] if o.colour == col]))
    add("colour", coloured)

    # Purposes.
    purposes = []
    for query, wanted in PURPOSES:
        targets = [o for c in wanted for o in by_class.get(c, [])]
        if targets:
            purposes.append(find(query, targets))
    add("purpose", purposes)

    # Nearest instance from a place the robot stood in (a room's centre); distances on the ground plane, as scored.
    nearest = []
    rooms = [r for r in building.rooms if r.type != "corridor"]
    for c in classes:
        if len(by_class[c]) < 2 or not rooms:
            continue
        start = rng.choice(rooms)
        fx, fy = (round(v, 2) for v in start.centre)
        d = sorted((math.dist((fx, fy), o.position[:2]), o.id) for o in by_class[c])
        # Instances about as near as the nearest are right too; ask only when the nearest is clearly nearer than
        # the farthest, or "nearest" would mean nothing.
        if d[-1][0] - d[0][0] < 2 * radius_m:
            continue
        targets = [building.objects[i] for dist, i in d if dist <= d[0][0] + 1.0]
        nearest.append(find(rng.choice(NEAREST_TEMPLATES).format(c=c), targets, **{"from": [fx, fy]}))
    add("nearest", nearest)

    # The area around an object: its room type (or that room's other signature objects).
    seen_in_room: dict[int, set[str]] = defaultdict(set)
    for o in objs:
        seen_in_room[o.room].add(o.cls)
    area = []
    for c in classes:
        types = {building.rooms[o.room].type for o in by_class[c]}
        if len(types) != 1:
            continue  # the class is in several kinds of room: the expected answer would be ambiguous
        rtype = types.pop()
        if rtype == "corridor":
            continue
        also = sorted({s for o in by_class[c] for s in seen_in_room[o.room] if s in SIGNATURE[rtype] and s != c})
        area.append({"query": rng.choice(AREA_TEMPLATES).format(c=c), "kind": "explain",
                     "expect_any": ROOM_WORDS[rtype] + also})
    add("area", area)

    # What is in a kind of room: the objects seen in rooms of that type.
    by_type: dict[str, set[str]] = defaultdict(set)
    for o in objs:
        by_type[building.rooms[o.room].type].add(o.cls)
    add("room", [{"query": rng.choice(ROOM_TEMPLATES).format(t=t), "kind": "explain", "expect_any": sorted(cs)}
                 for t, cs in sorted(by_type.items()) if t != "corridor" and cs])

    # The floor / the building: the kinds of room in it (every room is visited on the tour).
    types = sorted({r.type for r in building.rooms if r.type != "corridor"})
    floor_q = [{"query": "describe the whole building", "kind": "explain", "expect_any": types},
               {"query": "what kinds of rooms are there?", "kind": "explain", "expect_any": types}]
    if building.floors == 1:
        floor_q.append({"query": "summarise this floor", "kind": "explain", "expect_any": types})
    add("floor", floor_q)
    return out
