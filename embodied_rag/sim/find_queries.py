"""Find questions about a simulated building, phrased as people ask them, with ground truth from the simulator.

Categories: ``object`` (a thing by name, sometimes by another word for it), ``colour`` (one instance by colour),
``purpose`` (a need: "I'm thirsty"), ``nearest`` (the closest one by walking distance from where the robot stands,
which may be another floor), ``floor`` (the thing on a named floor) and ``recent`` (the one seen most recently on
the tour). Every target is an object the tour saw; a target position is ``[x, y, floor height]``, so a scorer can
check the floor as well as the distance.

Two disjoint pools of phrasings: ``dev`` (to develop with) and ``test`` (held out: other wordings, other words for
things, indirect requests). Evaluate on ``test`` with building seeds you did not develop on.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Any

import networkx as nx

from embodied_rag.sim.building import Building, Obj
from embodied_rag.sim.tour import NS, Tour, waypoint_graph

POOLS = ("dev", "test")
FLOOR_ORDINALS = ["ground", "second", "third", "fourth", "fifth"]

OBJECT = {
    "dev": ["where is the {c}?", "take me to the {c}", "find the {c}", "I am looking for the {c}",
            "navigate to the {c}", "where can I find the {c}?"],
    "test": ["could you bring me over to the {c}?", "I need to get to a {c}", "show me where a {c} is",
             "go to the {c} please", "is there a {c} somewhere? take me there", "lead the way to the {c}",
             "how do I get to the {c}?", "can you guide me to a {c}", "I'd like to go to the {c}",
             "please drive me to the {c}"],
}
COLOUR = {
    "dev": ["where is the {col} {c}?", "take me to the {col} {c}"],
    "test": ["I'm looking for a {col} {c}", "go to the {c} that is {col}", "which way to the {col} {c}?",
             "bring me to the {col} coloured {c}"],
}
NEAREST = {
    "dev": ["where is the nearest {c}?", "take me to the closest {c}", "find the nearest {c}"],
    "test": ["which {c} is closest to me? take me there", "get me to the nearest {c}", "the closest {c}, please",
             "I need a {c}, whichever is nearest", "what's the closest {c} from here?"],
}
FLOOR = {
    "dev": ["where is the {c} on the {o} floor?", "take me to the {c} on floor {n}"],
    "test": ["I need the {c} that's on level {n}", "go to the {o} floor {c}", "find a {c} on the {o} floor",
             "the {c} upstairs on the {o} floor, please"],
}
RECENT = {
    "dev": ["where did you most recently see a {c}?", "where did you last see the {c}?"],
    "test": ["take me to the {c} you saw most recently", "go back to the last {c} you noticed",
             "which {c} did you see most recently? go there", "the most recent {c} you passed, where was it?"],
}
# Needs, and the things that meet them.
PURPOSE = {
    "dev": [("where can I wash my hands?", ["sink", "washbasin"]),
            ("where can I get a drink?", ["vending machine", "fridge", "water fountain", "coffee machine"]),
            ("where can I sit down and rest?", ["sofa", "armchair", "bench"]),
            ("where can I print a document?", ["printer", "photocopier"]),
            ("where can I heat up my lunch?", ["microwave", "stove"]),
            ("where can I go to the toilet?", ["toilet"]),
            ("where can I sleep?", ["bed"]),
            ("where can I find a book to read?", ["bookshelf"]),
            ("where can I throw away my rubbish?", ["trash can"]),
            ("where can I watch TV?", ["tv"])],
    "test": [("I'm thirsty", ["vending machine", "fridge", "water fountain", "coffee machine"]),
             ("I could really use a coffee", ["coffee machine", "vending machine"]),
             ("my hands are sticky, I need to clean them", ["sink", "washbasin"]),
             ("I need to use the restroom", ["toilet"]),
             ("somewhere I can put my feet up", ["sofa", "armchair"]),
             ("I have to make a copy of this report", ["photocopier", "printer"]),
             ("I want to warm up my leftovers", ["microwave", "stove"]),
             ("I need to get rid of this wrapper", ["trash can"]),
             ("I'm exhausted and want to lie down", ["bed", "sofa"]),
             ("there's a small fire, help!", ["fire extinguisher"]),
             ("I want to borrow something to read", ["bookshelf"]),
             ("I need to go up to another floor", ["elevator"]),
             ("where could I take a shower?", ["shower", "bathtub"]),
             ("I need to look at this sample magnified", ["microscope"])],
}
# Other words people use for things (the test pool uses them half the time).
SYNONYMS = {"fridge": ["refrigerator"], "tv": ["television"], "sofa": ["couch"], "trash can": ["bin", "garbage can"],
            "photocopier": ["copy machine"], "bookshelf": ["bookcase"], "water fountain": ["drinking fountain"],
            "elevator": ["lift"], "washbasin": ["hand basin"], "whiteboard": ["white board"],
            "lab bench": ["workbench"], "notice board": ["bulletin board"], "wardrobe": ["closet"],
            "stove": ["cooker"], "projector screen": ["presentation screen"], "armchair": ["easy chair"]}


def object_target(b: Building, o: Obj) -> list[float]:
    return [round(o.position[0], 3), round(o.position[1], 3), round(b.rooms[o.room].z, 3)]


def walking_distances(building: Building, start: tuple[float, float], floor: int) -> dict[int, float]:
    """Walking distance (m) from a point inside a room on ``floor`` to every object: through the room/door graph
    (elevators included), then straight to the object inside its room."""
    g = waypoint_graph(building)
    room = next((r for r in building.rooms if r.floor == floor and r.contains(*start)), None)
    src = [n for n, d in g.nodes(data=True) if room is not None and d["room"] == room.id]
    if not src:
        return {}
    g.add_node("start")
    for n in src:
        g.add_edge("start", n, length=math.dist(start, g.nodes[n]["xy"]))
    lengths = nx.single_source_dijkstra_path_length(g, "start", weight="length")
    by_room: dict[int, list] = defaultdict(list)
    for n, d in g.nodes(data=True):
        if n != "start" and d["room"] >= 0 and n in lengths:
            by_room[d["room"]].append(n)
    out = {}
    for o in building.objects:
        nodes = by_room.get(o.room, [])
        if nodes:
            out[o.id] = min(lengths[n] + math.dist(g.nodes[n]["xy"], o.position[:2]) for n in nodes)
    return out


def make_find_queries(building: Building, tour: Tour, pool: str = "dev", seed: int = 0, radius_m: float = 3.0,
                      per_category: int = 12, dataset: str | None = None) -> list[dict[str, Any]]:
    """Find questions about objects the tour saw (``tour`` must have been iterated), phrased from ``pool``."""
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}")
    rng = random.Random(f"{seed}-{pool}")
    name = dataset or building.name
    seen = sorted(tour.seen)
    objs = [building.objects[i] for i in seen]
    by_class: dict[str, list[Obj]] = defaultdict(list)
    for o in objs:
        by_class[o.cls].append(o)
    classes = sorted(by_class)
    out: list[dict[str, Any]] = []
    stamps = [bp.stamp_ns for bp in tour.base_poses]
    last_seen = {oid: stamps[ix[-1]] for oid, ix in tour.seen.items()}

    def word(c: str) -> str:
        if pool == "test" and c in SYNONYMS and rng.random() < 0.5:
            return rng.choice(SYNONYMS[c])
        return c

    def add(category: str, items: list[dict[str, Any]]) -> None:
        if len(items) > per_category:
            items = rng.sample(items, per_category)
        out.extend({"dataset": name, **q, "category": category} for q in items)

    def find(query: str, targets: list[Obj], **extra: Any) -> dict[str, Any]:
        return {"query": query, "kind": "find", "target_positions": [object_target(building, o) for o in targets],
                "radius_m": radius_m, **extra}

    add("object", [find(rng.choice(OBJECT[pool]).format(c=word(c)), by_class[c]) for c in classes])
    coloured = []
    for c in classes:
        colours = sorted({o.colour for o in by_class[c]})
        if len(colours) > 1:
            for col in colours:
                coloured.append(find(rng.choice(COLOUR[pool]).format(col=col, c=word(c)),
                                     [o for o in by_class[c] if o.colour == col]))
    add("colour", coloured)
    purposes = []
    for query, wanted in PURPOSE[pool]:
        targets = [o for c in wanted for o in by_class.get(c, [])]
        if targets:
            purposes.append(find(query, targets))
    add("purpose", purposes)

    nearest = []
    rooms = [r for r in building.rooms if r.type != "corridor"]
    for c in classes:
        if len(by_class[c]) < 2 or not rooms:
            continue
        start = rng.choice(rooms)
        fx, fy = (round(v, 2) for v in start.centre)
        dist = walking_distances(building, (fx, fy), start.floor)
        d = sorted((dist[o.id], o.id) for o in by_class[c] if o.id in dist)
        if len(d) < 2 or d[-1][0] - d[0][0] < 2 * radius_m:
            continue  # "nearest" would mean nothing
        targets = [building.objects[i] for dd, i in d if dd <= d[0][0] + 1.0]
        nearest.append(find(rng.choice(NEAREST[pool]).format(c=word(c)), targets,
                            **{"from": [fx, fy, round(start.z, 3)]}))
    add("nearest", nearest)

    floors = []
    if building.floors > 1:
        for c in classes:
            on = defaultdict(list)
            for o in by_class[c]:
                on[building.rooms[o.room].floor].append(o)
            if len(on) < 2:
                continue
            f = rng.choice(sorted(on))
            floors.append(find(rng.choice(FLOOR[pool]).format(c=word(c), o=FLOOR_ORDINALS[f], n=f + 1), on[f]))
    add("floor", floors)

    recent = []
    for c in classes:
        if len(by_class[c]) < 2:
            continue
        latest = max(last_seen[o.id] for o in by_class[c])
        # Sightings within a few seconds of each other are equally recent (one look around a room).
        targets = [o for o in by_class[c] if latest - last_seen[o.id] <= 5 * NS]
        if len(targets) < len(by_class[c]):
            recent.append(find(rng.choice(RECENT[pool]).format(c=word(c)), targets))
    add("recent", recent)
    return out
