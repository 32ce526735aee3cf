"""The object layer: detections back-projected into the memory frame and fused across keyframes into instances.

Keyframes say where the robot stood; objects say where things are. Each detection with depth becomes a 3-D point:
the depth pixels inside its box are read, the nearest dense surface (a low percentile, so the background seen
around a chair's legs does not count) is kept, and its pixels are back-projected through the camera model and the
keyframe's camera pose. Without usable depth an observation is a bearing: a ray from the camera through the box
centre. Rays of one label that meet in front of their cameras are triangulated (least squares over all of an
instance's rays, ``source`` "triangulated"); an instance seen along one direction only stays at its viewpoint (the
camera's position, looking along the bearing) and says so in ``source`` ("viewpoint"). A box whose depth mostly lies
beyond the depth range frames a far thing: it becomes such a bearing, marked ``far``, which no located thing within
bearing range can take (the floor in front of a corridor's far end is not the elevator at its end).

Association is incremental and local: an observation joins the nearest instance of the same label on the same floor
within a gate (``gate_m``, widened by the instances' size and uncertainty), else it opens a new instance. Positions
fuse by inverse-variance weights. Instances of one label that drift within each other's gate merge, unless they
were seen side by side (:func:`_seen_together`). Only instances
seen in at least ``min_observations`` keyframes are *confirmed*: a detector's one-off spurious box never becomes a
thing the robot claims to know.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from embodied_rag.config import ObjectsConfig
from embodied_rag.memory.detection import CameraModel, Detection
from embodied_rag.memory.pose import Pose

DEPTH = "depth"
TRIANGULATED = "triangulated"
VIEWPOINT = "viewpoint"
_MAX_BEARING_RANGE_M = 8.0  # bearings meet within this range of their cameras, or not at all
_MIN_RAY_ANGLE = math.radians(12)  # rays closer in direction than this do not fix a position
_MAX_RAYS = 16
_CONFUSION_RADIUS_M = 0.4  # a confused label's detections land on the true thing's surface
_CONFUSION_WINDOW = 5  # keyframes: a confused label's sightings fall between the true label's
_CELL_M = 2.0
_MAX_PATCH_PX = 4096  # depth pixels read per box at most (strided beyond)
_VIEWPOINT_SIGMA_M = 3.0
_VIEWPOINT_AHEAD_M = 1.0  # a viewpoint observation is put this far along the bearing, so it has a direction
_DUPLICATE_RADIUS = 2.3  # x gate_m: same-label instances never seen together this close are one thing
_VISIT_GAP_NS = 30 * 10**9  # sightings closer in time than this belong to one visit
_GLIMPSE_GAP = 2  # keyframes: glimpses of one thing as the robot passes it come at most this far apart
# A thing seen no more often than needed whose boxes scored below this share of what well-seen things (at least
# _WELL_SEEN sightings) score at the low end (their 10th percentile) is taken for spurious boxes; the scale is the
# memory's own, so a detector that scores everything alike (a captioner's boxes) loses nothing to it.
_WEAK_SCORE_SHARE = 0.85
_WELL_SEEN = 4
_MIN_WELL_SEEN = 10  # fewer well-seen things than this say too little of the detector's scores


@dataclass
class Observation:
    """One detection placed in the memory frame."""

    label: str
    position: np.ndarray  # (3,) memory frame
    sigma: float  # position standard deviation (m)
    extent: float  # horizontal half-size of what depth showed (m)
    source: str  # DEPTH or VIEWPOINT
    score: float = 1.0
    colour: str = ""
    ray: tuple[float, float, float, float] | None = None  # (x, y, dx, dy): camera and unit bearing, no depth
    far: bool = False  # a bearing whose box showed mostly surfaces beyond the depth range: the thing is further


@dataclass
class ObjectInstance:
    """A thing in the world, fused from the observations of the keyframes that saw it."""

    id: int
    label: str
    position: np.ndarray  # (3,) inverse-variance weighted mean
    sigma: float
    extent: float
    level_z: float  # mean height of the cameras that saw it: the floor it stands on
    n: int
    first_ns: int
    last_ns: int
    source: str
    weight: float  # sum of 1 / sigma^2 of the observations
    labels: Counter = field(default_factory=Counter)  # label votes (detector scores)
    colours: Counter = field(default_factory=Counter)
    keyframes: list[int] = field(default_factory=list)
    rays: list[tuple[float, float, float, float]] = field(default_factory=list)  # bearings without depth

    @property
    def colour(self) -> str:
        return self.colours.most_common(1)[0][0] if self.colours else ""

    @property
    def name(self) -> str:
        """"red armchair", or the label alone when no colour is known."""
        return f"{self.colour} {self.label}".strip()

    def to_json(self) -> dict:
        return {"id": self.id, "label": self.label, "colour": self.colour or None,
                "position": [round(float(v), 3) for v in self.position], "sigma_m": round(self.sigma, 3),
                "observations": self.n, "source": self.source}


def locate(det: Detection, depth: np.ndarray | None, camera: CameraModel | None, pose: Pose,
           max_depth_m: float = 10.0) -> Observation:
    """Place one detection in the memory frame: from depth inside its box when there is enough of it, else at the
    viewpoint along the box centre's bearing. ``pose`` is the camera (optical frame) pose."""
    x0, y0, x1, y1 = det.box
    colour = det.colour
    far = False
    if depth is not None and camera is not None and depth.ndim == 2 and depth.size:
        h, w = depth.shape
        sx, sy = w / camera.width, h / camera.height
        cam = camera if (sx, sy) == (1.0, 1.0) else camera.scaled(w, h)
        c0, c1 = max(0, int(math.floor(x0 * sx))), min(w, int(math.ceil(x1 * sx)))
        r0, r1 = max(0, int(math.floor(y0 * sy))), min(h, int(math.ceil(y1 * sy)))
        if c1 > c0 and r1 > r0:
            step = max(1, int(math.sqrt((c1 - c0) * (r1 - r0) / _MAX_PATCH_PX)))
            patch = depth[r0:r1:step, c0:c1:step]
            valid = np.isfinite(patch) & (patch > 0.1) & (patch < max_depth_m)
            beyond = int(np.count_nonzero(np.isfinite(patch) & (patch >= max_depth_m)))
            keep = None
            if valid.sum() >= max(3, 0.05 * patch.size):
                ref = _front_surface(patch[valid])
                keep = valid & (patch >= ref - 0.3) & (patch <= ref + 0.6)
            # A box mostly beyond the depth range frames a far thing; the little in range is the floor or a door
            # frame in front of it, not the thing.
            far = beyond > (0 if keep is None else int(np.count_nonzero(keep)))
            if keep is not None and not far:
                rows, cols = np.nonzero(keep)
                z = patch[keep].astype(np.float64)
                u = c0 + cols * step + 0.5 * step
                v = r0 + rows * step + 0.5 * step
                pts = np.stack([(u - cam.cx) / cam.fx * z, (v - cam.cy) / cam.fy * z, z], axis=1)
                world = pose.rotation.apply(pts) + np.asarray(pose.position)
                centre = world.mean(axis=0)
                spread = float(np.sqrt(np.mean(np.sum((world[:, :2] - centre[:2]) ** 2, axis=1))))
                sigma = 0.05 + 0.02 * ref + float(np.std(z)) / math.sqrt(len(z))
                return Observation(det.label, centre, sigma, spread, DEPTH, det.score, colour)
    # No depth: stand at the viewpoint, facing the box centre.
    if camera is not None:
        d = pose.rotation.apply(camera.ray((x0 + x1) / 2, (y0 + y1) / 2))
    else:
        d = pose.view_direction(optical=True)
    flat = np.array([d[0], d[1], 0.0])
    norm = float(np.linalg.norm(flat))
    ahead = flat / norm * _VIEWPOINT_AHEAD_M if norm > 1e-6 else np.zeros(3)
    ray = (float(pose.position[0]), float(pose.position[1]), float(ahead[0]), float(ahead[1])) if norm > 1e-6 \
        else None
    return Observation(det.label, np.asarray(pose.position, dtype=float) + ahead, _VIEWPOINT_SIGMA_M, 0.0,
                       VIEWPOINT, det.score, colour, ray, far)


def _ray_gap(ray: tuple[float, float, float, float], p: np.ndarray,
             max_range: float = _MAX_BEARING_RANGE_M) -> float | None:
    """Distance of point ``p`` from a ray (ground plane), or None when it is behind the camera or out of range."""
    ox, oy, dx, dy = ray
    vx, vy = p[0] - ox, p[1] - oy
    t = vx * dx + vy * dy
    if t <= 0 or t > max_range:
        return None
    return abs(vx * dy - vy * dx)


def _rays_meet(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Two bearings that cross in front of both cameras, within range, at a useful angle."""
    det = a[2] * b[3] - a[3] * b[2]
    if abs(det) < math.sin(_MIN_RAY_ANGLE):
        return False
    wx, wy = b[0] - a[0], b[1] - a[1]
    t = (wx * b[3] - wy * b[2]) / det
    s = (wx * a[3] - wy * a[2]) / det
    return 0 < t <= _MAX_BEARING_RANGE_M and 0 < s <= _MAX_BEARING_RANGE_M


def triangulate(rays: list[tuple[float, float, float, float]]) -> tuple[np.ndarray, float] | None:
    """The ground-plane point nearest to all rays (least squares) and the RMS distance to them; None when the rays
    are (nearly) parallel or the point is not in front of every camera."""
    if len(rays) < 2:
        return None
    a = np.zeros((2, 2))
    b = np.zeros(2)
    for ox, oy, dx, dy in rays:
        m = np.eye(2) - np.outer((dx, dy), (dx, dy))
        a += m
        b += m @ (ox, oy)
    if np.linalg.cond(a) > 1.0 / math.sin(_MIN_RAY_ANGLE) ** 2:
        return None
    p = np.linalg.solve(a, b)
    gaps = [_ray_gap(r, p) for r in rays]
    if any(g is None for g in gaps):
        return None
    return p, float(np.sqrt(np.mean(np.square(gaps))))


def _mean_score(inst: ObjectInstance) -> float:
    return sum(inst.labels.values()) / max(inst.n, 1)


def _seen_together(a: ObjectInstance, b: ObjectInstance, times: int = 1) -> bool:
    """Whether two instances were detected side by side, each in a box of its own, in at least ``times``
    keyframes: one detector box is one thing, so two boxes are two things."""
    return len(set(a.keyframes) & set(b.keyframes)) >= times


def _in_place_of(inst: ObjectInstance, other: ObjectInstance, window: int = _CONFUSION_WINDOW) -> bool:
    """Whether every sighting of ``inst`` came while the robot was looking at ``other`` (keyframes of it at most
    ``window`` before and after) in a keyframe where ``other`` itself was not reported: the detector gave
    ``other`` another label there. A real thing beside ``other`` is mostly reported with it."""
    if _seen_together(inst, other):
        return False
    seen = np.asarray(sorted(other.keyframes))
    for k in inst.keyframes:
        j = int(np.searchsorted(seen, k))
        if j == 0 or j == len(seen) or k - seen[j - 1] > window or seen[j] - k > window:
            return False
    return True


def _with_repeats(inst: ObjectInstance, repeats: list[ObjectInstance]) -> ObjectInstance:
    """``inst`` with the sightings of other views of it (a copy; ``inst`` itself when there are none)."""
    if not repeats:
        return inst
    return dataclasses.replace(inst, n=inst.n + sum(r.n for r in repeats),
                               first_ns=min(inst.first_ns, *(r.first_ns for r in repeats)),
                               last_ns=max(inst.last_ns, *(r.last_ns for r in repeats)),
                               keyframes=sorted(set(inst.keyframes).union(*(r.keyframes for r in repeats))))


def _pooled(members: list[ObjectInstance]) -> ObjectInstance:
    """One instance of glimpses of one thing (see :meth:`ObjectMap._glimpses`): their sightings, label votes and
    colours together, at their weighted mean position."""
    first, rest = members[0], members[1:]
    weight = sum(i.weight for i in members)
    position = (sum(i.weight * i.position for i in members) / weight if weight > 0
                else np.mean([i.position for i in members], axis=0))
    return dataclasses.replace(_with_repeats(first, rest), position=position, weight=weight,
                               sigma=float(1.0 / math.sqrt(weight)) if weight > 0 else first.sigma,
                               labels=sum((i.labels for i in members), Counter()),
                               colours=sum((i.colours for i in members), Counter()))


def _front_surface(depths: np.ndarray) -> float:
    """Depth of the nearest dense surface among a box's depth readings: the nearest 20 cm bin holding at least
    15 % of them. The background seen around thin parts (a chair's legs) lies further back and is not chosen;
    a few noisy readings in front are not enough to be chosen either."""
    lo = float(depths.min())
    counts = np.bincount(((depths - lo) / 0.2).astype(np.int64))
    need = max(3, 0.15 * depths.size)
    dense = np.nonzero(counts >= need)[0]
    b = int(dense[0]) if dense.size else int(np.argmax(counts))
    inside = depths[(depths >= lo + b * 0.2) & (depths < lo + (b + 1) * 0.2)]
    return float(np.median(inside))


class ObjectMap:
    """Object instances of one memory, with a grid over the ground plane for association."""

    def __init__(self, config: ObjectsConfig):
        self.config = config
        self.instances: dict[int, ObjectInstance] = {}
        self._grid: dict[tuple[int, int], set[int]] = defaultdict(set)
        self._cell: dict[int, tuple[int, int]] = {}
        self._next_id = 1
        self._changed: set[int] = set()
        self._removed: set[int] = set()
        self._views: list[tuple[int, int, int]] = []  # (object, keyframe, stamp) not yet persisted
        self._moved_views: list[tuple[int, int]] = []  # (from object, to object) merged
        self._confirmed: list[ObjectInstance] | None = None  # cached: several per question, cleared by any change

    def __len__(self) -> int:
        return len(self.instances)

    # -- grid ---------------------------------------------------------------------------------------------------
    @staticmethod
    def _key(p: np.ndarray) -> tuple[int, int]:
        return math.floor(p[0] / _CELL_M), math.floor(p[1] / _CELL_M)

    def _index(self, inst: ObjectInstance) -> None:
        key = self._key(inst.position)
        old = self._cell.get(inst.id)
        if old == key:
            return
        if old is not None:
            self._grid[old].discard(inst.id)
        self._grid[key].add(inst.id)
        self._cell[inst.id] = key

    def _unindex(self, oid: int) -> None:
        key = self._cell.pop(oid, None)
        if key is not None:
            self._grid[key].discard(oid)

    def near(self, position: np.ndarray, radius: float) -> list[ObjectInstance]:
        cx, cy = self._key(position)
        r = int(math.ceil(radius / _CELL_M))
        out = []
        for i in range(cx - r, cx + r + 1):
            for j in range(cy - r, cy + r + 1):
                for oid in self._grid.get((i, j), ()):
                    inst = self.instances[oid]
                    if math.dist(inst.position[:2], position[:2]) <= radius:
                        out.append(inst)
        return out

    # -- association --------------------------------------------------------------------------------------------
    def _gate(self, inst: ObjectInstance, obs: Observation) -> float:
        g = self.config.gate_m + 0.5 * (inst.extent + obs.extent)
        if inst.source == VIEWPOINT or obs.source == VIEWPOINT:
            g = max(g, self.config.gate_m * 1.5)
        return min(g, 3.0 * self.config.gate_m)

    def _distance(self, inst: ObjectInstance, obs: Observation) -> float | None:
        d = float(np.linalg.norm(inst.position - obs.position))
        if inst.source == VIEWPOINT and inst.rays:
            return None  # only a bearing: a point cannot be compared with it (depth needs no guesswork)
        return d if d <= self._gate(inst, obs) else None

    def _bearing_distance(self, inst: ObjectInstance, obs: Observation) -> float | None:
        """How well a bearing fits an instance: its distance from a located instance, or 0.5 when it crosses one of
        a viewpoint instance's bearings (1 when it looks the same way from the same place)."""
        ray = obs.ray
        assert ray is not None
        if inst.source != VIEWPOINT:
            if obs.far:  # bearings fix things within _MAX_BEARING_RANGE_M, and this one is beyond depth range
                return None
            gap = _ray_gap(ray, inst.position)
            return gap if gap is not None and gap <= self.config.gate_m + 0.5 * inst.extent else None
        best = None
        for r in inst.rays:
            if math.dist(r[:2], ray[:2]) < 0.5 and r[2] * ray[2] + r[3] * ray[3] > math.cos(math.radians(20)):
                best = min(best if best is not None else 1.0, 1.0)
            elif not obs.far and _rays_meet(r, ray):
                best = 0.5
        return best

    def observe(self, keyframe: int, stamp_ns: int, camera_z: float, observations: list[Observation]) -> None:
        """Fuse one keyframe's observations (each joins or opens an instance; no two join the same one)."""
        self._confirmed = None
        taken: set[int] = set()
        self._merged_into: dict[int, int] = {}
        pairs = []
        for i, obs in enumerate(observations):
            bearing = obs.source == VIEWPOINT and obs.ray is not None
            reach = _MAX_BEARING_RANGE_M if bearing else 3.0 * self.config.gate_m
            for inst in self.near(obs.ray[:2] if bearing else obs.position, reach):  # type: ignore[index]
                if inst.label != obs.label or abs(inst.level_z - camera_z) > self.config.floor_gap_m:
                    continue
                d = self._bearing_distance(inst, obs) if bearing else self._distance(inst, obs)
                if d is not None:
                    pairs.append((d, i, inst.id))
        pairs.sort()
        assigned: dict[int, int] = {}
        for _d, i, oid in pairs:
            if i in assigned or oid in taken or oid not in self.instances:
                continue
            assigned[i] = oid
            taken.add(oid)
        for i, obs in enumerate(observations):
            oid = assigned.get(i)
            while oid is not None and oid not in self.instances:  # merged into another while fusing this keyframe
                oid = self._merged_into.get(oid)
            if oid is not None:
                inst = self.instances[oid]
                self._fuse(inst, obs, keyframe, stamp_ns, camera_z)
            else:
                inst = self._new(obs, keyframe, stamp_ns, camera_z)
            self._views.append((inst.id, keyframe, stamp_ns))
            self._merge_neighbours(inst)

    def _new(self, obs: Observation, keyframe: int, stamp_ns: int, camera_z: float) -> ObjectInstance:
        w = 1.0 / obs.sigma ** 2
        inst = ObjectInstance(self._next_id, obs.label, obs.position.astype(float).copy(), obs.sigma, obs.extent,
                              camera_z, 1, stamp_ns, stamp_ns, obs.source, w, Counter({obs.label: obs.score}),
                              Counter({obs.colour: obs.score}) if obs.colour else Counter(), [keyframe],
                              [obs.ray] if obs.ray is not None and obs.source == VIEWPOINT else [])
        self._next_id += 1
        self.instances[inst.id] = inst
        self._index(inst)
        self._changed.add(inst.id)
        return inst

    def _fuse(self, inst: ObjectInstance, obs: Observation, keyframe: int, stamp_ns: int, camera_z: float) -> None:
        w = 1.0 / obs.sigma ** 2
        if obs.source == DEPTH and inst.source != DEPTH:
            # The first real measurement replaces bearings and viewpoint guesses.
            inst.position, inst.weight, inst.source = obs.position.astype(float).copy(), w, DEPTH
        elif obs.source == DEPTH:
            inst.position = (inst.position * inst.weight + obs.position * w) / (inst.weight + w)
            inst.weight += w
        elif obs.ray is not None and inst.source != DEPTH:
            if len(inst.rays) < _MAX_RAYS:
                inst.rays.append(obs.ray)
            self._triangulate(inst)
        inst.sigma = max(0.03, 1.0 / math.sqrt(inst.weight))
        inst.extent = max(inst.extent, obs.extent)
        inst.level_z = (inst.level_z * inst.n + camera_z) / (inst.n + 1)
        inst.n += 1
        inst.first_ns, inst.last_ns = min(inst.first_ns, stamp_ns), max(inst.last_ns, stamp_ns)
        inst.labels[obs.label] += obs.score
        if obs.colour:
            inst.colours[obs.colour] += obs.score
        inst.keyframes.append(keyframe)
        self._index(inst)
        self._changed.add(inst.id)

    def _triangulate(self, inst: ObjectInstance) -> None:
        fix = triangulate(inst.rays)
        if fix is None or fix[1] > self.config.gate_m:
            return
        p, rms = fix
        inst.position = np.array([p[0], p[1], inst.position[2]])
        inst.source = TRIANGULATED
        inst.weight = 1.0 / max(0.2, rms) ** 2

    def _merge_neighbours(self, inst: ObjectInstance) -> None:
        """Merge same-label located instances that now lie within each other's gate into ``inst`` (instances known
        only by a bearing have no position to compare)."""
        if inst.source == VIEWPOINT:
            return
        for other in self.near(inst.position, 3.0 * self.config.gate_m):
            if other.id == inst.id or other.label != inst.label or other.source == VIEWPOINT:
                continue
            if _seen_together(inst, other):
                continue  # two things side by side (two lab benches 2 m apart)
            if abs(other.level_z - inst.level_z) > self.config.floor_gap_m:
                continue
            gate = self.config.gate_m + 0.5 * (inst.extent + other.extent)
            if float(np.linalg.norm(other.position - inst.position)) > min(gate, 3.0 * self.config.gate_m):
                continue
            if other.source == inst.source:
                inst.position = (inst.position * inst.weight + other.position * other.weight) / (
                    inst.weight + other.weight)
                inst.weight += other.weight
            elif other.source == DEPTH:
                inst.position, inst.weight, inst.source = other.position.copy(), other.weight, DEPTH
            inst.rays = (inst.rays + other.rays)[:_MAX_RAYS]
            inst.sigma = max(0.03, 1.0 / math.sqrt(inst.weight))
            inst.extent = max(inst.extent, other.extent)
            inst.level_z = (inst.level_z * inst.n + other.level_z * other.n) / (inst.n + other.n)
            inst.n += other.n
            inst.first_ns, inst.last_ns = min(inst.first_ns, other.first_ns), max(inst.last_ns, other.last_ns)
            inst.labels.update(other.labels)
            inst.colours.update(other.colours)
            inst.keyframes = sorted(set(inst.keyframes) | set(other.keyframes))
            self._remove(other.id)
            self._merged_into[other.id] = inst.id
            self._moved_views.append((other.id, inst.id))
            self._views = [(inst.id if o == other.id else o, k, s) for o, k, s in self._views]
            self._index(inst)
            self._changed.add(inst.id)

    def _remove(self, oid: int) -> None:
        self._unindex(oid)
        self.instances.pop(oid, None)
        self._changed.discard(oid)
        self._removed.add(oid)

    # -- queries ------------------------------------------------------------------------------------------------
    def confirmed(self) -> list[ObjectInstance]:
        """Instances seen in at least ``min_observations`` keyframes (just that often: with boxes that did not score
        weakly, see :meth:`_weak_score`), less the ones that are a detector's confused label for another thing:
        a rarely seen instance where a much more often seen one of another label stands (the same box, so the
        same surface) and that was not seen side by side with it (a lamp on a nightstand has a box of its own),
        or one seen just often enough, only while the robot looked at a nearby, more often seen thing that went
        unreported there (see :func:`_in_place_of`); and less the ones that are another view of a thing already
        kept (see :meth:`_duplicate_of`), whose sightings count as the kept one's (in a copy: the map keeps what was
        observed)."""
        if self._confirmed is None:
            self._confirmed = self._confirm()
        return list(self._confirmed)

    def _weak_score(self) -> float:
        """Mean detector score below which a thing seen only ``min_observations`` times is not confirmed."""
        well = [_mean_score(i) for i in self.instances.values() if i.n >= _WELL_SEEN]
        if len(well) < _MIN_WELL_SEEN:
            return 0.0
        return _WEAK_SCORE_SHARE * float(np.percentile(well, 10))

    def _confirm(self) -> list[ObjectInstance]:
        m = self.config.min_observations
        weak = self._weak_score()
        kept: dict[str, list[ObjectInstance]] = defaultdict(list)
        cells: dict[tuple[str, int, int], list[ObjectInstance]] = defaultdict(list)  # kept ones by label and cell
        repeats: dict[int, list[ObjectInstance]] = defaultdict(list)  # other views of a kept one
        instances, pooled = self._glimpses(m)
        near_kept = 2 * _DUPLICATE_RADIUS * self.config.gate_m
        # Most seen first: a duplicate is judged against the better-known instance it repeats.
        for i in sorted(instances, key=lambda i: (-i.n, i.id)):
            if i.n < m or (i.n == m and _mean_score(i) < weak):
                continue
            if i.id in pooled and any(  # glimpses near a better-seen thing of the label: more likely views of it
                    abs(o.level_z - i.level_z) <= self.config.floor_gap_m
                    and float(np.linalg.norm(o.position[:2] - i.position[:2])) <= near_kept
                    for o in kept[i.label]):
                continue
            if i.n <= 3 and i.source != VIEWPOINT and any(
                    o.label != i.label and o.source != VIEWPOINT and (
                        (o.n >= 3 * i.n and float(np.linalg.norm(o.position - i.position)) <= _CONFUSION_RADIUS_M
                         and not _seen_together(o, i, 2))  # once may be another spurious or confused box
                        or (i.n == m and o.n >= 2 * i.n  # a third sighting of a label is not chance
                            and math.dist(o.position[:2], i.position[:2]) <= 2 * _CONFUSION_RADIUS_M
                            and _in_place_of(i, o)))
                    for o in self.near(i.position, 2 * _CONFUSION_RADIUS_M)):
                continue
            if i.source == VIEWPOINT:  # bearings reach any distance: every kept one of the label
                candidates = kept[i.label]
            else:  # only kept ones this close can be the same thing
                cx, cy = self._key(i.position)
                # twice as far only for a thing seen just often enough (see _duplicate_of)
                reach = (2 if i.n == m else 1) * _DUPLICATE_RADIUS * self.config.gate_m
                r = int(math.ceil(reach / _CELL_M))
                candidates = [o for x in range(cx - r, cx + r + 1) for y in range(cy - r, cy + r + 1)
                              for o in cells.get((i.label, x, y), ())]
            original = next((o for o in candidates if self._duplicate_of(i, o)), None)
            if original is not None:
                repeats[original.id].append(i)
                continue
            kept[i.label].append(i)
            cells[(i.label, *self._key(i.position))].append(i)
        return sorted((_with_repeats(i, repeats[i.id]) for same in kept.values() for i in same), key=lambda i: i.id)

    def _glimpses(self, m: int) -> tuple[list[ObjectInstance], set[int]]:
        """The instances, with glimpses of one thing pooled (and the pooled ones' ids): instances of one label seen
        fewer than ``m`` times each, on one floor, never in the same keyframe, in keyframes at most
        :data:`_GLIMPSE_GAP` apart and as close as a duplicate (:meth:`_duplicate_of`). Passing a thing, the robot
        sees it in a few keyframes, and depth read on different parts of a large thing (a reception desk) puts
        each view beyond the others' gate; a spurious box seldom repeats its label at one spot in the next
        keyframes."""
        few = sorted((i for i in self.instances.values() if i.n < m and i.source != VIEWPOINT and i.keyframes),
                     key=lambda i: min(i.keyframes))
        radius = _DUPLICATE_RADIUS * self.config.gate_m
        groups: list[list[ObjectInstance]] = []
        recent: dict[str, list[list[ObjectInstance]]] = defaultdict(list)  # by label: groups seen lately
        for i in few:
            start = min(i.keyframes)
            recent[i.label] = [g for g in recent[i.label] if start - max(g[-1].keyframes) <= _GLIMPSE_GAP]
            group = next((g for g in recent[i.label]
                          if all(abs(o.level_z - i.level_z) <= self.config.floor_gap_m and not _seen_together(o, i)
                                 and float(np.linalg.norm(o.position[:2] - i.position[:2])) <= radius for o in g)),
                         None)
            if group is None:
                groups.append([i])
                recent[i.label].append(groups[-1])
            else:
                group.append(i)
        pooled = [g for g in groups if len(g) > 1 and sum(i.n for i in g) >= m]
        merged = {i.id for g in pooled for i in g}
        return ([i for i in self.instances.values() if i.id not in merged] + [_pooled(g) for g in pooled],
                {g[0].id for g in pooled})

    def _duplicate_of(self, inst: ObjectInstance, kept: ObjectInstance) -> bool:
        """Whether ``inst`` is probably ``kept`` (of the same label) again: on the same floor, never seen in the same
        keyframe (one thing gives one detection per keyframe; two things in view usually give two) though seen
        during the same visit (sightings at most :data:`_VISIT_GAP_NS` apart), and either
        close by (depth read on an occluder in front of the thing, or a box jittered onto the background, puts a
        thing a metre or two from where other views put it; twice as far for a thing seen only as often as needed,
        each time between ``kept``'s own sightings) or, known by bearings only, looking at it (a thing beyond depth
        range)."""
        if abs(kept.level_z - inst.level_z) > self.config.floor_gap_m:
            return False
        if kept.source == VIEWPOINT or _seen_together(kept, inst):
            return False
        if max(inst.first_ns - kept.last_ns, kept.first_ns - inst.last_ns) > _VISIT_GAP_NS:
            return False  # seen on different visits: not being seen together says nothing
        if inst.source == VIEWPOINT:
            reach = self.config.gate_m + 0.5 * kept.extent
            return bool(inst.rays) and all(
                (gap := _ray_gap(r, kept.position, math.inf)) is not None and gap <= reach for r in inst.rays)
        radius = _DUPLICATE_RADIUS * self.config.gate_m
        d = float(np.linalg.norm(kept.position[:2] - inst.position[:2]))
        # Seen no more often than needed, and only between the kept one's sightings: the same thing, further off.
        return d <= radius or (inst.n == self.config.min_observations and d <= 2 * radius and _in_place_of(inst, kept))

    # -- persistence --------------------------------------------------------------------------------------------
    def flush(self) -> tuple[list[ObjectInstance], list[int], list[tuple[int, int, int]], list[tuple[int, int]]]:
        """(changed instances, removed ids, new views (object, keyframe, stamp), merges (from, to)) since the
        last flush."""
        changed = [self.instances[i] for i in sorted(self._changed) if i in self.instances]
        out = (changed, sorted(self._removed), self._views, self._moved_views)
        self._changed, self._removed, self._views, self._moved_views = set(), set(), [], []
        return out

    def apply(self, changed: list[ObjectInstance], removed: list[int]) -> None:
        """Merge instances another writer committed (changed or new, and removed) into this copy."""
        self._confirmed = None
        for oid in removed:
            self._unindex(oid)
            self.instances.pop(oid, None)
        for inst in changed:
            self.instances[inst.id] = inst
            self._index(inst)
        self._next_id = max(self._next_id, max(self.instances, default=0) + 1)

    def load(self, instances: list[ObjectInstance]) -> None:
        self._confirmed = None
        self.instances.clear()
        self._grid.clear()
        self._cell.clear()
        for inst in instances:
            self.instances[inst.id] = inst
            self._index(inst)
        self._next_id = max(self.instances, default=0) + 1
        self._changed, self._removed, self._views, self._moved_views = set(), set(), [], []
