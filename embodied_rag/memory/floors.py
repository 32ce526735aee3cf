"""Floors from the heights the camera was carried at: a robot drives on floors, so its keyframes' heights fall into
a few tight bands, one per storey, with gaps of a storey's height between them (an elevator ride or a staircase).

Floors are numbered from the lowest (0) up. They are recomputed lazily from a histogram of heights, so a memory
that later reaches a lower floor renumbers consistently everywhere (keyframes, objects, areas) on the next look-up.
"""

from __future__ import annotations

import bisect
from collections import Counter

import numpy as np

_BIN_M = 0.1


class FloorIndex:
    """Heights seen (10 cm bins) → floor bands. ``gap_m``: heights further apart than this are different floors;
    bands holding fewer than ``min_share`` of the keyframes (a staircase, a ramp) join the nearest floor."""

    def __init__(self, gap_m: float = 1.2, min_share: float = 0.02):
        self.gap_m = gap_m
        self.min_share = min_share
        self._bins: Counter[int] = Counter()
        self._levels: np.ndarray | None = None
        self._edges: list[float] = []

    def add(self, z: float) -> None:
        b = round(z / _BIN_M)
        if b not in self._bins:
            self._levels = None
        self._bins[b] += 1

    def __len__(self) -> int:
        return len(self.levels)

    @property
    def levels(self) -> np.ndarray:
        """Mean height of each floor, lowest first."""
        if self._levels is None:
            self._compute()
        assert self._levels is not None
        return self._levels

    def _compute(self) -> None:
        if not self._bins:
            self._levels, self._edges = np.zeros(0), []
            return
        keys = sorted(self._bins)
        total = sum(self._bins.values())
        groups: list[list[int]] = [[keys[0]]]
        for k in keys[1:]:
            if (k - groups[-1][-1]) * _BIN_M > self.gap_m:
                groups.append([k])
            else:
                groups[-1].append(k)
        bands = [(sum(k * self._bins[k] for k in g) * _BIN_M / sum(self._bins[k] for k in g),
                  sum(self._bins[k] for k in g)) for g in groups]
        big = [z for z, n in bands if n >= self.min_share * total] or [max(bands, key=lambda t: t[1])[0]]
        self._levels = np.array(sorted(big))
        self._edges = [(a + b) / 2 for a, b in zip(self._levels, self._levels[1:])]

    def floor_of(self, z: float) -> int:
        """The floor a height belongs to (the nearest band)."""
        if self._levels is None:
            self._compute()
        return bisect.bisect_right(self._edges, z)

    def height_of(self, floor: int) -> float | None:
        levels = self.levels
        return float(levels[floor]) if 0 <= floor < len(levels) else None
