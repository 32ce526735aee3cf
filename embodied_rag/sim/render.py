"""CPU rendering of a :class:`Building` with open3d ray casting: RGB, depth and per-pixel object ids.

One merged triangle mesh goes into a ``RaycastingScene``; each triangle remembers which part it came from, so a hit's
primitive id gives the colour, the surface kind and the object (if any) at that pixel. Shading is Lambertian with a
head light (what a robot's camera with auto-exposure roughly sees) plus a little light from above and a fall-off with
distance, and floors are tiled, so images have structure without textures.

Camera poses are optical frames (x right, y down, z forward) in the building's frame. Rays are built with a unit z
component in the camera frame, so the ray parameter ``t_hit`` is the depth along the optical axis (what a depth
camera reports), not the distance along the ray.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import open3d as o3d

from embodied_rag.memory.detection import CameraModel
from embodied_rag.memory.pose import Pose
from embodied_rag.sim.building import Building

SURFACES = ("wall", "floor", "ceiling", "object", "fixture")
MAX_RAYS_PER_CAST = 2_000_000  # bounds the memory of one batched cast (~100 MB of results)


@dataclass
class Rendered:
    rgb: np.ndarray  # HxWx3 uint8
    depth: np.ndarray  # HxW float32 metres along the optical axis, 0 where nothing was hit
    object_ids: np.ndarray  # HxW int32, -1 where no object
    visible: dict[int, int]  # object id -> pixels, only objects covering at least min_fraction of the image


def directions(k: CameraModel) -> np.ndarray:
    """HxWx3 ray directions in the optical frame through pixel centres, with z = 1."""
    u = (np.arange(k.width) + 0.5 - k.cx) / k.fx
    v = (np.arange(k.height) + 0.5 - k.cy) / k.fy
    uu, vv = np.meshgrid(u, v)
    return np.stack([uu, vv, np.ones_like(uu)], axis=-1).astype(np.float32)


class Renderer:
    """Renders views of one building. ``min_fraction``: the smallest share of the image an object must cover to
    count as visible (a detector does not report a handful of pixels)."""

    def __init__(self, building: Building, width: int = 320, height: int = 240, fov_deg: float = 70.0,
                 min_fraction: float = 0.002):
        if width < 8 or height < 8:
            raise ValueError("images must be at least 8x8 pixels")
        self.building = building
        self.intrinsics = CameraModel.from_fov(width, height, fov_deg)
        self.fov_deg = fov_deg
        self.min_fraction = min_fraction
        verts, tris, owner = building.mesh()
        self.scene = o3d.t.geometry.RaycastingScene()
        self.scene.add_triangles(o3d.core.Tensor(verts), o3d.core.Tensor(tris))
        parts = building.parts
        self._tri_part = owner
        self._part_rgb = np.array([p.rgb for p in parts], dtype=np.float32) / 255.0
        self._part_obj = np.array([p.obj for p in parts], dtype=np.int32)
        self._part_surface = np.array([SURFACES.index(p.surface) for p in parts], dtype=np.int8)
        self._dirs = directions(self.intrinsics)
        self._coarse: dict[tuple[int, int], np.ndarray] = {}

    # -- casting ---------------------------------------------------------------------------------------------------

    def _rays(self, poses: Sequence[Pose], dirs: np.ndarray) -> np.ndarray:
        """len(poses) x H x W x 6 rays (origin, direction) in the world frame."""
        rot = np.stack([p.rotation.as_matrix() for p in poses]).astype(np.float32)  # camera -> world
        world = np.einsum("nij,hwj->nhwi", rot, dirs)
        origin = np.broadcast_to(np.asarray([p.position for p in poses], dtype=np.float32)[:, None, None, :],
                                 world.shape)
        return np.concatenate([origin, world], axis=-1)

    def _cast(self, rays: np.ndarray) -> dict[str, np.ndarray]:
        out = self.scene.cast_rays(o3d.core.Tensor(np.ascontiguousarray(rays, dtype=np.float32)), nthreads=0)
        return {k: v.numpy() for k, v in out.items()}

    def _ids(self, prim: np.ndarray) -> np.ndarray:
        hit = prim != self.scene.INVALID_ID
        ids = np.full(prim.shape, -1, dtype=np.int32)
        ids[hit] = self._part_obj[self._tri_part[prim[hit]]]
        return ids

    def _visible(self, ids: np.ndarray) -> dict[int, int]:
        min_px = max(1, math.ceil(self.min_fraction * ids.size))
        labels, counts = np.unique(ids[ids >= 0], return_counts=True)
        return {int(i): int(c) for i, c in zip(labels, counts) if c >= min_px}

    # -- public ----------------------------------------------------------------------------------------------------

    def render(self, pose: Pose) -> Rendered:
        """RGB, depth, object ids and visible objects seen from a camera (optical frame) pose."""
        rays = self._rays([pose], self._dirs)[0]
        res = self._cast(rays)
        t = res["t_hit"]
        prim = res["primitive_ids"]
        hit = np.isfinite(t)
        part = np.where(hit, self._tri_part[np.where(hit, prim, 0)], 0)
        rgb = self._part_rgb[part]
        n = res["primitive_normals"]
        d = rays[..., 3:]
        d_unit = d / np.linalg.norm(d, axis=-1, keepdims=True)
        lam = np.abs(np.sum(n * d_unit, axis=-1))
        dist = np.where(hit, t * np.linalg.norm(d, axis=-1), 0.0)
        light = (0.30 + 0.55 * lam + 0.15 * np.clip(n[..., 2], 0, 1)) / (1.0 + 0.03 * dist)
        # Floor tiles (0.6 m) so that the floor shows perspective and motion.
        surf = self._part_surface[part]
        p = rays[..., :3] + d * np.where(hit, t, 0.0)[..., None]
        tiles = (np.floor(p[..., 0] / 0.6) + np.floor(p[..., 1] / 0.6)) % 2
        light = light * np.where((surf == 1) & hit, 0.88 + 0.12 * tiles, 1.0)
        img = rgb * light[..., None]
        img[~hit] = (0.05, 0.05, 0.08)
        ids = self._ids(prim)
        depth = np.where(hit, t, 0.0).astype(np.float32)
        return Rendered((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), depth, ids, self._visible(ids))

    def visible_objects(self, poses: Sequence[Pose], width: int = 64, height: int = 48) -> list[dict[int, int]]:
        """Visible objects (id -> pixels at this coarse size) for many poses, cast in large batches without shading:
        the cheap path for building huge memories. Same field of view and ``min_fraction`` as full renders."""
        return [r.visible for r in self.coarse(poses, width, height)]

    def coarse(self, poses: Sequence[Pose], width: int = 64, height: int = 48) -> list[Rendered]:
        """Depth, object ids and visible objects at a coarse size for many poses (no colour: ``rgb`` is empty),
        cast in large batches: what a detector and depth camera need for huge memories, without shading."""
        key = (width, height)
        if key not in self._coarse:
            self._coarse[key] = directions(CameraModel.from_fov(width, height, self.fov_deg))
        dirs = self._coarse[key]
        per_cast = max(1, MAX_RAYS_PER_CAST // (width * height))
        out: list[Rendered] = []
        empty = np.zeros((0, 0, 3), dtype=np.uint8)
        for i in range(0, len(poses), per_cast):
            res = self._cast(self._rays(poses[i:i + per_cast], dirs))
            ids = self._ids(res["primitive_ids"])
            depth = np.where(np.isfinite(res["t_hit"]), res["t_hit"], 0.0).astype(np.float32)
            out.extend(Rendered(empty, d, frame, self._visible(frame)) for d, frame in zip(depth, ids))
        return out
