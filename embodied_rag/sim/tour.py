"""A robot's tour of a :class:`Building`: through every room along the room/door graph at walking speed.

The robot starts in the ground-floor lobby, walks each corridor visiting its rooms in order, stops a little inside
every room (and the lobby) and turns once around to look at it, and rides the elevator to the next floor. Poses are
sampled at ``fps`` while it moves or turns; the elevator ride itself is not filmed.

Frames carry the camera pose (optical frame), the rendered image and depth (``render=True``) or nothing but labels
(``render=False``: visibility from a coarse ray-cast id image, cheap enough for tens of thousands of frames), and a
detector-style caption: the room type (a stand-in for a scene classifier) and the coloured labels of the objects
that cover at least a few pixels, with their boxes (from the object-id image, through :class:`SimDetector`: perfect,
or with realistic faults) and the depth image.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import networkx as nx
import numpy as np

from embodied_rag.io.frame import Frame
from embodied_rag.memory.detection import CameraModel, Detection
from embodied_rag.memory.pose import Pose, yaw_quaternion
from embodied_rag.sim.building import FLOOR_HEIGHT_M, Building, view_point
from embodied_rag.sim.detector import SensorFaults, SimDetector, object_boxes
from embodied_rag.sim.render import Renderer

NS = 1_000_000_000
# Robot base (REP-103: x forward, z up) to the camera's optical frame: 0.1 m ahead of the base centre, 1.2 m up,
# looking forward. ``ingest.body_to_camera`` must be this transform to turn the recorded odometry into camera poses.
BODY_TO_CAMERA = Pose((0.1, 0.0, 1.2), (-0.5, 0.5, -0.5, 0.5))
START_NS = 1_700_000_000 * NS
ELEVATOR_RIDE_S = 12.0
MAX_CAPTION_ITEMS = 8


@dataclass(frozen=True)
class BasePose:
    stamp_ns: int
    x: float
    y: float
    z: float
    yaw: float
    room: int  # room the robot stands in (-1 in a doorway's wall thickness)

    def pose(self) -> Pose:
        return Pose((self.x, self.y, self.z), yaw_quaternion(self.yaw))


def waypoint_graph(building: Building) -> nx.Graph:
    """Nodes: each room's standing point per door ("view"), doors ("door"), elevator spots ("elev"); edges are
    straight walks (or elevator rides between floors), weighted by length. Every room is convex and its standing
    points and door approaches are kept free of furniture, so straight lines between them are walkable."""
    g = nx.Graph()
    for room in building.rooms:
        nodes = []
        for di in room.doors:
            door = building.doors[di]
            vx, vy = view_point(building, room, door)
            node = ("view", room.id, di)
            g.add_node(node, xy=(vx, vy), floor=room.floor, room=room.id)
            g.add_node(("door", di), xy=door.centre, floor=room.floor, room=-1)
            g.add_edge(node, ("door", di), length=math.dist((vx, vy), door.centre))
            nodes.append(node)
        if room.type == "corridor":
            # Standing points lie on the corridor's middle line: chain them along it.
            x0, y0, x1, y1 = room.extent
            axis = 0 if x1 - x0 >= y1 - y0 else 1
            nodes.sort(key=lambda n: g.nodes[n]["xy"][axis])
            for a, b in zip(nodes, nodes[1:]):
                g.add_edge(a, b, length=math.dist(g.nodes[a]["xy"], g.nodes[b]["xy"]))
        else:
            for i, a in enumerate(nodes):
                for b in nodes[i + 1:]:
                    g.add_edge(a, b, length=math.dist(g.nodes[a]["xy"], g.nodes[b]["xy"]))
    for f, lobby_id in enumerate(building.lobby_ids):
        lobby = building.rooms[lobby_id]
        g.add_node(("elev", f), xy=building.elevator_xy, floor=f, room=lobby_id)
        for di in lobby.doors:
            v = ("view", lobby_id, di)
            g.add_edge(v, ("elev", f), length=math.dist(g.nodes[v]["xy"], building.elevator_xy))
        if f > 0:
            g.add_edge(("elev", f - 1), ("elev", f), length=0.0, elevator=True)
    return g


def visit_order(building: Building, g: nx.Graph) -> list[tuple]:
    """Graph nodes to stop and look around at, in order: per floor the lobby, then each corridor's rooms by their
    door's position along it, then the elevator up."""
    stops: list[tuple] = []
    for f in range(building.floors):
        if f > 0:
            stops.append(("elev", f))
        lobby = building.rooms[building.lobby_ids[f]]
        stops.append(("view", lobby.id, lobby.doors[0]))
        corridors = [r for r in building.rooms if r.floor == f and r.type == "corridor"
                     and (r.extent[2] - r.extent[0]) > (r.extent[3] - r.extent[1])]
        for c in sorted(corridors, key=lambda r: r.extent[1]):
            rooms = []
            for di in c.doors:
                other = [i for i in building.doors[di].rooms if i != c.id][0]
                if building.rooms[other].type not in ("corridor", "lobby"):
                    rooms.append((building.doors[di].centre[0], building.doors[di].centre[1], other, di))
            for _x, _y, rid, di in sorted(rooms):
                stops.append(("view", rid, di))
        if f + 1 < building.floors:
            stops.append(("elev", f))
    return stops


class Tour:
    """The tour as frames (iterate) and as base poses (``base_poses``, computed up front and cheaply).

    While iterating, ``seen`` collects object id -> indices of the frames it was visible in, and ``visible`` the
    visible object ids (with pixel counts) of each frame, for ground truth and query generation.
    """

    def __init__(self, building: Building, fps: float = 2.0, speed_mps: float = 1.0, turn_deg_s: float = 60.0,
                 render: bool = True, width: int = 320, height: int = 240, fov_deg: float = 70.0,
                 start_ns: int = START_NS, scene_label: bool = True, label_size: tuple[int, int] = (64, 48),
                 renderer: Renderer | None = None, body_to_camera: Pose = BODY_TO_CAMERA,
                 faults: SensorFaults | None = None, sensor_seed: int = 0):
        if fps <= 0 or speed_mps <= 0 or turn_deg_s <= 0:
            raise ValueError("fps, speed_mps and turn_deg_s must be positive")
        self.building = building
        self.fps, self.speed, self.turn_rate = fps, speed_mps, math.radians(turn_deg_s)
        self.render = render
        self.scene_label = scene_label
        self.label_size = label_size
        self.body_to_camera = body_to_camera
        self.renderer = renderer or Renderer(building, width, height, fov_deg)
        self.detector = SimDetector(building, faults, seed=sensor_seed)
        self.start_ns = start_ns
        self.base_poses = self._plan()
        self.seen: dict[int, list[int]] = {}
        self.visible: list[dict[int, int]] = []

    def __len__(self) -> int:
        return len(self.base_poses)

    @property
    def length_m(self) -> float:
        p = self.base_poses
        return float(sum(math.dist((a.x, a.y), (b.x, b.y)) for a, b in zip(p, p[1:]) if a.z == b.z))

    def camera_pose(self, bp: BasePose) -> Pose:
        return bp.pose().compose(self.body_to_camera)

    # -- motion ----------------------------------------------------------------------------------------------------

    def _plan(self) -> list[BasePose]:
        b = self.building
        g = waypoint_graph(b)
        stops = visit_order(b, g)
        # Segments: (duration s, function of local time -> (x, y, floor, yaw), filmed?)
        segs: list[tuple[float, object, bool]] = []
        x, y = g.nodes[stops[0]]["xy"]
        floor = 0
        yaw = 0.0

        def turn_to(target: float, x: float, y: float, fl: int) -> None:
            nonlocal yaw
            d = (target - yaw + math.pi) % (2 * math.pi) - math.pi  # the shorter way round
            if abs(d) > 1e-6:
                segs.append((abs(d) / self.turn_rate, lambda t, y0=yaw, d=d, x=x, y=y, fl=fl:
                             (x, y, fl, y0 + math.copysign(min(abs(d), self.turn_rate * t), d)), True))
                yaw += d

        for si, stop in enumerate(stops):
            if si > 0:
                path = nx.shortest_path(g, stops[si - 1], stop, weight="length")
                for a, c in zip(path, path[1:]):
                    if g.edges[a, c].get("elevator"):
                        floor = g.nodes[c]["floor"]
                        segs.append((ELEVATOR_RIDE_S, lambda t, x=x, y=y, fl=floor, yw=yaw: (x, y, fl, yw), False))
                        continue
                    nx_, ny_ = g.nodes[c]["xy"]
                    dist = math.dist((x, y), (nx_, ny_))
                    if dist < 1e-6:
                        continue
                    turn_to(math.atan2(ny_ - y, nx_ - x), x, y, floor)
                    segs.append((dist / self.speed, lambda t, x0=x, y0=y, x1=nx_, y1=ny_, d=dist, fl=floor,
                                 yw=yaw: (x0 + (x1 - x0) * min(1.0, t * self.speed / d),
                                          y0 + (y1 - y0) * min(1.0, t * self.speed / d), fl, yw), True))
                    x, y = nx_, ny_
            if stop[0] == "view" or (stop[0] == "elev" and si == len(stops) - 1):
                y0 = yaw
                segs.append((2 * math.pi / self.turn_rate, lambda t, x=x, y=y, fl=floor, y0=y0:
                             (x, y, fl, y0 + min(2 * math.pi, self.turn_rate * t)), True))
        return self._sample(segs)

    def _sample(self, segs: list) -> list[BasePose]:
        dt = 1.0 / self.fps
        out: list[tuple[float, float, float, int, float]] = []
        t0 = 0.0
        next_t = 0.0
        for dur, fn, filmed in segs:
            while next_t < t0 + dur - 1e-9:
                if filmed:
                    x, y, fl, yw = fn(next_t - t0)
                    out.append((next_t, x, y, fl, yw))
                next_t += dt
            t0 += dur
        if segs:  # the last pose, so the tour ends where the robot stopped
            x, y, fl, yw = segs[-1][1](segs[-1][0])
            if not out or next_t - dt < t0 - 1e-6:
                out.append((next_t, x, y, fl, yw))
        rooms = self._rooms([(o[1], o[2], o[3]) for o in out])
        return [BasePose(self.start_ns + int(round(t * NS)), float(x), float(y), fl * FLOOR_HEIGHT_M,
                         float((yw + math.pi) % (2 * math.pi) - math.pi), r)
                for (t, x, y, fl, yw), r in zip(out, rooms)]

    def _rooms(self, xyf: list[tuple[float, float, int]]) -> list[int]:
        if not xyf:
            return []
        rooms = self.building.rooms
        ext = np.array([r.extent for r in rooms])
        fl = np.array([r.floor for r in rooms])
        out = []
        for i in range(0, len(xyf), 4096):  # bounded memory for huge tours
            p = np.array(xyf[i:i + 4096], dtype=float)
            inside = ((ext[None, :, 0] <= p[:, None, 0]) & (p[:, None, 0] <= ext[None, :, 2])
                      & (ext[None, :, 1] <= p[:, None, 1]) & (p[:, None, 1] <= ext[None, :, 3])
                      & (fl[None, :] == p[:, None, 2]))
            out += [int(row.argmax()) if row.any() else -1 for row in inside]
        return out

    # -- frames ----------------------------------------------------------------------------------------------------

    def caption(self, room: int, detections: list[Detection]) -> tuple[str, list[str]]:
        """(caption text, object labels) of one frame from its detections (largest objects first)."""
        items: list[str] = []
        labels: list[str] = []
        for d in detections:
            if d.label not in labels:
                labels.append(d.label)
            item = f"{d.colour} {d.label}".strip()
            if item not in items:
                items.append(item)
        text = []
        if self.scene_label and room >= 0:
            rt = self.building.rooms[room].type
            text.append(f"In {'an' if rt[0] in 'aeiou' else 'a'} {rt}.")
        if items:
            shown = items[:MAX_CAPTION_ITEMS]
            text.append("I see " + _join([f"{'an' if s[0] in 'aeiou' else 'a'} {s}" for s in shown]) + ".")
        else:
            text.append("No objects recognised.")
        return " ".join(text), labels

    def __iter__(self) -> Iterator[Frame]:
        self.seen = {}
        self.visible = []
        chunk = 512
        for c0 in range(0, len(self.base_poses), chunk):
            bps = self.base_poses[c0:c0 + chunk]
            poses = [self.camera_pose(bp) for bp in bps]
            coarse = None if self.render else self.renderer.coarse(poses, *self.label_size)
            for j, (bp, pose) in enumerate(zip(bps, poses)):
                i = c0 + j
                r = self.renderer.render(pose) if self.render else coarse[j]  # type: ignore[index]
                image = r.rgb if self.render else None
                h, w = r.depth.shape
                self.visible.append(r.visible)
                for oid in r.visible:
                    self.seen.setdefault(oid, []).append(i)
                detections = self.detector.detect(r.visible, object_boxes(r.object_ids, r.visible), w, h)
                text, labels = self.caption(bp.room, detections)
                yield Frame(bp.stamp_ns, pose, image, text, "", labels, source=f"tour@{i}",
                            depth=self.detector.depth(r.depth), detections=detections,
                            camera=CameraModel.from_fov(w, h, self.renderer.fov_deg))


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def robot_tour(building: Building, fps: float = 2.0, speed_mps: float = 1.0, render: bool = True, width: int = 320,
               height: int = 240, **kwargs) -> Tour:
    """The robot's tour of ``building`` (iterate it for frames); see :class:`Tour` for the other settings."""
    return Tour(building, fps=fps, speed_mps=speed_mps, render=render, width=width, height=height, **kwargs)
