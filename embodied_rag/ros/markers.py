"""RViz markers of a memory: a pure function of the memory and the last answer (drawing only, no algorithm).

Namespaces (``Marker.ns``), in array order after one DELETEALL that clears what an earlier array drew:
- ``keyframes``: one POINTS marker, a point per keyframe at its camera position, coloured by its level-1 area;
- ``travel``: one LINE_LIST marker, a segment per travel edge of the topological graph;
- ``areas``: one SPHERE_LIST marker per forest level, a sphere per area at its centroid raised to
  ``base + level * level_height``; ``links``: one LINE_LIST per level from each area to its children;
- ``labels``: a TEXT_VIEW_FACING marker per area (its name), id = area id;
- ``objects``: per confirmed object instance a CUBE at its position (id = 2 * instance id), sized by what depth
  showed of it and coloured by its colour name when it has one, and a TEXT_VIEW_FACING label above it ("red
  armchair", id = 2 * instance id + 1); the object of the last answer is drawn larger;
- ``evidence``: a SPHERE_LIST over the last answer's evidence (keyframes, areas, objects); ``goal``: an ARROW.
"""

from __future__ import annotations

import colorsys
from typing import Any

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from embodied_rag.memory.memory import Memory
from embodied_rag.retrieval.answer import Answer

GOLDEN = 0.618033988749895
# Colour names detectors report, drawn as themselves; other objects are drawn in OBJECT_DEFAULT.
NAMED_COLOURS = {"red": (0.9, 0.1, 0.1), "green": (0.1, 0.75, 0.2), "blue": (0.15, 0.35, 0.95),
                 "yellow": (0.95, 0.85, 0.1), "orange": (1.0, 0.55, 0.0), "purple": (0.6, 0.2, 0.8),
                 "pink": (1.0, 0.5, 0.7), "brown": (0.55, 0.35, 0.15), "black": (0.1, 0.1, 0.1),
                 "white": (0.95, 0.95, 0.95), "grey": (0.55, 0.55, 0.55), "gray": (0.55, 0.55, 0.55)}
OBJECT_DEFAULT = (0.0, 0.8, 0.8)


def area_colour(area_id: int | None, alpha: float = 1.0) -> ColorRGBA:
    """A stable, well-spread colour per area id (grey for keyframes without an area)."""
    if area_id is None:
        return ColorRGBA(r=0.6, g=0.6, b=0.6, a=alpha)
    r, g, b = colorsys.hsv_to_rgb((area_id * GOLDEN) % 1.0, 0.75, 0.95)
    return ColorRGBA(r=r, g=g, b=b, a=alpha)


def object_colour(colour: str, alpha: float = 0.8) -> ColorRGBA:
    r, g, b = NAMED_COLOURS.get(colour.strip().lower(), OBJECT_DEFAULT)
    return ColorRGBA(r=r, g=g, b=b, a=alpha)


def _point(xyz: Any, z: float | None = None) -> Point:
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2] if z is None else z))


def _marker(frame_id: str, stamp: Time, ns: str, mid: int, kind: int, scale: tuple[float, float, float],
            colour: ColorRGBA) -> Marker:
    m = Marker()
    m.header.frame_id = frame_id
    m.header.stamp = stamp
    m.ns, m.id, m.type, m.action = ns, mid, kind, Marker.ADD
    m.pose.orientation.w = 1.0
    m.scale.x, m.scale.y, m.scale.z = scale
    m.color = colour
    m.frame_locked = False
    return m


def build_markers(memory: Memory, answer: Answer | None = None, frame_id: str = "map", stamp: Time | None = None,
                  level_height: float = 2.5, point_size: float = 0.25) -> MarkerArray:
    stamp = stamp or Time()
    out = MarkerArray()
    clear = Marker()
    clear.header.frame_id, clear.header.stamp = frame_id, stamp
    clear.action = Marker.DELETEALL
    out.markers.append(clear)

    kfs = memory.keyframes
    forest = memory.forest
    base = max((kf.pose.position[2] for kf in kfs.values()), default=0.0)

    def height(level: int) -> float:
        return base + level * level_height

    pts = _marker(frame_id, stamp, "keyframes", 0, Marker.POINTS, (point_size, point_size, 0.0), area_colour(None))
    for kid in sorted(kfs):
        pts.points.append(_point(kfs[kid].pose.position))
        pts.colors.append(area_colour(forest.leaf_parent.get(kid)))
    out.markers.append(pts)

    travel = _marker(frame_id, stamp, "travel", 0, Marker.LINE_LIST, (0.05, 0.0, 0.0),
                     ColorRGBA(r=0.3, g=0.3, b=0.3, a=0.8))
    for a, b in sorted(memory.graph.travel_edges()):
        if a in kfs and b in kfs:
            travel.points += [_point(kfs[a].pose.position), _point(kfs[b].pose.position)]
    out.markers.append(travel)

    def node_point(nid: int) -> Point:
        n = forest.nodes[nid]
        return _point(n.centroid, height(n.level))

    for level in range(1, forest.depth + 1):
        nodes = sorted(forest.level_nodes(level), key=lambda n: n.id)
        size = 0.4 + 0.15 * level
        spheres = _marker(frame_id, stamp, "areas", level, Marker.SPHERE_LIST, (size, size, size), area_colour(None))
        links = _marker(frame_id, stamp, "links", level, Marker.LINE_LIST, (0.03, 0.0, 0.0),
                        ColorRGBA(r=0.5, g=0.5, b=0.8, a=0.5))
        for n in nodes:
            p = node_point(n.id)
            spheres.points.append(p)
            spheres.colors.append(area_colour(n.id, 0.9))
            for c in n.children:
                if level == 1:
                    if c in kfs:
                        links.points += [p, _point(kfs[c].pose.position)]
                elif c in forest.nodes:
                    links.points += [p, node_point(c)]
            label = _marker(frame_id, stamp, "labels", n.id, Marker.TEXT_VIEW_FACING, (0.0, 0.0, 0.3 + 0.1 * level),
                            ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0))
            label.pose.position = Point(x=p.x, y=p.y, z=p.z + size)
            label.text = n.name or f"area {n.id}"
            out.markers.append(label)
        out.markers += [spheres, links]

    answered = (answer.object or {}).get("id") if answer is not None else None
    for inst in sorted(memory.objects.confirmed(), key=lambda i: i.id):
        side = min(2.0, max(0.3, 2.0 * float(inst.extent)))
        if inst.id == answered:
            side *= 1.5
        cube = _marker(frame_id, stamp, "objects", 2 * inst.id, Marker.CUBE, (side, side, side),
                       object_colour(inst.colour, 1.0 if inst.id == answered else 0.8))
        cube.pose.position = _point(inst.position)
        text = _marker(frame_id, stamp, "objects", 2 * inst.id + 1, Marker.TEXT_VIEW_FACING, (0.0, 0.0, 0.3),
                       ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0))
        text.pose.position = _point(inst.position, float(inst.position[2]) + side / 2 + 0.25)
        text.text = inst.name
        out.markers += [cube, text]

    if answer is not None:
        ev = _marker(frame_id, stamp, "evidence", 0, Marker.SPHERE_LIST, (0.6, 0.6, 0.6),
                     ColorRGBA(r=1.0, g=0.85, b=0.0, a=0.9))
        for ref in answer.evidence:
            kind, _, num = ref.partition(":")
            if not num.isdigit():
                continue
            if kind == "kf" and int(num) in kfs:
                ev.points.append(_point(kfs[int(num)].pose.position))
            elif kind == "node" and int(num) in forest.nodes:
                ev.points.append(node_point(int(num)))
            elif kind == "obj" and int(num) in memory.objects.instances:
                ev.points.append(_point(memory.objects.instances[int(num)].position))
        out.markers.append(ev)
        if answer.goal is not None:
            g = answer.goal
            arrow = _marker(frame_id, stamp, "goal", 0, Marker.ARROW, (1.0, 0.15, 0.15),
                            ColorRGBA(r=0.1, g=0.9, b=0.2, a=1.0))
            arrow.header.frame_id = g.frame_id
            arrow.pose.position = _point(g.position)
            o = arrow.pose.orientation
            o.x, o.y, o.z, o.w = (float(v) for v in g.orientation)
            out.markers.append(arrow)
    return out


def count_by_namespace(markers: MarkerArray) -> dict[str, int]:
    """How many markers each namespace holds (tests and diagnostics)."""
    counts: dict[str, int] = {}
    for m in markers.markers:
        if m.action == Marker.ADD:
            counts[m.ns] = counts.get(m.ns, 0) + 1
    return counts
