"""Topological graph of keyframes: travel edges between consecutive keyframes, proximity edges within a radius."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

TRAVEL = "travel"
PROXIMITY = "proximity"

Edge = tuple[int, int, str, float]


class TopologicalGraph:
    """A networkx graph over keyframe ids with a grid index for radius look-ups in the ground plane."""

    def __init__(self, proximity_radius_m: float, max_travel_edge_m: float = float("inf"),
                 max_dz_m: float = float("inf")):
        self.radius = float(proximity_radius_m)
        self.max_dz = float(max_dz_m)  # keyframes further apart in height are on other floors: never neighbours
        self.max_travel = float(max_travel_edge_m)
        self.g = nx.Graph()
        self._cell = max(self.radius, 1.0)
        self._grid: dict[tuple[int, int], list[int]] = defaultdict(list)
        self._csr: tuple | None = None

    def _key(self, x: float, y: float) -> tuple[int, int]:
        return math.floor(x / self._cell), math.floor(y / self._cell)

    def add_node(self, kf_id: int, position: tuple[float, float, float]) -> None:
        self.g.add_node(kf_id, pos=position)
        self._grid[self._key(position[0], position[1])].append(kf_id)

    def add_edge(self, a: int, b: int, kind: str, length: float) -> None:
        self.g.add_edge(a, b, kind=kind, length=length)

    def within(self, position: Iterable[float], radius: float) -> list[int]:
        """Keyframe ids within ``radius`` (ground plane) of a position, on its floor (height within ``max_dz``)."""
        p3 = list(position)
        x, y = p3[:2]
        z = p3[2] if len(p3) > 2 else None
        r = int(math.ceil(radius / self._cell))
        cx, cy = self._key(x, y)
        out = []
        for i in range(cx - r, cx + r + 1):
            for j in range(cy - r, cy + r + 1):
                for k in self._grid.get((i, j), ()):
                    p = self.g.nodes[k]["pos"]
                    if (p[0] - x) ** 2 + (p[1] - y) ** 2 <= radius * radius and (
                            z is None or abs(p[2] - z) <= self.max_dz):
                        out.append(k)
        return out

    def insert(self, kf_id: int, position: tuple[float, float, float], previous: int | None) -> list[Edge]:
        """Add a keyframe with its travel edge from ``previous`` and its proximity edges; returns the new edges."""
        edges: list[Edge] = []
        if previous is not None and previous in self.g:
            length = math.dist(self.g.nodes[previous]["pos"], position)
            if length <= self.max_travel:
                edges.append((previous, kf_id, TRAVEL, length))
        for other in self.within(position, self.radius):
            if other != previous:
                edges.append((other, kf_id, PROXIMITY, math.dist(self.g.nodes[other]["pos"], position)))
        self.add_node(kf_id, position)
        for a, b, kind, length in edges:
            self.add_edge(a, b, kind, length)
        return edges

    def path_lengths(self, source: int) -> dict[int, float]:
        """Shortest path length (m) along travel and proximity edges from keyframe ``source`` to every keyframe it
        connects to. The sparse matrix is rebuilt only when the graph changed."""
        key = (self.g.number_of_nodes(), self.g.number_of_edges())
        if self._csr is None or self._csr[0] != key:
            ids = np.fromiter(self.g.nodes, dtype=np.int64, count=self.g.number_of_nodes())
            index = {int(k): i for i, k in enumerate(ids)}
            e = [(index[a], index[b], max(float(w), 1e-6)) for a, b, w in self.g.edges(data="length")]
            rows = np.array([t[0] for t in e] + [t[1] for t in e], dtype=np.int64)
            cols = np.array([t[1] for t in e] + [t[0] for t in e], dtype=np.int64)
            data = np.array([t[2] for t in e] * 2, dtype=np.float64)
            mat = csr_matrix((data, (rows, cols)), shape=(len(ids), len(ids)))
            self._csr = (key, ids, index, mat)
        _, ids, index, mat = self._csr
        if source not in index:
            return {}
        dist = dijkstra(mat, indices=index[source])
        ok = np.isfinite(dist)
        return dict(zip(ids[ok].tolist(), dist[ok].tolist()))

    def travel_edges(self) -> list[tuple[int, int]]:
        return [(a, b) for a, b, k in self.g.edges(data="kind") if k == TRAVEL]
