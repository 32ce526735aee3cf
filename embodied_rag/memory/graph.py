"""Topological graph of keyframes: travel edges between consecutive keyframes, proximity edges within a radius."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

import networkx as nx

TRAVEL = "travel"
PROXIMITY = "proximity"

Edge = tuple[int, int, str, float]


class TopologicalGraph:
    """A networkx graph over keyframe ids with a grid index for radius look-ups in the ground plane."""

    def __init__(self, proximity_radius_m: float, max_travel_edge_m: float = float("inf")):
        self.radius = float(proximity_radius_m)
        self.max_travel = float(max_travel_edge_m)
        self.g = nx.Graph()
        self._cell = max(self.radius, 1.0)
        self._grid: dict[tuple[int, int], list[int]] = defaultdict(list)

    def _key(self, x: float, y: float) -> tuple[int, int]:
        return math.floor(x / self._cell), math.floor(y / self._cell)

    def add_node(self, kf_id: int, position: tuple[float, float, float]) -> None:
        self.g.add_node(kf_id, pos=position)
        self._grid[self._key(position[0], position[1])].append(kf_id)

    def add_edge(self, a: int, b: int, kind: str, length: float) -> None:
        self.g.add_edge(a, b, kind=kind, length=length)

    def within(self, position: Iterable[float], radius: float) -> list[int]:
        """Keyframe ids within ``radius`` (ground plane) of a position."""
        x, y = list(position)[:2]
        r = int(math.ceil(radius / self._cell))
        cx, cy = self._key(x, y)
        out = []
        for i in range(cx - r, cx + r + 1):
            for j in range(cy - r, cy + r + 1):
                for k in self._grid.get((i, j), ()):
                    p = self.g.nodes[k]["pos"]
                    if (p[0] - x) ** 2 + (p[1] - y) ** 2 <= radius * radius:
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

    def travel_edges(self) -> list[tuple[int, int]]:
        return [(a, b) for a, b, k in self.g.edges(data="kind") if k == TRAVEL]
