"""Free space the robot saw: a 2-D grid per floor from depth, so goals can be checked against what depth showed.

Each keyframe with depth adds its back-projected points (up to ``max_range_m``): points at the height of the floor
the robot drives on mark their cell as seen free, points between ``min_obstacle_m`` and the robot's height mark it
occupied; the cells under the robot itself are free (it stood there). A cell is free when it was seen free and not
occupied (or occupied far less often than free: depth noise). Cells are counted in tiles of 64 x 64, which are
stored as they change; a floor is keyed by the base height rounded to 0.25 m.
"""

from __future__ import annotations

import math

import numpy as np

from embodied_rag.memory.detection import CameraModel
from embodied_rag.memory.pose import Pose

TILE = 64
_FLOOR_KEY_M = 0.25


class FreeSpace:
    def __init__(self, resolution_m: float = 0.1, robot_height_m: float = 1.6, floor_tolerance_m: float = 0.12,
                 min_obstacle_m: float = 0.2, max_range_m: float = 5.0, max_points: int = 6000):
        self.res = resolution_m
        self.robot_height = robot_height_m
        self.floor_tol = floor_tolerance_m
        self.min_obstacle = min_obstacle_m
        self.max_range = max_range_m
        self.max_points = max_points
        self.tiles: dict[tuple[int, int, int], np.ndarray] = {}  # (floor key, tx, ty) -> (2, TILE, TILE) uint16
        self._dirty: set[tuple[int, int, int]] = set()

    def __bool__(self) -> bool:
        return bool(self.tiles)

    @staticmethod
    def floor_key(base_z: float) -> int:
        return round(base_z / _FLOOR_KEY_M)

    def _add(self, fk: int, x: np.ndarray, y: np.ndarray, channel: int) -> None:
        if x.size == 0:
            return
        ix = np.floor(x / self.res).astype(np.int64)
        iy = np.floor(y / self.res).astype(np.int64)
        tx, ty = ix // TILE, iy // TILE
        for key in set(zip(tx.tolist(), ty.tolist())):
            sel = (tx == key[0]) & (ty == key[1])
            tile = self.tiles.get((fk, *key))
            if tile is None:
                tile = self.tiles[(fk, *key)] = np.zeros((2, TILE, TILE), dtype=np.uint16)
            counts = np.zeros(TILE * TILE, dtype=np.int64)
            np.add.at(counts, (iy[sel] - key[1] * TILE) * TILE + (ix[sel] - key[0] * TILE), 1)
            plane = tile[channel].reshape(-1)
            plane[:] = np.minimum(plane.astype(np.int64) + counts, 65535).astype(np.uint16)
            self._dirty.add((fk, *key))

    def add_depth(self, depth: np.ndarray, camera: CameraModel, pose: Pose, base: Pose) -> None:
        """Add one depth image taken from ``pose`` (camera, optical frame) by a robot whose base was at ``base``."""
        h, w = depth.shape
        cam = camera if (camera.width, camera.height) == (w, h) else camera.scaled(w, h)
        step = max(1, int(math.sqrt(h * w / self.max_points)))
        d = depth[::step, ::step].astype(np.float64)
        vv, uu = np.mgrid[0:h:step, 0:w:step]
        ok = np.isfinite(d) & (d > 0.1) & (d < self.max_range)
        z = d[ok]
        pts = np.stack([((uu[ok] + 0.5) - cam.cx) / cam.fx * z, ((vv[ok] + 0.5) - cam.cy) / cam.fy * z, z], axis=1)
        world = pose.rotation.apply(pts) + np.asarray(pose.position)
        bz = base.position[2]
        rel = world[:, 2] - bz
        fk = self.floor_key(bz)
        free = np.abs(rel) <= self.floor_tol
        occ = (rel >= self.min_obstacle) & (rel <= self.robot_height)
        self._add(fk, world[free, 0], world[free, 1], 0)
        self._add(fk, world[occ, 0], world[occ, 1], 1)
        self.add_robot(base)

    def add_robot(self, base: Pose, radius_m: float = 0.25) -> None:
        """The robot stood here: the cells under it are free."""
        r = np.arange(-radius_m, radius_m + 1e-9, self.res / 2)
        xx, yy = np.meshgrid(r, r)
        inside = xx ** 2 + yy ** 2 <= radius_m ** 2
        x, y = base.position[0] + xx[inside], base.position[1] + yy[inside]
        self._add(self.floor_key(base.position[2]), x, y, 0)

    def _counts(self, fk: int, x: float, y: float) -> tuple[int, int]:
        ix, iy = math.floor(x / self.res), math.floor(y / self.res)
        tile = self.tiles.get((fk, ix // TILE, iy // TILE))
        if tile is None:
            return 0, 0
        return int(tile[0, iy % TILE, ix % TILE]), int(tile[1, iy % TILE, ix % TILE])

    def state(self, x: float, y: float, base_z: float) -> str:
        """"free", "occupied" or "unknown" for one point on the floor at ``base_z``."""
        free, occ = self._counts(self.floor_key(base_z), x, y)
        if occ >= 2 and occ * 4 >= free:
            return "occupied"
        return "free" if free else "unknown"

    def clear(self, x: float, y: float, base_z: float, radius_m: float = 0.3) -> bool:
        """True when the point was seen free and nothing occupied lies within ``radius_m`` of it."""
        if self.state(x, y, base_z) != "free":
            return False
        steps = max(1, int(radius_m / self.res))
        for i in range(-steps, steps + 1):
            for j in range(-steps, steps + 1):
                if (i * i + j * j) * self.res ** 2 <= radius_m ** 2 and \
                        self.state(x + i * self.res, y + j * self.res, base_z) == "occupied":
                    return False
        return True

    # -- persistence --------------------------------------------------------------------------------------------
    def flush(self) -> list[tuple[int, int, int, bytes]]:
        """Tiles changed since the last flush, as (floor key, tx, ty, little-endian uint16 counts)."""
        out = [(*k, self.tiles[k].astype("<u2").tobytes()) for k in sorted(self._dirty)]
        self._dirty = set()
        return out

    def load(self, rows: list[tuple[int, int, int, bytes]]) -> None:
        self.tiles = {(fk, tx, ty): np.frombuffer(blob, dtype="<u2").reshape(2, TILE, TILE).astype(np.uint16)
                      for fk, tx, ty, blob in rows}
        self._dirty = set()

    def occupancy(self, base_z: float) -> tuple[np.ndarray, tuple[float, float]] | None:
        """The floor at ``base_z`` as an image (-1 unknown, 0 free, 1 occupied) and its origin (x, y of cell 0, 0),
        for drawing."""
        fk = self.floor_key(base_z)
        keys = [k for k in self.tiles if k[0] == fk]
        if not keys:
            return None
        tx0, ty0 = min(k[1] for k in keys), min(k[2] for k in keys)
        tx1, ty1 = max(k[1] for k in keys), max(k[2] for k in keys)
        img = np.full(((ty1 - ty0 + 1) * TILE, (tx1 - tx0 + 1) * TILE), -1, dtype=np.int8)
        for _, tx, ty in keys:
            free, occ = (a.astype(np.int64) for a in self.tiles[(fk, tx, ty)])
            block = np.where(free > 0, 0, -1)
            block = np.where((occ >= 2) & (occ * 4 >= free), 1, block)
            img[(ty - ty0) * TILE:(ty - ty0 + 1) * TILE, (tx - tx0) * TILE:(tx - tx0 + 1) * TILE] = block
        return img, (tx0 * TILE * self.res, ty0 * TILE * self.res)
