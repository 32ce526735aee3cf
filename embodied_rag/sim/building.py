"""A procedural indoor building with ground truth: floors, typed rooms on a grid with doors, typical furniture.

Layout of every floor (x east, y north, metres; floor ``f`` stands at ``z = f * FLOOR_HEIGHT_M``)::

    band 1:  | room | room | room |        north row
    lobby  spine ====== corridor 1 ====== |
             | room | room | room |        south row
    band 0:  | room | room | room |        north row
           spine ====== corridor 0 ====== |
             | room | room | room |        south row

Rooms of a band open onto its corridor by one door each; the corridors open onto a short north-south "spine"
corridor, which opens onto the floor's lobby. Every floor has the same footprint, so the lobby's elevator stands at
the same place on every floor and the robot can ride it. Each room builds its own walls just inside its extent, so
walls between neighbours never overlap and keep the colour of the room they face.

Geometry is a list of :class:`Part` boxes and cylinders; the ground truth is :class:`Room` and :class:`Obj`.
Everything is drawn from ``random.Random(seed)`` in a fixed order: one seed gives one building.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

FLOOR_HEIGHT_M = 3.2
WALL_HEIGHT_M = 2.7
WALL_T_M = 0.08  # each room's own wall thickness (neighbours' walls stand back to back)
DOOR_W_M = 1.0
DOOR_H_M = 2.1
ROOM_DEPTH_M = 5.0
CORRIDOR_W_M = 2.2
LOBBY_W_M = 8.0
ROOMS_PER_SIDE = 6  # rooms on one side of one corridor; more rooms make more bands
VIEW_IN_M = 1.3  # where the robot stops inside a room, from the door

# Named colours (RGB 0-255): object colours are named so that captions can say "a red sofa".
COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (235, 235, 230), "silver": (185, 190, 195), "grey": (128, 128, 128), "dark grey": (70, 72, 75),
    "black": (35, 35, 38), "red": (200, 40, 35), "blue": (45, 85, 190), "light blue": (140, 185, 225),
    "green": (55, 150, 65), "dark green": (30, 95, 45), "yellow": (230, 200, 45), "orange": (235, 130, 35),
    "brown": (120, 75, 40), "wooden": (165, 120, 75), "beige": (215, 195, 160), "purple": (120, 60, 150),
    "teal": (40, 140, 140), "pink": (225, 140, 170), "cream": (240, 230, 200),
}
WALL_COLOURS = ["cream", "white", "beige", "light blue", "pink", "grey", "yellow", "teal"]
FLOOR_COLOURS = ["wooden", "grey", "beige", "dark grey", "brown"]

# Colour choices per object class (first is the most common); classes not listed are grey.
CLASS_COLOURS: dict[str, list[str]] = {
    "fridge": ["white", "silver"], "sink": ["silver", "white"], "washbasin": ["white"], "stove": ["black", "white"],
    "microwave": ["black", "silver", "white"], "coffee machine": ["black", "red", "silver"],
    "table": ["wooden", "white", "black"], "chair": ["black", "blue", "red", "wooden", "green"],
    "desk": ["wooden", "white", "grey"], "office chair": ["black", "blue", "grey"], "monitor": ["black"],
    "bookshelf": ["wooden", "white", "brown"], "printer": ["white", "grey"], "plant": ["green", "dark green"],
    "whiteboard": ["white"], "filing cabinet": ["grey", "silver"], "toilet": ["white"], "mirror": ["silver"],
    "shower": ["light blue", "white"], "bathtub": ["white"], "towel rack": ["silver"],
    "reception desk": ["wooden", "white", "dark grey"], "sofa": ["red", "blue", "green", "grey", "brown", "orange"],
    "armchair": ["red", "blue", "green", "brown", "yellow"], "vending machine": ["red", "blue", "orange"],
    "water fountain": ["silver", "blue"], "elevator": ["silver"], "fire extinguisher": ["red"],
    "bench": ["wooden", "black"], "notice board": ["brown", "green"], "trash can": ["grey", "green", "black"],
    "bed": ["white", "blue", "beige", "pink"], "nightstand": ["wooden", "white"], "wardrobe": ["wooden", "white"],
    "lamp": ["yellow", "white"], "lab bench": ["white", "black"], "fume hood": ["silver", "white"],
    "microscope": ["black", "white"], "shelf": ["grey", "silver", "wooden"], "conference table": ["wooden", "white"],
    "projector screen": ["white"], "tv": ["black"], "coffee table": ["wooden", "black", "white"],
    "cardboard box": ["brown"], "ladder": ["silver", "yellow"], "locker": ["blue", "grey", "green"],
    "reading table": ["wooden"], "globe": ["blue"], "dishwasher": ["silver", "white"],
    "photocopier": ["grey", "white"], "rug": ["red", "blue", "beige", "purple"],
}

# A recipe part: (label or None for an unlabelled fixture, "box"|"cyl", (x0, y0, z0, x1, y1, z1), colour).
# Local frame: x along the wall, y out from the wall into the room (y=0 at the wall), z up from the floor. Centre
# objects use the same frame centred on the object. colour "main" is the colour drawn for that label.
PartSpec = tuple[str | None, str, tuple[float, float, float, float, float, float], str]


def _b(label: str | None, x0: float, y0: float, z0: float, x1: float, y1: float, z1: float, colour: str = "main",
       shape: str = "box") -> PartSpec:
    return (label, shape, (x0, y0, z0, x1, y1, z1), colour)


def _legs(label: str, w: float, d: float, h: float, y0: float = 0.0, colour: str = "main") -> list[PartSpec]:
    e = 0.05
    return [_b(label, x, y, 0, x + e, y + e, h, colour) for x in (-w / 2, w / 2 - e) for y in (y0, y0 + d - e)]


def _table(label: str, w: float, d: float, h: float, y0: float = 0.0) -> list[PartSpec]:
    return [_b(label, -w / 2, y0, h - 0.05, w / 2, y0 + d, h), *_legs(label, w, d, h - 0.05, y0)]


def _chair(label: str, cx: float, cy: float, facing: int) -> list[PartSpec]:
    """A chair centred at (cx, cy), its back on the side ``-facing`` in y."""
    s = 0.22
    back_y = cy - facing * s
    return [_b(label, cx - s, cy - s, 0.0, cx + s, cy + s, 0.45),
            _b(label, cx - s, min(back_y, back_y + facing * 0.06), 0.45, cx + s, max(back_y, back_y + facing * 0.06),
               0.9)]


# Recipes: name -> (placement, parts). placement: "wall" (stands against a wall), "mount" (hangs on a wall),
# "centre" (free-standing in the room).
RECIPES: dict[str, tuple[str, list[PartSpec]]] = {
    "fridge": ("wall", [_b("fridge", -0.38, 0, 0, 0.38, 0.7, 1.8),
                        _b(None, 0.26, 0.7, 0.8, 0.3, 0.74, 1.4, "dark grey")]),
    "sink": ("wall", [_b(None, -0.55, 0, 0, 0.55, 0.6, 0.85, "wooden"), _b("sink", -0.35, 0.08, 0.85, 0.35, 0.5, 0.93),
                      _b("sink", -0.03, 0.02, 0.93, 0.03, 0.08, 1.2)]),
    "stove": ("wall", [_b("stove", -0.3, 0, 0, 0.3, 0.6, 0.9), _b(None, -0.3, 0, 0.9, 0.3, 0.6, 0.93, "dark grey")]),
    "microwave": ("wall", [_b(None, -0.4, 0, 0, 0.4, 0.6, 0.88, "wooden"), _b("microwave", -0.25, 0.1, 0.88, 0.25, 0.5,
                                                                             1.18)]),
    "coffee machine": ("wall", [_b(None, -0.4, 0, 0, 0.4, 0.6, 0.88, "beige"),
                                _b("coffee machine", -0.16, 0.1, 0.88, 0.16, 0.45, 1.3)]),
    "dishwasher": ("wall", [_b("dishwasher", -0.3, 0, 0, 0.3, 0.6, 0.85)]),
    "dining table": ("centre", [*_table("table", 1.4, 0.9, 0.75, -0.45), *_chair("chair", -0.35, -0.75, 1),
                                *_chair("chair", 0.35, 0.75, -1)]),
    "desk": ("wall", [*_table("desk", 1.4, 0.7, 0.75), _b("monitor", -0.3, 0.1, 0.8, 0.3, 0.14, 1.15),
                      _b(None, -0.05, 0.14, 0.75, 0.05, 0.2, 0.8, "dark grey"), *_chair("office chair", 0.0, 1.0, -1)]),
    "bookshelf": ("wall", [_b("bookshelf", -0.5, 0, 0, 0.5, 0.35, 2.0),
                           *[_b(None, -0.45, 0.3, z, 0.45, 0.36, z + 0.25, "red" if i % 2 else "blue")
                             for i, z in enumerate((0.2, 0.7, 1.2, 1.65))]]),
    "printer": ("wall", [_b(None, -0.35, 0, 0, 0.35, 0.5, 0.7, "dark grey"), _b("printer", -0.25, 0.05, 0.7, 0.25, 0.45,
                                                                                0.95)]),
    "photocopier": ("wall", [_b("photocopier", -0.4, 0, 0, 0.4, 0.65, 1.1)]),
    "plant": ("wall", [_b("plant", -0.2, 0.05, 0, 0.2, 0.45, 0.4, "brown", "cyl"), _b("plant", -0.3, -0.05, 0.4, 0.3,
                                                                                       0.55, 1.3, "main", "cyl")]),
    "whiteboard": ("mount", [_b("whiteboard", -0.9, 0, 0.9, 0.9, 0.04, 2.0)]),
    "filing cabinet": ("wall", [_b("filing cabinet", -0.25, 0, 0, 0.25, 0.6, 1.3)]),
    "toilet": ("wall", [_b("toilet", -0.2, 0, 0, 0.2, 0.2, 0.8), _b("toilet", -0.2, 0.15, 0, 0.2, 0.65, 0.42, "main",
                                                                   "cyl")]),
    "washbasin": ("wall", [_b("washbasin", -0.3, 0, 0.65, 0.3, 0.45, 0.85), _b(None, -0.08, 0, 0, 0.08, 0.2, 0.65,
                                                                             "white"),
                           _b("mirror", -0.35, 0, 1.2, 0.35, 0.03, 1.9, "silver")]),
    "shower": ("wall", [_b("shower", -0.45, 0, 0, 0.45, 0.9, 0.1), _b("shower", -0.45, 0.85, 0.1, 0.45, 0.9, 2.0),
                        _b(None, -0.04, 0, 1.8, 0.04, 0.3, 1.9, "silver")]),
    "bathtub": ("wall", [_b("bathtub", -0.85, 0, 0, 0.85, 0.75, 0.55)]),
    "towel rack": ("mount", [_b("towel rack", -0.3, 0, 1.0, 0.3, 0.08, 1.5)]),
    "reception desk": ("wall", [_b("reception desk", -1.2, 0.6, 0, 1.2, 1.0, 1.1),
                                _b("monitor", -0.25, 0.7, 1.1, 0.25, 0.74, 1.4, "black")]),
    "sofa": ("wall", [_b("sofa", -1.0, 0, 0, 1.0, 0.9, 0.45), _b("sofa", -1.0, 0, 0.45, 1.0, 0.25, 0.9),
                      _b("sofa", -1.0, 0.25, 0.45, -0.85, 0.9, 0.65), _b("sofa", 0.85, 0.25, 0.45, 1.0, 0.9, 0.65)]),
    "armchair": ("wall", [_b("armchair", -0.45, 0, 0, 0.45, 0.85, 0.45), _b("armchair", -0.45, 0, 0.45, 0.45, 0.25,
                                                                             0.95)]),
    "vending machine": ("wall", [_b("vending machine", -0.45, 0, 0, 0.45, 0.8, 1.9),
                                 _b(None, -0.35, 0.8, 0.8, 0.15, 0.82, 1.75, "light blue")]),
    "water fountain": ("wall", [_b("water fountain", -0.2, 0, 0.0, 0.2, 0.35, 1.0),
                                _b(None, -0.15, 0.05, 1.0, 0.15, 0.3, 1.05, "silver")]),
    "elevator": ("mount", [_b(None, -0.8, 0, 0, 0.8, 0.06, 2.4, "dark grey"), _b("elevator", -0.55, 0.04, 0, 0.55,
                                                                                 0.08, 2.1)]),
    "fire extinguisher": ("mount", [_b("fire extinguisher", -0.09, 0.02, 0.5, 0.09, 0.2, 1.05, "main", "cyl"),
                                    _b(None, -0.1, 0, 0.4, 0.1, 0.02, 1.15, "white")]),
    "bench": ("wall", [_b("bench", -0.8, 0.05, 0.4, 0.8, 0.45, 0.48), *_legs("bench", 1.6, 0.4, 0.4, 0.05)]),
    "notice board": ("mount", [_b("notice board", -0.6, 0, 1.0, 0.6, 0.04, 1.8),
                               _b(None, -0.4, 0.04, 1.3, -0.1, 0.05, 1.6, "white")]),
    "trash can": ("wall", [_b("trash can", -0.18, 0.02, 0, 0.18, 0.38, 0.65, "main", "cyl")]),
    "bed": ("wall", [_b("bed", -0.8, 0, 0, 0.8, 2.0, 0.5), _b(None, -0.8, 0, 0, 0.8, 0.06, 1.0, "wooden"),
                     _b(None, -0.6, 0.1, 0.5, 0.6, 0.45, 0.62, "white")]),
    "nightstand": ("wall", [_b("nightstand", -0.22, 0, 0, 0.22, 0.4, 0.55), _b("lamp", -0.1, 0.1, 0.55, 0.1, 0.3,
                                                                               0.95, "yellow", "cyl")]),
    "wardrobe": ("wall", [_b("wardrobe", -0.6, 0, 0, 0.6, 0.6, 2.1)]),
    "lab bench": ("wall", [_b("lab bench", -1.0, 0, 0, 1.0, 0.75, 0.9), _b("microscope", 0.3, 0.2, 0.9, 0.55, 0.45,
                                                                           1.3, "black")]),
    "fume hood": ("wall", [_b("fume hood", -0.7, 0, 0, 0.7, 0.8, 2.2), _b(None, -0.6, 0.8, 0.9, 0.6, 0.82, 1.7,
                                                                          "light blue")]),
    "shelf": ("wall", [_b("shelf", -0.6, 0, z, 0.6, 0.45, z + 0.04) for z in (0.05, 0.6, 1.15, 1.7)]
              + [_b("shelf", x, 0, 0, x + 0.05, 0.45, 1.8) for x in (-0.6, 0.55)]
              + [_b("cardboard box", -0.5, 0.05, 0.09, 0.0, 0.4, 0.45, "brown")]),
    "conference table": ("centre", [*_table("conference table", 2.2, 1.1, 0.75, -0.55),
                                    *_chair("chair", -0.6, -0.85, 1), *_chair("chair", 0.6, -0.85, 1),
                                    *_chair("chair", -0.6, 0.85, -1), *_chair("chair", 0.6, 0.85, -1)]),
    "projector screen": ("mount", [_b("projector screen", -1.0, 0, 0.8, 1.0, 0.03, 2.3)]),
    "tv": ("mount", [_b("tv", -0.6, 0, 1.0, 0.6, 0.06, 1.7)]),
    "coffee table": ("centre", [*_table("coffee table", 1.0, 0.6, 0.42, -0.3),
                                _b("rug", -1.1, -0.8, 0.0, 1.1, 0.8, 0.01)]),
    "locker": ("wall", [_b("locker", -0.6, 0, 0, 0.6, 0.5, 1.9),
                        _b(None, -0.02, 0.5, 0.1, 0.02, 0.51, 1.8, "dark grey")]),
    "reading table": ("centre", [*_table("reading table", 1.6, 0.8, 0.75, -0.4), *_chair("chair", -0.4, -0.7, 1),
                                 _b("globe", 0.45, -0.2, 0.75, 0.7, 0.05, 1.0, "blue", "cyl")]),
    "ladder": ("wall", [_b("ladder", x, 0.05, 0, x + 0.05, 0.15, 2.0) for x in (-0.25, 0.2)]
               + [_b("ladder", -0.25, 0.05, z, 0.25, 0.12, z + 0.04) for z in (0.4, 0.8, 1.2, 1.6)]),
}

# Room types: (recipes that are always there, optional recipes with their probability).
ROOM_TYPES: dict[str, tuple[list[str], list[tuple[str, float]]]] = {
    "kitchen": (["fridge", "sink", "stove"], [("microwave", 0.8), ("coffee machine", 0.6), ("dining table", 0.7),
                                              ("dishwasher", 0.4), ("trash can", 0.6)]),
    "office": (["desk"], [("desk", 0.6), ("bookshelf", 0.7), ("printer", 0.4), ("plant", 0.5), ("whiteboard", 0.5),
                          ("filing cabinet", 0.5)]),
    "bathroom": (["toilet", "washbasin"], [("shower", 0.5), ("towel rack", 0.6), ("trash can", 0.5)]),
    "bedroom": (["bed", "wardrobe"], [("nightstand", 0.9), ("desk", 0.4), ("plant", 0.3), ("tv", 0.3)]),
    "lab": (["lab bench", "fume hood"], [("lab bench", 0.6), ("shelf", 0.6), ("sink", 0.5),
                                         ("fire extinguisher", 0.7)]),
    "meeting room": (["conference table"], [("projector screen", 0.7), ("whiteboard", 0.6), ("plant", 0.4),
                                            ("tv", 0.3)]),
    "living room": (["sofa"], [("armchair", 0.8), ("coffee table", 0.8), ("tv", 0.7), ("bookshelf", 0.5),
                               ("plant", 0.6)]),
    "library": (["bookshelf", "bookshelf"], [("bookshelf", 0.8), ("reading table", 0.8), ("armchair", 0.5),
                                             ("plant", 0.3)]),
    "storage room": (["shelf"], [("shelf", 0.8), ("ladder", 0.5), ("locker", 0.5)]),
    "print room": (["photocopier", "printer"], [("shelf", 0.5), ("trash can", 0.6), ("notice board", 0.5)]),
    "lobby": (["elevator", "reception desk", "sofa"], [("vending machine", 0.9), ("water fountain", 0.6),
                                                      ("plant", 0.8), ("armchair", 0.6), ("fire extinguisher", 0.8),
                                                      ("coffee table", 0.5), ("notice board", 0.4)]),
    "corridor": ([], []),  # filled by length (see _corridor_recipes)
}
# Room types drawn for ordinary rooms, cycled so that every type appears before any repeats.
ORDINARY_TYPES = ["kitchen", "office", "bathroom", "meeting room", "lab", "bedroom", "living room", "library",
                  "storage room", "print room"]
CORE_TYPES = ("kitchen", "office", "bathroom", "meeting room")
CORRIDOR_ITEMS = [("fire extinguisher", 0.5), ("plant", 0.4), ("bench", 0.3), ("notice board", 0.35),
                  ("water fountain", 0.2), ("trash can", 0.3), ("vending machine", 0.1)]


@dataclass
class Door:
    """An opening between two rooms, centred at ``centre`` (x, y) in the wall plane along ``axis`` ("x" or "y")."""

    rooms: tuple[int, int]
    centre: tuple[float, float]
    axis: str  # the wall runs along this axis
    width: float = DOOR_W_M


@dataclass
class Room:
    id: int
    type: str
    name: str  # "kitchen 2" (numbered per type over the building)
    floor: int
    extent: tuple[float, float, float, float]  # x0, y0, x1, y1 (outer, walls included)
    z: float  # floor height of its storey
    wall_colour: str = "cream"
    floor_colour: str = "grey"
    doors: list[int] = field(default_factory=list)  # indices into Building.doors

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.extent
        return ((x0 + x1) / 2, (y0 + y1) / 2)

    def contains(self, x: float, y: float, z: float | None = None) -> bool:
        x0, y0, x1, y1 = self.extent
        inside = x0 <= x <= x1 and y0 <= y <= y1
        return inside and (z is None or self.z - 0.5 <= z < self.z + FLOOR_HEIGHT_M - 0.5)


@dataclass
class Obj:
    id: int
    cls: str
    colour: str
    room: int
    position: tuple[float, float, float]  # centre of its bounding box
    size: tuple[float, float, float]  # axis-aligned bounding box size

    @property
    def label(self) -> str:
        return self.cls


@dataclass
class Part:
    """One solid: an axis-aligned box or an upright cylinder (inscribed in the box), with its colour."""

    shape: str
    bounds: tuple[float, float, float, float, float, float]  # world x0, y0, z0, x1, y1, z1
    rgb: tuple[int, int, int]
    obj: int  # Obj id, -1 for walls, floors and fixtures
    room: int
    surface: str  # "wall", "floor", "ceiling", "object", "fixture"


@dataclass
class Building:
    seed: int
    floors: int
    rooms: list[Room]
    objects: list[Obj]
    doors: list[Door]
    parts: list[Part]
    elevator_xy: tuple[float, float]  # where the robot stands to ride the elevator (same on every floor)
    lobby_ids: list[int]  # the lobby of each floor

    @property
    def name(self) -> str:
        return f"sim_seed{self.seed}_f{self.floors}_r{sum(r.type != 'corridor' for r in self.rooms)}"

    def room_at(self, x: float, y: float, z: float) -> Room | None:
        for r in self.rooms:
            if r.contains(x, y, z):
                return r
        return None

    def ground_truth(self) -> dict[str, Any]:
        """Everything a scorer needs, as JSON-ready data (geometry parts are left out)."""
        return {
            "name": self.name, "seed": self.seed, "floors": self.floors, "floor_height_m": FLOOR_HEIGHT_M,
            "rooms": [asdict(r) for r in self.rooms],
            "objects": [asdict(o) for o in self.objects],
            "doors": [asdict(d) for d in self.doors],
            "elevator_xy": list(self.elevator_xy),
        }

    def mesh(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(vertices Nx3 float32, triangles Mx3 uint32, part index of each triangle M int32) of all parts."""
        verts, tris, owner = [], [], []
        n = 0
        for i, p in enumerate(self.parts):
            v, t = _BOX if p.shape == "box" else _CYL
            x0, y0, z0, x1, y1, z1 = p.bounds
            verts.append(v * np.array([x1 - x0, y1 - y0, z1 - z0]) + np.array([x0, y0, z0]))
            tris.append(t + n)
            owner.append(np.full(len(t), i, dtype=np.int32))
            n += len(v)
        return (np.concatenate(verts).astype(np.float32), np.concatenate(tris).astype(np.uint32),
                np.concatenate(owner))


def _unit_box() -> tuple[np.ndarray, np.ndarray]:
    v = np.array([[x, y, z] for z in (0, 1) for y in (0, 1) for x in (0, 1)], dtype=float)
    t = np.array([[0, 2, 1], [1, 2, 3], [4, 5, 6], [5, 7, 6], [0, 1, 4], [1, 5, 4], [2, 6, 3], [3, 6, 7],
                  [0, 4, 2], [2, 4, 6], [1, 3, 5], [3, 7, 5]])
    return v, t


def _unit_cylinder(n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """An upright cylinder inscribed in the unit cube, n sides, closed at both ends."""
    a = np.linspace(0, 2 * math.pi, n, endpoint=False)
    ring = np.stack([0.5 + 0.5 * np.cos(a), 0.5 + 0.5 * np.sin(a)], axis=1)
    v = np.concatenate([np.c_[ring, np.zeros(n)], np.c_[ring, np.ones(n)], [[0.5, 0.5, 0.0], [0.5, 0.5, 1.0]]])
    t = []
    for i in range(n):
        j = (i + 1) % n
        t += [[i, j, n + i], [j, n + j, n + i], [2 * n, j, i], [2 * n + 1, n + i, n + j]]
    return v, np.array(t)


_BOX = _unit_box()
_CYL = _unit_cylinder()


# -- layout ------------------------------------------------------------------------------------------------------

@dataclass
class _Wall:
    """One inner wall face of a room: runs along ``axis`` from ``a0`` to ``a1`` at ``at``; ``inward`` is +1/-1."""

    axis: str
    at: float
    a0: float
    a1: float
    inward: int
    gaps: list[tuple[float, float]] = field(default_factory=list)  # door openings along the wall


class _Builder:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.rooms: list[Room] = []
        self.objects: list[Obj] = []
        self.doors: list[Door] = []
        self.parts: list[Part] = []
        self.type_counts: dict[str, int] = {}
        self.type_cycle: list[str] = []

    def next_type(self) -> str:
        if not self.type_cycle:
            # The first rooms of a building are the common kinds, so that even a small one has a kitchen,
            # a bathroom and an office; then every type appears once per cycle.
            core = [t for t in ORDINARY_TYPES if t in CORE_TYPES]
            rest = [t for t in ORDINARY_TYPES if t not in CORE_TYPES]
            self.rng.shuffle(core)
            self.rng.shuffle(rest)
            self.type_cycle = (rest + core) if not self.type_counts.get("kitchen") else (rest + core)[::-1]
        return self.type_cycle.pop()

    def add_room(self, rtype: str, floor: int, extent: tuple[float, float, float, float]) -> Room:
        self.type_counts[rtype] = self.type_counts.get(rtype, 0) + 1
        wall = self.rng.choice(["grey", "white"] if rtype == "corridor" else WALL_COLOURS)
        room = Room(len(self.rooms), rtype, f"{rtype} {self.type_counts[rtype]}", floor, extent,
                    floor * FLOOR_HEIGHT_M, wall, self.rng.choice(FLOOR_COLOURS))
        self.rooms.append(room)
        return room

    def add_door(self, a: Room, b: Room, centre: tuple[float, float], axis: str, width: float = DOOR_W_M) -> None:
        self.doors.append(Door((a.id, b.id), centre, axis, width))
        a.doors.append(len(self.doors) - 1)
        b.doors.append(len(self.doors) - 1)


def _walls(room: Room, doors: list[Door]) -> list[_Wall]:
    x0, y0, x1, y1 = room.extent
    t = WALL_T_M
    walls = [_Wall("x", y0 + t, x0, x1, +1), _Wall("x", y1 - t, x0, x1, -1),
             _Wall("y", x0 + t, y0, y1, +1), _Wall("y", x1 - t, y0, y1, -1)]
    for di in room.doors:
        d = doors[di]
        for w in walls:
            along, across = (d.centre[0], d.centre[1]) if w.axis == "x" else (d.centre[1], d.centre[0])
            if d.axis == w.axis and abs(across - w.at) < 2 * t + 1e-6:
                w.gaps.append((along - d.width / 2, along + d.width / 2))
    return walls


def _wall_parts(b: _Builder, room: Room) -> None:
    """Floor, ceiling and walls (with door openings and lintels) of one room."""
    x0, y0, x1, y1 = room.extent
    z = room.z
    wall_rgb, floor_rgb = COLOURS[room.wall_colour], COLOURS[room.floor_colour]
    ceiling_rgb = (225, 225, 220)
    b.parts.append(Part("box", (x0, y0, z - 0.05, x1, y1, z), floor_rgb, -1, room.id, "floor"))
    b.parts.append(Part("box", (x0, y0, z + WALL_HEIGHT_M, x1, y1, z + WALL_HEIGHT_M + 0.05), ceiling_rgb, -1,
                        room.id, "ceiling"))
    t = WALL_T_M
    for w in _walls(room, b.doors):
        cuts = sorted(w.gaps)
        segs, start = [], w.a0
        for g0, g1 in cuts:
            segs.append((start, g0, 0.0, WALL_HEIGHT_M))
            segs.append((g0, g1, DOOR_H_M, WALL_HEIGHT_M))  # lintel above the opening
            start = g1
        segs.append((start, w.a1, 0.0, WALL_HEIGHT_M))
        lo, hi = (w.at - t, w.at) if w.inward > 0 else (w.at, w.at + t)
        for s0, s1, h0, h1 in segs:
            if s1 - s0 < 1e-3:
                continue
            bounds = ((s0, lo, z + h0, s1, hi, z + h1) if w.axis == "x" else (lo, s0, z + h0, hi, s1, z + h1))
            b.parts.append(Part("box", bounds, wall_rgb, -1, room.id, "wall"))


def _place_objects(b: _Builder, room: Room, recipes: list[str], keep_free: list[tuple[float, float, float, float]],
                   fixed: dict[str, tuple[int, float]] | None = None) -> None:
    """Put each recipe against a free stretch of wall (or in the free middle) without overlapping anything placed
    before, the door approaches or the robot's standing points (``keep_free``: x0, y0, x1, y1 rectangles).
    ``fixed``: recipe -> (wall index, position along it) for things that must be at a known place (the elevator)."""
    walls = _walls(room, b.doors)
    taken: list[tuple[float, float, float, float, float, float]] = [(*r[:2], 0.0, *r[2:], 2.2) for r in keep_free]
    for name in recipes:
        placement, specs = RECIPES[name]
        lx0 = min(s[2][0] for s in specs)
        lx1 = max(s[2][3] for s in specs)
        ly0 = min(s[2][1] for s in specs)
        ly1 = max(s[2][4] for s in specs)
        lz0 = min(s[2][2] for s in specs)
        lz1 = max(s[2][5] for s in specs)
        candidates: list[tuple[int, float]] = []
        centre_offsets: list[tuple[float, float]] = []
        if fixed and name in fixed:
            candidates = [fixed[name]]
        elif placement == "centre":
            # Near the middle first; shifted away from door approaches when the middle is taken.
            offsets = [(dx, dy) for dx in (0.0, 0.5, -0.5, 1.0, -1.0) for dy in (0.0, 0.5, -0.5, 1.0, -1.0)]
            centre_offsets = sorted(offsets, key=lambda o: math.hypot(*o))
        else:
            order = list(range(4))
            b.rng.shuffle(order)
            for wi in order:
                w = walls[wi]
                span = np.arange(w.a0 + WALL_T_M + 0.1 - lx0, w.a1 - WALL_T_M - 0.1 - lx1 + 1e-9, 0.25)
                pos = list(span)
                b.rng.shuffle(pos)
                candidates += [(wi, float(p)) for p in pos]
        candidates += [(-1 - i, 0.0) for i in range(len(centre_offsets))]
        for wi, along in candidates:
            if wi < 0:  # centre placement, shifted by one of the offsets
                dx, dy = centre_offsets[-1 - wi]
                cx, cy = room.centre[0] + dx, room.centre[1] + dy
                box = (cx + lx0, cy + ly0, lz0, cx + lx1, cy + ly1, lz1)
                origin, ax, inward = (cx, cy), "x", 1
            else:
                w = walls[wi]
                if any(g0 - 0.15 < along + lx1 and along + lx0 < g1 + 0.15 for g0, g1 in w.gaps):
                    continue
                ax, inward = w.axis, w.inward
                origin = (along, w.at) if w.axis == "x" else (w.at, along)
                box = _to_world_box((lx0, ly0, lz0, lx1, ly1, lz1), origin, ax, inward)
            if not _inside(box, room) or any(_overlap(box, o) for o in taken):
                continue
            if placement == "mount":
                taken.append((box[0], box[1], box[2], box[3], box[4], box[5]))
            else:
                taken.append((box[0], box[1], 0.0, box[3], box[4], max(box[5], 2.2)))
            _emit(b, room, specs, origin, ax, inward)
            break


def _to_world_box(lb: tuple[float, ...], origin: tuple[float, float], axis: str, inward: int) -> tuple[float, ...]:
    x0, y0, z0, x1, y1, z1 = lb
    if axis == "x":  # wall along x: local x -> world x (mirrored when facing -y), local y -> world +-y
        xs = sorted((origin[0] + inward * x0, origin[0] + inward * x1))
        ys = sorted((origin[1] + inward * y0, origin[1] + inward * y1))
    else:  # wall along y: local x -> world y, local y -> world +-x
        ys = sorted((origin[1] - inward * x0, origin[1] - inward * x1))
        xs = sorted((origin[0] + inward * y0, origin[0] + inward * y1))
    return (xs[0], ys[0], z0, xs[1], ys[1], z1)


def _inside(box: tuple[float, ...], room: Room) -> bool:
    x0, y0, x1, y1 = room.extent
    e = WALL_T_M - 1e-6
    return box[0] >= x0 + e and box[1] >= y0 + e and box[3] <= x1 - e and box[4] <= y1 - e


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[3] and b[0] < a[3] and a[1] < b[4] and b[1] < a[4] and a[2] < b[5] and b[2] < a[5]


def _emit(b: _Builder, room: Room, specs: list[PartSpec], origin: tuple[float, float], axis: str,
          inward: int) -> None:
    """Parts of one placed recipe; each distinct label becomes one Obj with its own drawn colour."""
    colours: dict[str, str] = {}
    boxes: dict[str, list[tuple[float, ...]]] = {}
    labelled: list[tuple[Part, str]] = []
    for label, shape, lb, colour in specs:
        box = _to_world_box(lb, origin, axis, inward)
        box = (box[0], box[1], box[2] + room.z, box[3], box[4], box[5] + room.z)
        if label is None:
            b.parts.append(Part(shape, box, COLOURS[colour], -1, room.id, "fixture"))
            continue
        if label not in colours:
            choices = CLASS_COLOURS.get(label, ["grey"])
            colours[label] = choices[0] if b.rng.random() < 0.5 else b.rng.choice(choices)
            boxes[label] = []
        boxes[label].append(box)
        part = Part(shape, box, COLOURS[colours[label] if colour == "main" else colour], -1, room.id, "object")
        b.parts.append(part)
        labelled.append((part, label))
    ids: dict[str, int] = {}
    for label, bl in boxes.items():
        bx = np.array(bl)
        lo, hi = bx[:, :3].min(axis=0), bx[:, 3:].max(axis=0)
        obj = Obj(len(b.objects), label, colours[label], room.id, tuple(float(v) for v in (lo + hi) / 2),
                  tuple(float(v) for v in hi - lo))
        b.objects.append(obj)
        ids[label] = obj.id
    for part, label in labelled:
        part.obj = ids[label]


def _corridor_recipes(b: _Builder, length: float) -> list[str]:
    out = []
    for _ in range(max(1, int(length / 4.0))):
        for name, p in CORRIDOR_ITEMS:
            if b.rng.random() < p / 2:
                out.append(name)
    return out


def _recipes_for(b: _Builder, rtype: str) -> list[str]:
    must, optional = ROOM_TYPES[rtype]
    return list(must) + [name for name, p in optional if b.rng.random() < p]


def generate_building(seed: int = 0, floors: int = 1, rooms_per_floor: int = 8) -> Building:
    """A building of ``floors`` storeys, each with ``rooms_per_floor`` rooms (the lobby included, corridors not).

    Deterministic for a seed. Rooms are 3.5-6 m wide and 5 m deep; corridors are 2.2 m wide.
    """
    if floors < 1 or rooms_per_floor < 2:
        raise ValueError("a building needs at least 1 floor and 2 rooms per floor (a lobby and one more)")
    b = _Builder(seed)
    n_ordinary = rooms_per_floor - 1
    n_bands = max(1, math.ceil(n_ordinary / (2 * ROOMS_PER_SIDE)))
    band_h = 2 * ROOM_DEPTH_M + CORRIDOR_W_M
    lobby_ids: list[int] = []
    elevator_xy = (0.0, 0.0)
    for f in range(floors):
        # Split this floor's rooms over bands and sides; room widths are drawn per room.
        per_band = [n_ordinary // n_bands + (1 if i < n_ordinary % n_bands else 0) for i in range(n_bands)]
        corridors: list[Room] = []
        band_rooms: list[list[Room]] = []
        for bi, n in enumerate(per_band):
            y_base = bi * band_h
            sides = [n // 2 + n % 2, n // 2]  # south, north
            rows: list[list[tuple[float, float]]] = []
            for count in sides:
                xs, x = [], 0.0
                for _ in range(count):
                    w = round(b.rng.uniform(3.6, 6.0), 1)
                    xs.append((x, round(x + w, 2)))
                    x = round(x + w, 2)
                rows.append(xs)
            length = max([r[-1][1] for r in rows if r] + [4.0])
            corridor = b.add_room("corridor", f, (0.0, y_base + ROOM_DEPTH_M, length, y_base + ROOM_DEPTH_M +
                                                  CORRIDOR_W_M))
            corridors.append(corridor)
            rooms_here = []
            for side, xs in enumerate(rows):
                for rx0, rx1 in xs:
                    if side == 0:
                        ext = (rx0, y_base, rx1, y_base + ROOM_DEPTH_M)
                        door_y = y_base + ROOM_DEPTH_M
                    else:
                        ext = (rx0, y_base + ROOM_DEPTH_M + CORRIDOR_W_M, rx1, y_base + band_h)
                        door_y = ext[1]
                    room = b.add_room(b.next_type(), f, ext)
                    door_x = round((rx0 + rx1) / 2 + b.rng.uniform(-0.25, 0.25) * (rx1 - rx0 - 1.6), 2)
                    b.add_door(room, corridor, (door_x, door_y), "x")
                    rooms_here.append(room)
            band_rooms.append(rooms_here)
        # The spine joins the corridors' west ends; the lobby lies west of the spine.
        sy0 = ROOM_DEPTH_M
        sy1 = (n_bands - 1) * band_h + ROOM_DEPTH_M + CORRIDOR_W_M
        spine = b.add_room("corridor", f, (-CORRIDOR_W_M, sy0, 0.0, sy1))
        for c in corridors:
            b.add_door(spine, c, (0.0, (c.extent[1] + c.extent[3]) / 2), "y", CORRIDOR_W_M - 2 * WALL_T_M - 0.2)
        ly_mid = (sy0 + sy1) / 2
        lh = max(LOBBY_W_M, sy1 - sy0)
        lobby = b.add_room("lobby", f, (-CORRIDOR_W_M - LOBBY_W_M, round(ly_mid - lh / 2, 3), -CORRIDOR_W_M,
                                        round(ly_mid + lh / 2, 3)))
        b.add_door(lobby, spine, (-CORRIDOR_W_M, ly_mid), "y", 1.6)
        lobby_ids.append(lobby.id)
        # Contents. Keep free: each door's approach and the robot's standing point inside each room.
        for room in [*[r for rs in band_rooms for r in rs], *corridors, spine, lobby]:
            _wall_parts(b, room)
            free = [_approach(b.doors[d], room) for d in room.doors]
            if room.type == "corridor":
                x0, y0, x1, y1 = room.extent
                # The walking lane along the corridor's middle stays clear.
                if x1 - x0 > y1 - y0:
                    free.append((x0, (y0 + y1) / 2 - 0.55, x1, (y0 + y1) / 2 + 0.55))
                else:
                    free.append(((x0 + x1) / 2 - 0.55, y0, (x0 + x1) / 2 + 0.55, y1))
                _place_objects(b, room, _corridor_recipes(b, max(x1 - x0, y1 - y0)), free)
            elif room.type == "lobby":
                x0, y0, x1, y1 = room.extent
                # The elevator sits mid-way along the lobby's west wall on every floor (wall index 2 = west).
                fixed = {"elevator": (2, ly_mid)}
                elevator_xy = (round(x0 + WALL_T_M + VIEW_IN_M, 3), ly_mid)
                ex, ey = elevator_xy
                free.append((x0 + WALL_T_M + 0.1, ey - 0.8, ex + 0.6, ey + 0.8))
                free.append((x0 + 1.5, ly_mid - 0.8, x1, ly_mid + 0.8))  # the walk from the door to the elevator
                _place_objects(b, room, _recipes_for(b, "lobby"), free, fixed)
            else:
                _place_objects(b, room, _recipes_for(b, room.type), free)
    return Building(seed, floors, b.rooms, b.objects, b.doors, b.parts, elevator_xy, lobby_ids)


def _approach(door: Door, room: Room) -> tuple[float, float, float, float]:
    """The floor area inside ``room`` that must stay free: from the door to the robot's standing point and a
    little around it."""
    cx, cy = door.centre
    half = max(door.width, 1.2) / 2 + 0.2
    depth = VIEW_IN_M + 0.6
    if door.axis == "x":
        inward = 1 if room.centre[1] > cy else -1
        ys = sorted((cy, cy + inward * depth))
        return (cx - half, ys[0], cx + half, ys[1])
    inward = 1 if room.centre[0] > cx else -1
    xs = sorted((cx, cx + inward * depth))
    return (xs[0], cy - half, xs[1], cy + half)


def view_point(building: Building, room: Room, door: Door) -> tuple[float, float]:
    """Where the robot stands inside ``room`` after coming through ``door``: on the door's axis, VIEW_IN_M in (on
    the middle line for corridors, whichever end or side the door is on)."""
    cx, cy = door.centre
    x0, y0, x1, y1 = room.extent
    half_width = min(x1 - x0, y1 - y0) / 2
    if door.axis == "x":
        inward = 1 if room.centre[1] > cy else -1
        depth = half_width if room.type == "corridor" else min(VIEW_IN_M, (y1 - y0) / 2)
        return (cx, cy + inward * depth)
    inward = 1 if room.centre[0] > cx else -1
    depth = half_width if room.type == "corridor" else min(VIEW_IN_M, (x1 - x0) / 2)
    return (cx + inward * depth, cy)
