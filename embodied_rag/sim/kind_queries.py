"""Questions of every kind about a simulated tour, with ground truth from the simulator: when a thing was seen
(``time``), how long the robot was in a kind of room (``duration``), how many things of a class it saw (``count``),
whether it saw a thing at all (``yes_no``, things it never saw included), where it was at a moment (``position``),
which room a thing is in (``room``, scored like an explain), and counts, yes/no, sightings and time in rooms within
a span of time, and finds of the things seen in one (``window``: the last few minutes, since, before or between
clock times).

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
from embodied_rag.sim.find_queries import FLOOR_ORDINALS, SYNONYMS, object_target
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
# Questions about a span of time: the last {n} minutes, or from / until / between clock times {t}, {t1}, {t2}.
WINDOW_COUNT = {
    "dev": [("how many {p} did you see in the last {n} minutes?", "recent"),
            ("how many {p} did you see since {t}?", "since"), ("how many {p} did you see before {t}?", "before"),
            ("how many {p} did you see between {t1} and {t2}?", "between")],
    "test": [("in the past {n} minutes, how many {p} have you come across?", "recent"),
             ("count the {p} you noticed after {t}", "since"), ("how many {p} had you seen by {t}?", "before"),
             ("from {t1} to {t2}, how many {p} did you pass?", "between")],
}
WINDOW_YES_NO = {
    "dev": [("did you see a {c} in the last {n} minutes?", "recent"), ("have you seen a {c} since {t}?", "since"),
            ("did you see a {c} before {t}?", "before"), ("did you see a {c} between {t1} and {t2}?", "between")],
    "test": [("any {c} in the previous {n} minutes?", "recent"), ("from {t} onwards, did you spot a {c}?", "since"),
             ("was there a {c} anywhere up to {t}?", "before"),
             ("did you come across a {c} from {t1} till {t2}?", "between")],
}
WINDOW_TIME = {
    "dev": [("when did you last see a {c} before {t}?", "last"), ("when did you first see a {c} after {t}?", "first")],
    "test": [("before {t}, when was the last time you saw the {c}?", "last"),
             ("what time did you first spot a {c} since {t}?", "first")],
}
WINDOW_DURATION = {
    "dev": [("how long were you in the {r} in the last {n} minutes?", "recent"),
            ("how long were you in the {r} between {t1} and {t2}?", "between")],
    "test": [("how much time did you spend in the {r} over the last {n} minutes?", "recent"),
             ("from {t1} to {t2}, how long were you inside the {r}?", "between")],
}
WINDOW_FIND = {
    "dev": [("where is the {c} you saw since {t}?", "since"), ("take me to the {c} you saw before {t}", "before")],
    "test": [("I need the {c} you passed after {t} - where is it?", "since"),
             ("go to the {c} you spotted between {t1} and {t2}", "between")],
}
WINDOW_SEEN = {
    "dev": [("what did you see at {hms}?", "at"), ("what were you doing at {hms}?", "at"),
            ("what did you pass in the last {n} minutes?", "recent")],
    "test": [("describe what was around you at {hms}", "at"), ("at {hms}, what did you have in view?", "at"),
             ("what have you seen over the past {n} minutes?", "recent")],
}
# Spans bounded by the robot's own moves: (words, move, after). "{r}" is a kind of room visited once, "{o}" a floor
# reached once.
MOVE_SPANS = {
    "dev": [("since you left the {r}", "left", True), ("before you went into the {r}", "entered", False),
            ("after you entered the {r}", "entered", True), ("before you left the {r}", "left", False),
            ("after you got to the {o} floor", "floor", True), ("before you went up to the {o} floor", "floor", False)],
    "test": [("after leaving the {r}", "left", True), ("up until you got to the {r}", "entered", False),
             ("once you'd come out of the {r}", "left", True), ("prior to reaching the {r}", "entered", False),
             ("since you arrived on the {o} floor", "floor", True), ("before you made it to the {o} floor", "floor",
                                                                     False)],
}
MOVE_ASKS = {  # (question with the span "{a}", kind)
    "dev": [("how many {p} did you see {a}?", "count"), ("did you see a {c} {a}?", "yes_no"),
            ("where is the {c} you saw {a}?", "find")],
    "test": [("{A}, how many {p} did you come across?", "count"), ("{A}, have you spotted any {c}?", "yes_no"),
             ("take me to the {c} you passed {a}", "find")],
}
MOVE_WHEN = {"dev": [("when did you leave the {r}?", "left"), ("when did you get to the {r}?", "entered")],
             "test": [("what time was it when you walked out of the {r}?", "left"),
                      ("at what time did you reach the {r}?", "entered")]}
# Stretches in a room this close in time are one visit (as the memory reads them: see retrieval/moves.py).
VISIT_GAP_S = 20.0
# A window's end must not cut a thing's sightings: seen in two frames this far inside it, none this far outside.
WINDOW_MARGIN_S = 15.0
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


_HOUR_WORDS = "twelve one two three four five six seven eight nine ten eleven".split()
_MINUTE_WORDS = {5: "five", 10: "ten", 15: "quarter", 20: "twenty", 25: "twenty-five", 30: "half"}


def _said(stamp_ns: int, rng: random.Random) -> str:
    """A clock time as people say it: 24-hour, with pm, 12-hour without (the most recent reading is meant), with
    a dot, or in words ("twenty past ten", "quarter to eleven")."""
    dt = datetime.fromtimestamp(stamp_ns / NS, tz=timezone.utc)
    twelve = dt.hour % 12 or 12
    forms = [f"{dt:%H:%M}", f"{twelve}:{dt:%M} {'pm' if dt.hour >= 12 else 'am'}", f"{twelve}:{dt:%M}", f"{dt:%H.%M}"]
    m = dt.minute
    if m == 0:
        forms.append(f"{_HOUR_WORDS[dt.hour % 12]} o'clock")
    elif m % 5 == 0:
        forms.append(f"{_MINUTE_WORDS[m]} past {_HOUR_WORDS[dt.hour % 12]}" if m <= 30 else
                     f"{_MINUTE_WORDS[60 - m]} to {_HOUR_WORDS[(dt.hour + 1) % 12]}")
    return rng.choice(forms)


class _SpanTruth:
    """Ground truth within a span of the tour (stamps ``a`` to ``b``, either open)."""

    def __init__(self, stamps: list[int], seen: dict[int, list[int]], by_class: dict[str, list[int]]):
        self.stamps, self.seen = stamps, seen
        self.counted = {c: [o for o in objs if len(seen[o]) >= 2] for c, objs in by_class.items()}
        self.margin = int(WINDOW_MARGIN_S * NS)

    def inside(self, i: int, a: int | None, b: int | None, margin: int) -> bool:
        st = self.stamps[i]
        return (a is None or st >= a + margin) and (b is None or st <= b - margin)

    def objects_in(self, c: str, a: int | None, b: int | None) -> list[int] | None:
        """The counted things of class ``c`` seen in the window; None when its ends cut one's sightings."""
        m = self.margin
        core = [o for o in self.counted[c] if sum(self.inside(i, a, b, m) for i in self.seen[o]) >= 2]
        wide = [o for o in self.counted[c] if any(self.inside(i, a, b, -m) for i in self.seen[o])]
        return core if core == wide else None


def _window_queries(building: Building, tour: Tour, pool: str, rng: random.Random, by_class: dict[str, list[int]],
                    seen: dict[int, list[int]], word, per_category: int) -> list[dict[str, Any]]:
    """Counts, yes/no, first or last sightings and time in rooms within a span of time, with ground truth only
    where the span's ends cut no thing's sightings (see :data:`WINDOW_MARGIN_S`). "Now" is the last frame."""
    stamps = [bp.stamp_ns for bp in tour.base_poses]
    if len(stamps) < 2:
        return []
    t0, now = stamps[0], stamps[-1]
    minute = 60 * NS

    def clock_at(frac: float) -> int:  # a whole minute inside the tour
        return (t0 + int(frac * (now - t0))) // minute * minute

    def window(shape: str) -> tuple[int | None, int | None, dict[str, str]]:
        if shape == "recent":
            n = rng.randint(2, max(2, min(8, int((now - t0) / minute) - 1)))
            return now - n * minute, None, {"n": str(n)}
        if shape == "since":
            a = clock_at(rng.uniform(0.3, 0.8))
            return a, None, {"t": _said(a, rng)}
        if shape == "before":
            b = clock_at(rng.uniform(0.2, 0.7))
            return None, b, {"t": _said(b, rng)}
        a, b = sorted((clock_at(rng.uniform(0.1, 0.5)), clock_at(rng.uniform(0.5, 0.9))))
        b = max(b, a + 2 * minute)
        return a, b, {"t1": _said(a, rng), "t2": _said(b, rng)}

    span = _SpanTruth(stamps, seen, by_class)
    inside, objects_in, counted = span.inside, span.objects_in, span.counted
    out: list[dict[str, Any]] = []
    classes = sorted(counted)
    for c in classes:
        template, shape = rng.choice(WINDOW_COUNT[pool])
        a, b, slots = window(shape)
        objs = objects_in(c, a, b)
        if objs is not None and counted[c]:
            out.append({"query": template.format(p=_plural(word(c)), **slots), "kind": "count",
                        "expect_count": len(objs)})
        template, shape = rng.choice(WINDOW_YES_NO[pool])
        a, b, slots = window(shape)
        objs = objects_in(c, a, b)
        if objs is not None and counted[c]:
            out.append({"query": template.format(c=word(c), **slots), "kind": "yes_no", "expect_yes_no": bool(objs)})
        template, shape = rng.choice(WINDOW_FIND[pool])
        a, b, slots = window(shape)
        objs = objects_in(c, a, b)
        if objs and len(objs) < len(counted[c]):  # only where the span rules some of them out
            out.append({"query": template.format(c=word(c), **slots), "kind": "find",
                        "target_positions": [object_target(building, building.objects[o]) for o in objs],
                        "radius_m": 3.0})
        template, which = rng.choice(WINDOW_TIME[pool])
        a, b, slots = window("since" if which == "first" else "before")
        times = [stamps[i] for o in counted[c] for i in seen[o] if inside(i, a, b, 0)]
        if times:
            t = min(times) if which == "first" else max(times)
            out.append({"query": template.format(c=word(c), **slots), "kind": "time", "expect_time": _iso(t),
                        "tolerance_s": 15})
    for _ in range(3):  # what it saw at a moment or lately: the kinds of room it was in then
        template, shape = rng.choice(WINDOW_SEEN[pool])
        i = rng.randrange(len(stamps))
        a, _b, slots = window(shape) if shape == "recent" else (stamps[i], None, {"hms": _hms(stamps[i])})
        types = {building.rooms[bp.room].type for j, bp in enumerate(tour.base_poses)
                 if bp.room >= 0 and (j == i if shape == "at" else stamps[j] >= a)}
        if types:
            out.append({"query": template.format(**slots), "kind": "explain",
                        "expect_any": sorted({w for t in types for w in ROOM_WORDS[t]})})
    dt = 1.0 / tour.fps
    for t in sorted({building.rooms[bp.room].type for bp in tour.base_poses if bp.room >= 0}):
        template, shape = rng.choice(WINDOW_DURATION[pool])
        a, b, slots = window(shape)
        n = sum(1 for i, bp in enumerate(tour.base_poses)
                if bp.room >= 0 and building.rooms[bp.room].type == t and inside(i, a, b, 0))
        if n * dt >= 10:
            out.append({"query": template.format(r=word(t, ROOM_SYNONYMS), **slots), "kind": "duration",
                        "expect_duration_s": round(n * dt, 1), "tolerance": 0.25})
    if len(out) > per_category:
        out = rng.sample(out, per_category)
    return out


def _visits(stamps: list[int], where: list[Any]) -> dict[Any, list[tuple[int, int]]]:
    """Each place's visits, as (first, last) frame indices; ``where[i]`` is the place of frame i (None: none)."""
    out: dict[Any, list[tuple[int, int]]] = defaultdict(list)
    for i, w in enumerate(where):
        if w is None:
            continue
        runs = out[w]
        if runs and (stamps[i] - stamps[runs[-1][1]]) / NS <= VISIT_GAP_S:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return out


def _move_queries(building: Building, tour: Tour, pool: str, rng: random.Random, by_class: dict[str, list[int]],
                  seen: dict[int, list[int]], word, per_category: int) -> list[dict[str, Any]]:
    """Counts, yes/no and finds within a span bounded by one of the robot's moves (leaving or entering a kind of
    room it visited once, reaching a floor it reached once), and the time of such a move; ground truth as for
    :func:`_window_queries`."""
    stamps = [bp.stamp_ns for bp in tour.base_poses]
    span = _SpanTruth(stamps, seen, by_class)
    types = [building.rooms[bp.room].type if bp.room >= 0 else None for bp in tour.base_poses]
    rooms_of = defaultdict(set)
    for bp in tour.base_poses:
        if bp.room >= 0:
            rooms_of[building.rooms[bp.room].type].add(bp.room)
    floors, last = [], None
    for bp in tour.base_poses:
        last = building.rooms[bp.room].floor if bp.room >= 0 else last
        floors.append(last)
    # Kinds of room in one room, visited once, for 10 s at least, neither first nor last.
    once = {t: (i, j) for t, runs in _visits(stamps, types).items() for i, j in runs[:1]
            if len(runs) == 1 and len(rooms_of[t]) == 1 and t != "corridor"
            and (stamps[j] - stamps[i]) / NS >= 10 and i > 0 and j < len(stamps) - 1}
    reached = {f: runs[0] for f, runs in _visits(stamps, floors).items() if len(runs) == 1 and runs[0][0] > 0}
    out: list[dict[str, Any]] = []
    for c in sorted(span.counted):
        if not span.counted[c]:
            continue
        for question, kind in MOVE_ASKS[pool]:
            words, move, after = rng.choice(MOVE_SPANS[pool])
            if move == "floor":
                if not reached:
                    continue
                f = rng.choice(sorted(reached))
                at = stamps[reached[f][0]]
                said = words.format(o=FLOOR_ORDINALS[f])
            else:
                if not once:
                    continue
                t = rng.choice(sorted(once))
                at = stamps[once[t][1] if move == "left" else once[t][0]]
                said = words.format(r=word(t, ROOM_SYNONYMS))
            a, b = (at, None) if after else (None, at)
            objs = span.objects_in(c, a, b)
            if objs is None or kind == "find" and not (objs and len(objs) < len(span.counted[c])):
                continue
            q = question.format(a=said, A=said[0].upper() + said[1:], p=_plural(word(c)), c=word(c))
            if kind == "count":
                out.append({"query": q, "kind": "count", "expect_count": len(objs)})
            elif kind == "yes_no":
                out.append({"query": q, "kind": "yes_no", "expect_yes_no": bool(objs)})
            else:
                out.append({"query": q, "kind": "find", "radius_m": 3.0,
                            "target_positions": [object_target(building, building.objects[o]) for o in objs]})
    for t, (i, j) in sorted(once.items()):
        question, move = rng.choice(MOVE_WHEN[pool])
        out.append({"query": question.format(r=word(t, ROOM_SYNONYMS)), "kind": "time",
                    "expect_time": _iso(stamps[j if move == "left" else i]), "tolerance_s": 15})
    if len(out) > per_category:
        out = rng.sample(out, per_category)
    return out


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
    add("window", _window_queries(building, tour, pool, rng, by_class, seen, word, 2 * per_category))
    add("moves", _move_queries(building, tour, pool, rng, by_class, seen, word, 2 * per_category))
    return out
