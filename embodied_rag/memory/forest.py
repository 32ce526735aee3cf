"""The semantic forest: levels of areas above the keyframes, grouped by hybrid spatial + semantic affinity.

affinity(a, b) = w_s * exp(-d(a, b) / scale_L) + w_c * cos(e_a, e_b), with the spatial scale growing per level
(Embodied-RAG: 0.4 * exp(-d / 10 m) + 0.6 * cos); places farther apart than the level's link gate
(``max_link_distance_factor * scale_L``) never share an area.

A full rebuild clusters each level with complete linkage (scipy) at a threshold that loosens per level; a large
level is first cut spatially into parts of at most ``_LINKAGE_MAX`` (512) items, so a rebuild stays linear in the number
of keyframes. Incremental insertion touches only the path from the new leaf to the root: the keyframe joins the
best-fitting level-1 area within the gate (found through a grid over each level's centroids, never by scanning a
level) or opens a new area, placed the same way a level up; an area that grows past ``max_children`` is split in two
(bounded work). :meth:`SemanticForest.rebalance` re-clusters on demand as a rebuild would, keeping the areas whose
members did not change. Each node keeps running sums (centroid, mean embedding, extent) and the ids of a few
diverse "exemplar" leaves (their vectors are the leaves' own embeddings) so a small area's content is not averaged
away for retrieval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist, squareform

from embodied_rag.config import ForestConfig
from embodied_rag.memory.leaves import LeafIndex
from embodied_rag.memory.store import ForestRow

# Above this many items a level is cut spatially before complete linkage, whose time and memory grow with the square
# of its input; parts of this size keep a rebuild of a million keyframes within a minute on two cores (1024: ~1.5x
# the time for no measurable gain in retrieval on the benchmark).
_LINKAGE_MAX = 512
# Floats gathered at once when choosing exemplars for many areas (bounds the rebuild's temporary memory).
_GATHER_FLOATS = 1 << 24

Cell = tuple[int, int, int]


@dataclass(slots=True)
class ForestNode:
    id: int
    level: int
    parent: int | None = None
    children: list[int] = field(default_factory=list)
    n: int = 0
    pos_sum: np.ndarray = field(default_factory=lambda: np.zeros(3))
    lo: np.ndarray = field(default_factory=lambda: np.full(3, np.inf))
    hi: np.ndarray = field(default_factory=lambda: np.full(3, -np.inf))
    emb_sum: np.ndarray | None = None
    exemplar_ids: list[int] = field(default_factory=list)
    name: str = ""
    summary: str = ""
    dirty: bool = True
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def centroid(self) -> np.ndarray:
        return self.pos_sum / max(self.n, 1)

    @property
    def embedding(self) -> np.ndarray:
        assert self.emb_sum is not None
        norm = float(np.linalg.norm(self.emb_sum))
        return self.emb_sum / norm if norm > 0 else self.emb_sum

    def to_row(self) -> ForestRow:
        # Children are not stored: they follow from the parent links (of nodes, and of keyframes), so adding a child
        # rewrites the child's row and its ancestors' fixed-size statistics, never a list that grows with the memory.
        data = {"n": self.n, "pos_sum": self.pos_sum.tolist(), "lo": self.lo.tolist(), "hi": self.hi.tolist(),
                "exemplar_ids": self.exemplar_ids, "meta": self.meta}
        return ForestRow(self.id, self.level, self.parent, self.name, self.summary, data,
                         None if self.emb_sum is None else self.emb_sum.astype(np.float32), None, self.dirty)

    @staticmethod
    def from_row(row: ForestRow) -> ForestNode:
        d = row.data
        return ForestNode(id=row.id, level=row.level, parent=row.parent, n=d["n"], pos_sum=np.array(d["pos_sum"]),
                          lo=np.array(d["lo"]), hi=np.array(d["hi"]),
                          emb_sum=None if row.embedding is None else row.embedding.astype(np.float64),
                          exemplar_ids=list(d["exemplar_ids"]), name=row.name, summary=row.summary, dirty=row.dirty,
                          meta=dict(d.get("meta", {})))


class _LevelIndex:
    """One level's centroids and unit mean embeddings in contiguous arrays (a node's slot is rewritten when its
    statistics change), and a grid over the centroids whose cell is the level's link gate: every area an item may
    join lies in the 27 cells around it, so placing an item costs the same in a small memory and a huge one."""

    def __init__(self, cell: float, dim: int):
        self.cell = cell if cell > 0 else 1.0
        self.ids = np.zeros(16, dtype=np.int64)
        self.cent = np.zeros((16, 3))
        self.emb = np.zeros((16, dim), dtype=np.float32)
        self.slot: dict[int, int] = {}
        self.cells: list[Cell] = []
        self.grid: dict[Cell, set[int]] = {}

    def __len__(self) -> int:
        return len(self.slot)

    def key(self, p: np.ndarray) -> Cell:
        c = self.cell
        return math.floor(p[0] / c), math.floor(p[1] / c), math.floor(p[2] / c)

    def _grow(self, need: int) -> None:
        if need <= len(self.ids):
            return
        new = max(need, 2 * len(self.ids))
        self.ids = np.resize(self.ids, new)
        self.cent = np.resize(self.cent, (new, 3))
        emb = np.zeros((new, self.emb.shape[1]), dtype=np.float32)
        emb[: len(self.slot)] = self.emb[: len(self.slot)]
        self.emb = emb

    def put(self, node_id: int, centroid: np.ndarray, unit: np.ndarray) -> None:
        s = self.slot.get(node_id)
        k = self.key(centroid)
        if s is None:
            s = len(self.slot)
            self._grow(s + 1)
            self.slot[node_id] = s
            self.ids[s] = node_id
            self.cells.append(k)
            self.grid.setdefault(k, set()).add(s)
        elif self.cells[s] != k:
            self._unfile(s)
            self.cells[s] = k
            self.grid.setdefault(k, set()).add(s)
        self.cent[s] = centroid
        self.emb[s] = unit

    def _unfile(self, s: int) -> None:
        bucket = self.grid[self.cells[s]]
        bucket.discard(s)
        if not bucket:
            del self.grid[self.cells[s]]

    def near(self, p: np.ndarray) -> np.ndarray:
        """Slots of the nodes in the 27 cells around a point (a superset of those within the gate)."""
        cx, cy, cz = self.key(p)
        out: list[int] = []
        grid = self.grid
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for dz in (-1, 0, 1):
                    bucket = grid.get((cx + dx, cy + dy, cz + dz))
                    if bucket:
                        out.extend(bucket)
        return np.fromiter(out, dtype=np.int64, count=len(out))


class SemanticForest:
    """Areas over keyframes; leaves live in a shared :class:`LeafIndex`."""

    def __init__(self, config: ForestConfig, leaves: LeafIndex):
        self.config = config
        self.leaves = leaves
        self.nodes: dict[int, ForestNode] = {}
        self.leaf_parent: dict[int, int] = {}
        self._next_id = 1
        self._root: int | None = None
        self._levels: dict[int, _LevelIndex] = {}
        # What changed since the last flush to the store.
        self._changed: set[int] = set()
        self._removed: set[int] = set()
        self._leaf_changed: set[int] = set()

    # -- structure ------------------------------------------------------------------------------------------
    @property
    def root(self) -> ForestNode | None:
        r = self._root
        if r is None or r not in self.nodes:
            roots = self.roots()
            if not roots:
                return None
            r = max(roots, key=lambda n: n.level).id
        while self.nodes[r].parent is not None:  # the root may have grown a level since it was last asked for
            r = self.nodes[r].parent
        self._root = r
        return self.nodes[r]

    def roots(self) -> list[ForestNode]:
        """Every parentless node (one in a consistent forest; scans all nodes)."""
        return [n for n in self.nodes.values() if n.parent is None]

    @property
    def depth(self) -> int:
        root = self.root
        return root.level if root is not None else 0

    def level_nodes(self, level: int) -> list[ForestNode]:
        index = self._levels.get(level)
        return [self.nodes[i] for i in sorted(index.slot)] if index is not None else []

    def ancestors(self, kf_id: int) -> list[ForestNode]:
        """Parents of a keyframe from level 1 up to the root."""
        out = []
        nid = self.leaf_parent.get(kf_id)
        while nid is not None:
            node = self.nodes[nid]
            out.append(node)
            nid = node.parent
        return out

    def _path(self, node: ForestNode) -> list[ForestNode]:
        out = [node]
        while out[-1].parent is not None:
            out.append(self.nodes[out[-1].parent])
        return out

    def leaf_ids(self, node: ForestNode) -> list[int]:
        if node.level == 1:
            return list(node.children)
        out: list[int] = []
        for c in node.children:
            out.extend(self.leaf_ids(self.nodes[c]))
        return out

    def exemplars(self, node: ForestNode) -> np.ndarray:
        """The exemplar leaves' unit embeddings, (k, D)."""
        row = self.leaves.row
        return self.leaves.embeddings[[row[k] for k in node.exemplar_ids if k in row]]

    def unit_embeddings(self, level: int, node_ids: list[int]) -> np.ndarray:
        """Unit mean embeddings of nodes of one level, (len(node_ids), D) float32, from the level's index."""
        index = self._levels[level]
        return index.emb[[index.slot[i] for i in node_ids]]

    def scale(self, level: int) -> float:
        return self.config.spatial_scale_m * self.config.spatial_scale_growth ** (level - 1)

    def gate(self, level: int) -> float:
        return self.config.max_link_distance_factor * self.scale(level)

    def threshold(self, level: int) -> float:
        t = self.config.thresholds
        return t[min(level - 1, len(t) - 1)]

    def mark_changed(self, node: ForestNode) -> None:
        """Persist this node with the next flush (after its name or summary changed)."""
        self._changed.add(node.id)

    def _new_node(self, level: int) -> ForestNode:
        node = ForestNode(id=self._next_id, level=level)
        self._next_id += 1
        self.nodes[node.id] = node
        self._changed.add(node.id)
        return node

    def _link(self, parent: ForestNode, child: ForestNode) -> None:
        parent.children.append(child.id)
        child.parent = parent.id
        self._changed.add(child.id)

    def _index(self, level: int) -> _LevelIndex:
        index = self._levels.get(level)
        if index is None:
            index = self._levels[level] = _LevelIndex(self.gate(level), self.leaves.dim or 1)
        return index

    def _touch(self, node: ForestNode) -> None:
        """A node's statistics changed: persist it, summarise it again, refile it in its level's index."""
        node.dirty = True
        self._changed.add(node.id)
        if node.emb_sum is not None:
            self._index(node.level).put(node.id, node.centroid, node.embedding.astype(np.float32))

    # -- statistics -----------------------------------------------------------------------------------------
    def _add_leaf_stats(self, node: ForestNode, kf_id: int, p: np.ndarray, e: np.ndarray) -> None:
        node.n += 1
        node.pos_sum += p
        np.minimum(node.lo, p, out=node.lo)
        np.maximum(node.hi, p, out=node.hi)
        if node.emb_sum is None:
            node.emb_sum = e.astype(np.float64)
        else:
            node.emb_sum += e
        self._offer_exemplar(node, kf_id, e)
        self._touch(node)

    def _offer_exemplar(self, node: ForestNode, kf_id: int, e: np.ndarray) -> None:
        """Keep up to k diverse leaf embeddings: a newcomer replaces one of the most redundant pair."""
        k = self.config.exemplars
        ids = node.exemplar_ids
        if k <= 0 or kf_id in ids:
            return
        if len(ids) < k:
            ids.append(kf_id)
            return
        ex = self.exemplars(node)
        sims = ex @ ex.T
        np.fill_diagonal(sims, -np.inf)
        i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
        if float(np.max(ex @ e)) < float(sims[i, j]):
            ids[j] = kf_id

    def _recompute(self, node: ForestNode) -> None:
        """Statistics of a node from its children (a new node, or after a split)."""
        if node.level == 1:
            rows = [self.leaves.row[k] for k in node.children]
            pos = self.leaves.positions[rows]
            node.n, node.pos_sum = len(rows), pos.sum(axis=0)
            node.lo, node.hi = pos.min(axis=0), pos.max(axis=0)
            node.emb_sum = self.leaves.embeddings[rows].sum(axis=0, dtype=np.float64)
            candidates = list(node.children)
        else:
            kids = [self.nodes[c] for c in node.children]
            node.n = sum(c.n for c in kids)
            node.pos_sum = np.sum([c.pos_sum for c in kids], axis=0)
            node.lo, node.hi = np.min([c.lo for c in kids], axis=0), np.max([c.hi for c in kids], axis=0)
            node.emb_sum = np.sum([c.emb_sum for c in kids], axis=0)
            candidates = [k for c in kids for k in c.exemplar_ids]
        row = self.leaves.row
        node.exemplar_ids = self._pick_exemplars([np.array([row[k] for k in candidates], dtype=np.int64)])[0]
        self._touch(node)

    def _pick_exemplars(self, groups: list[np.ndarray]) -> list[list[int]]:
        """Up to k diverse leaves of each group of leaf rows (greedy: start at the first, then repeatedly the one
        least similar to those chosen), as keyframe ids; groups of similar size are processed together."""
        k = self.config.exemplars
        ids = self.leaves.ids
        if k <= 0:
            return [[] for _ in groups]
        out: list[list[int]] = [ids[g].tolist() if len(g) <= k else [] for g in groups]
        big = sorted((i for i, g in enumerate(groups) if len(g) > k), key=lambda i: len(groups[i]))
        emb = self.leaves.embeddings
        start = 0
        while start < len(big):
            stop = start + 1
            while stop < len(big) and (stop - start + 1) * len(groups[big[stop]]) * emb.shape[1] <= _GATHER_FLOATS:
                stop += 1
            batch = big[start:stop]
            width = len(groups[batch[-1]])
            rows = np.zeros((len(batch), width), dtype=np.int64)
            valid = np.zeros((len(batch), width), dtype=bool)
            for b, i in enumerate(batch):
                rows[b, : len(groups[i])] = groups[i]
                valid[b, : len(groups[i])] = True
            vec = emb[rows]
            every = np.arange(len(batch))
            chosen = np.zeros((len(batch), k), dtype=np.int64)
            # Similarity to the closest chosen exemplar; one einsum per pick (many small BLAS calls are slow, and
            # the full similarity matrices are not needed).
            closest = np.where(valid, np.einsum("bmd,bd->bm", vec, vec[:, 0, :]), np.inf)
            closest[:, 0] = np.inf
            for t in range(1, k):
                j = np.argmin(closest, axis=1)
                chosen[:, t] = j
                closest = np.maximum(closest, np.einsum("bmd,bd->bm", vec, vec[every, j, :]))
                closest[every, j] = np.inf
            for b, i in enumerate(batch):
                out[i] = ids[rows[b, chosen[b]]].tolist()
            start = stop
        return out

    # -- affinity -------------------------------------------------------------------------------------------
    def affinity(self, pos: np.ndarray, emb: np.ndarray, nodes: list[ForestNode], level: int) -> np.ndarray:
        """Hybrid affinity of one item (position, unit embedding) to nodes of a level."""
        if not nodes:
            return np.zeros(0)
        return self._affinity(pos, emb, np.array([n.centroid for n in nodes]),
                              np.array([n.embedding for n in nodes]), level)

    def _affinity(self, pos: np.ndarray, emb: np.ndarray, cents: np.ndarray, embs: np.ndarray,
                  level: int) -> np.ndarray:
        d = np.linalg.norm(cents - pos, axis=1)
        c = self.config
        aff = c.spatial_weight * np.exp(-d / self.scale(level)) + c.semantic_weight * (embs @ emb)
        # Beyond the gate, places are never one area, however alike their captions read.
        return np.where(d > self.gate(level), -np.inf, aff)

    def _best(self, level: int, pos: np.ndarray, emb: np.ndarray) -> tuple[ForestNode, float] | None:
        """The level's node of highest affinity within the gate, from the level's grid."""
        index = self._levels.get(level)
        if index is None:
            return None
        slots = index.near(pos)
        if not len(slots):
            return None
        scores = self._affinity(pos, emb.astype(np.float32), index.cent[slots], index.emb[slots], level)
        i = int(np.argmax(scores))
        return self.nodes[int(index.ids[slots[i]])], float(scores[i])

    # -- incremental insertion -------------------------------------------------------------------------------
    def insert(self, kf_id: int, neighbours: list[int] | None = None) -> None:
        """Place a keyframe (already in the LeafIndex) into the forest without re-clustering; only the path from it
        to the root changes. ``neighbours`` is accepted for older callers: the grid finds every area they could
        name."""
        pos = self.leaves.position(kf_id)
        emb = self.leaves.embedding(kf_id)
        best = self._best(1, pos, emb)
        if best is not None and best[1] >= self.threshold(1):
            self._attach_leaf(best[0], kf_id, pos, emb)
            return
        node = self._new_node(1)
        node.children.append(kf_id)
        self.leaf_parent[kf_id] = node.id
        self._leaf_changed.add(kf_id)
        self._add_leaf_stats(node, kf_id, pos, emb)
        self._place(node)

    def update_leaf(self, kf_id: int, old: np.ndarray) -> None:
        """A leaf's embedding changed in the leaf index (its caption came later; ``old`` is its previous unit row):
        move the running sums of its ancestors and mark them for new summaries. Its place in the tree stays until
        a rebalance."""
        delta = self.leaves.embedding(kf_id).astype(np.float64) - old
        for node in self.ancestors(kf_id):
            if node.emb_sum is not None:
                node.emb_sum += delta
            self._touch(node)

    def _attach_leaf(self, node: ForestNode, kf_id: int, pos: np.ndarray, emb: np.ndarray) -> None:
        node.children.append(kf_id)
        self.leaf_parent[kf_id] = node.id
        self._leaf_changed.add(kf_id)
        for a in self._path(node):
            self._add_leaf_stats(a, kf_id, pos, emb)
        self._maybe_split(node)

    def _place(self, node: ForestNode) -> None:
        """Give a fresh node (with statistics, no parent) a parent: the best fitting area a level up within the
        gate, else a new one placed the same way; below the root's level that is the root itself."""
        root = self.root
        if root is None or root.id == node.id:
            self._root = node.id  # the first node
            return
        if root.level <= node.level:
            # A second node at the top: the forest grows a root above both.
            top = self._new_node(node.level + 1)
            self._link(top, root)
            self._link(top, node)
            self._recompute(top)
            self._root = top.id
            return
        level = node.level + 1
        if level == root.level:
            self._attach_node(root, node)
            return
        best = self._best(level, node.centroid, node.embedding)
        if best is not None and best[1] >= self.threshold(level):
            self._attach_node(best[0], node)
            return
        parent = self._new_node(level)
        self._link(parent, node)
        self._recompute(parent)
        self._place(parent)

    def _attach_node(self, parent: ForestNode, node: ForestNode) -> None:
        self._link(parent, node)
        for a in self._path(parent):
            self._merge_stats(a, node)
        self._maybe_split(parent)

    def _merge_stats(self, into: ForestNode, node: ForestNode) -> None:
        assert node.emb_sum is not None
        into.n += node.n
        into.pos_sum += node.pos_sum
        np.minimum(into.lo, node.lo, out=into.lo)
        np.maximum(into.hi, node.hi, out=into.hi)
        if into.emb_sum is None:
            into.emb_sum = node.emb_sum.copy()
        else:
            into.emb_sum += node.emb_sum
        for kf, e in zip(node.exemplar_ids, self.exemplars(node)):
            self._offer_exemplar(into, kf, e)
        self._touch(into)

    def _child_features(self, node: ForestNode) -> tuple[np.ndarray, np.ndarray]:
        if node.level == 1:
            rows = [self.leaves.row[k] for k in node.children]
            return self.leaves.positions[rows], self.leaves.embeddings[rows]
        index = self._index(node.level - 1)
        slots = [index.slot[c] for c in node.children]
        return index.cent[slots], index.emb[slots]

    def _maybe_split(self, node: ForestNode) -> None:
        """Split a node that has too many children in two, around its two least similar children (bounded work:
        at most ``max_children + 1`` children are compared)."""
        if len(node.children) <= self.config.max_children:
            return
        if node.parent is None:
            if node.level >= self.config.max_levels:
                return  # the top root may grow wide; its children stay bounded
            root = self._new_node(node.level + 1)
            self._link(root, node)
            self._recompute(root)
            self._root = root.id
        pos, emb = self._child_features(node)
        c = self.config
        d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=2)
        aff = c.spatial_weight * np.exp(-d / self.scale(node.level)) + c.semantic_weight * (emb @ emb.T)
        i, j = np.unravel_index(int(np.argmin(aff)), aff.shape)
        to_new = aff[:, j] > aff[:, i]
        if to_new.all() or not to_new.any():
            # Children that cannot be told apart (a robot standing still): halve them, so no area grows unbounded.
            to_new = np.arange(len(node.children)) >= len(node.children) // 2
        keep = [ch for ch, moved in zip(node.children, to_new) if not moved]
        move = [ch for ch, moved in zip(node.children, to_new) if moved]
        assert node.parent is not None
        parent = self.nodes[node.parent]
        sibling = self._new_node(node.level)
        node.children, sibling.children = keep, move
        for ch in move:
            if node.level == 1:
                self.leaf_parent[ch] = sibling.id
                self._leaf_changed.add(ch)
            else:
                self.nodes[ch].parent = sibling.id
                self._changed.add(ch)
        sibling.parent = parent.id
        parent.children.append(sibling.id)
        self._recompute(node)
        self._recompute(sibling)
        self._maybe_split(parent)

    # -- full rebuild and rebalance --------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Re-cluster everything from the leaves (complete linkage per level); forgets names and summaries."""
        self._removed.update(self.nodes)
        self.nodes, self.leaf_parent = self._build()
        self._removed.difference_update(self.nodes)
        self._changed.update(self.nodes)
        self._leaf_changed.update(self.leaf_parent)
        self._reindex()

    def rebalance(self) -> int:
        """Re-cluster every level as :meth:`rebuild` does, but keep each area whose members are unchanged (its id,
        name, summary and stored row): the incremental forest drifts from what complete linkage would make as it
        grows, and this brings it back at the cost of a rebuild, rewriting only what moved. Returns the number of
        areas that are new or whose parent changed."""
        new_nodes, new_parents = self._build()
        old_by_members = {(n.level, tuple(sorted(n.children))): n.id for n in self.nodes.values()}
        final: dict[int, int] = {}  # built id -> id in the result (an old id where the members are the same)
        for node in sorted(new_nodes.values(), key=lambda n: n.level):
            kids = node.children if node.level == 1 else [final[c] for c in node.children]
            old = old_by_members.get((node.level, tuple(sorted(kids))))
            final[node.id] = old if old is not None else node.id
            node.children = kids
        nodes: dict[int, ForestNode] = {}
        changed = 0
        for node in new_nodes.values():
            parent = None if node.parent is None else final[node.parent]
            keep = self.nodes.get(final[node.id])
            if keep is None:
                node.parent = parent
                nodes[node.id] = node
                self._changed.add(node.id)
                changed += 1
            else:
                if keep.parent != parent:
                    keep.parent = parent
                    self._changed.add(keep.id)
                    changed += 1
                nodes[keep.id] = keep
        self._removed.update(i for i in self.nodes if i not in nodes)
        for k, p in new_parents.items():
            if self.leaf_parent.get(k) != final[p]:
                self.leaf_parent[k] = final[p]
                self._leaf_changed.add(k)
        self.nodes = nodes
        self._reindex()
        return changed

    def _reindex(self) -> None:
        """Level indexes and the root from the nodes (after a rebuild, a rebalance or a load)."""
        self._levels = {}
        by_level: dict[int, list[ForestNode]] = {}
        for node in self.nodes.values():
            by_level.setdefault(node.level, []).append(node)
        # Stored rows may be read before any leaf (a reader of a memory being repaired): their own width then.
        dim = self.leaves.dim or next((len(x.emb_sum) for x in self.nodes.values() if x.emb_sum is not None), 1)
        for level, nodes in by_level.items():
            index = _LevelIndex(self.gate(level), dim)
            n = np.array([max(x.n, 1) for x in nodes], dtype=np.float64)
            cents = np.array([x.pos_sum for x in nodes]) / n[:, None]
            embs = np.array([x.emb_sum if x.emb_sum is not None and len(x.emb_sum) == dim else np.zeros(dim)
                             for x in nodes])
            embs /= np.maximum(np.linalg.norm(embs, axis=1, keepdims=True), 1e-12)
            index._grow(len(nodes))
            index.ids[: len(nodes)] = [x.id for x in nodes]
            index.cent[: len(nodes)] = cents
            index.emb[: len(nodes)] = embs
            for s, x in enumerate(nodes):
                index.slot[x.id] = s
                k = index.key(cents[s])
                index.cells.append(k)
                index.grid.setdefault(k, set()).add(s)
            self._levels[level] = index
        self._root = None
        self._root = self.root.id if self.nodes else None

    def _build(self) -> tuple[dict[int, ForestNode], dict[int, int]]:
        """A forest over all leaves by complete linkage per level, with fresh ids; statistics computed per level
        with array reductions rather than per leaf."""
        count = len(self.leaves)
        if count == 0:
            return {}, {}
        ids = self.leaves.ids[:count]
        pos, emb = self.leaves.positions, self.leaves.embeddings
        labels = self._cluster(pos, emb, 1)
        order = np.lexsort((ids, labels))  # members of an area in keyframe order
        starts = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1]])
        n = np.diff(np.r_[starts, count])
        pos_sum = np.add.reduceat(pos[order], starts)
        lo, hi = np.minimum.reduceat(pos[order], starts), np.maximum.reduceat(pos[order], starts)
        emb_sum = np.zeros((len(starts), emb.shape[1]))
        per = max(1, _GATHER_FLOATS // (emb.shape[1] * max(self.config.max_children, 1)))  # areas per gather
        for a in range(0, len(starts), per):
            b = min(a + per, len(starts))
            end = starts[b] if b < len(starts) else count
            emb_sum[a:b] = np.add.reduceat(emb[order[starts[a]:end]], starts[a:b] - starts[a], dtype=np.float64)
        members = np.split(order, starts[1:])
        exemplars = self._pick_exemplars(members)
        node_ids = np.arange(self._next_id, self._next_id + len(starts))
        self._next_id += len(starts)
        nodes: dict[int, ForestNode] = {}
        leaf_ids = ids[order].tolist()
        for g, nid in enumerate(node_ids.tolist()):
            nodes[nid] = ForestNode(nid, 1, children=leaf_ids[starts[g]: starts[g] + n[g]], n=int(n[g]),
                                    pos_sum=pos_sum[g].copy(), lo=lo[g].copy(), hi=hi[g].copy(),
                                    emb_sum=emb_sum[g].copy(), exemplar_ids=exemplars[g])
        leaf_parent = dict(zip(leaf_ids, np.repeat(node_ids, n).tolist()))
        level = 1
        row = self.leaves.row
        while len(node_ids) > 1 and level < self.config.max_levels:
            level += 1
            if level == self.config.max_levels:
                labels = np.zeros(len(node_ids), dtype=np.int64)
            else:
                unit = (emb_sum / np.maximum(np.linalg.norm(emb_sum, axis=1, keepdims=True), 1e-12))
                labels = self._cluster(pos_sum / n[:, None], unit.astype(np.float32), level)
            order = np.lexsort((node_ids, labels))
            starts = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1]])
            kids = np.split(node_ids[order], starts[1:])
            n = np.add.reduceat(n[order], starts)
            pos_sum = np.add.reduceat(pos_sum[order], starts)
            lo, hi = np.minimum.reduceat(lo[order], starts), np.maximum.reduceat(hi[order], starts)
            emb_sum = np.add.reduceat(emb_sum[order], starts)
            exemplars = self._pick_exemplars(
                [np.array([row[k] for c in group.tolist() for k in nodes[c].exemplar_ids], dtype=np.int64)
                 for group in kids])
            node_ids = np.arange(self._next_id, self._next_id + len(starts))
            self._next_id += len(starts)
            for g, nid in enumerate(node_ids.tolist()):
                children = kids[g].tolist()
                nodes[nid] = ForestNode(nid, level, children=children, n=int(n[g]), pos_sum=pos_sum[g].copy(),
                                        lo=lo[g].copy(), hi=hi[g].copy(), emb_sum=emb_sum[g].copy(),
                                        exemplar_ids=exemplars[g])
                for c in children:
                    nodes[c].parent = nid
        return nodes, leaf_parent

    def _cluster(self, pos: np.ndarray, emb: np.ndarray, level: int) -> np.ndarray:
        """Area label of each item (0..G-1): complete linkage within parts of at most ``_LINKAGE_MAX`` items cut
        along the widest axis where the items are sparsest near the middle (between rooms or floors, so a cut
        rarely splits a place); clusters never cross a cut."""
        labels = np.empty(len(pos), dtype=np.int64)
        groups = 0
        stack = [np.arange(len(pos))]
        while stack:
            part = stack.pop()
            if len(part) > _LINKAGE_MAX:
                p = pos[part]
                axis = int(np.argmax(np.ptp(p, axis=0)))
                order = np.argsort(p[:, axis], kind="stable")
                v = p[order, axis]
                a, b = len(v) // 4, (3 * len(v)) // 4
                cut = a + 1 + int(np.argmax(v[a + 1: b + 1] - v[a:b]))
                stack += [part[order[cut:]], part[order[:cut]]]
                continue
            for members in self._linkage_groups(pos[part], emb[part], level):
                labels[part[members]] = groups
                groups += 1
        return labels

    def _linkage_groups(self, pos: np.ndarray, emb: np.ndarray, level: int) -> list[np.ndarray]:
        n = len(pos)
        if n == 1:
            return [np.zeros(1, dtype=np.int64)]
        c = self.config
        spatial = pdist(pos)
        # Cosine distances of unit rows through one matrix product (BLAS) rather than pdist's pairwise loop; all
        # arithmetic on the condensed (upper triangle) form.
        unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        dist = c.semantic_weight * np.clip(1.0 - squareform(unit @ unit.T, checks=False), 0.0, 2.0)
        dist += c.spatial_weight * (1.0 - np.exp(-spatial / self.scale(level)))
        dist[spatial > self.gate(level)] = c.spatial_weight + c.semantic_weight + 1.0
        # distance = (w_s + w_c) - affinity, so "affinity >= threshold" is "distance <= w_s + w_c - threshold".
        z = linkage(dist, method="complete")
        labels = fcluster(z, t=c.spatial_weight + c.semantic_weight - self.threshold(level), criterion="distance")
        order = np.argsort(labels, kind="stable")
        out = []
        for members in np.split(order, np.flatnonzero(np.diff(labels[order])) + 1):
            if len(members) > c.max_children:
                # Keep areas small enough to summarise and to descend through: cut along the widest axis.
                axis = int(np.argmax(np.ptp(pos[members], axis=0)))
                members = members[np.argsort(pos[members, axis], kind="stable")]
                out.extend(np.array_split(members, -(-len(members) // c.max_children)))
            else:
                out.append(members)
        return out

    # -- persistence ----------------------------------------------------------------------------------------
    def flush(self) -> tuple[list[ForestRow], list[int], dict[int, int | None]]:
        """Rows to write since the last flush: (changed nodes, removed ids, leaf parents); only what changed."""
        rows = [self.nodes[i].to_row() for i in sorted(self._changed) if i in self.nodes]
        removed = sorted(i for i in self._removed if i not in self.nodes)
        leafs = {k: self.leaf_parent.get(k) for k in self._leaf_changed}
        self._changed.clear()
        self._removed.clear()
        self._leaf_changed.clear()
        return rows, removed, leafs

    def load(self, rows: list[ForestRow], leaf_parents: dict[int, int | None]) -> None:
        """Nodes from stored rows; children from the parent links of nodes and keyframes, in id order."""
        self.nodes = {r.id: ForestNode.from_row(r) for r in rows}
        self.leaf_parent = {k: p for k, p in leaf_parents.items() if p is not None}
        self._relink()
        self._next_id = max(self.nodes, default=0) + 1
        self._changed.clear()
        self._removed.clear()
        self._leaf_changed.clear()
        self._reindex()

    def _relink(self) -> None:
        """Children lists from the parent links of nodes and keyframes, in id order."""
        for node in self.nodes.values():
            node.children = []
        for node in sorted(self.nodes.values(), key=lambda x: x.id):
            if node.parent is not None and node.parent in self.nodes:
                self.nodes[node.parent].children.append(node.id)
        for k in sorted(self.leaf_parent):
            parent = self.nodes.get(self.leaf_parent[k])
            if parent is not None and parent.level == 1:
                parent.children.append(k)

    def apply(self, rows: list[ForestRow], removed: list[int], leaf_parents: dict[int, int | None]) -> None:
        """Merge what another writer committed (its changed rows, removed nodes and leaf links) into this copy,
        touching only those nodes (a removal, which only a rebuild or rebalance makes, relinks everything)."""
        relink = bool(removed)
        for i in removed:
            self.nodes.pop(i, None)
        for r in rows:
            new = ForestNode.from_row(r)
            old = self.nodes.get(r.id)
            if old is not None:
                new.children = old.children
                if old.level != new.level:
                    relink = True
                elif old.parent != new.parent and old.parent in self.nodes and not relink:
                    siblings = self.nodes[old.parent].children
                    if r.id in siblings:
                        siblings.remove(r.id)
            self.nodes[r.id] = new
        for k, p in leaf_parents.items():
            old_p = self.leaf_parent.get(k)
            if p is None:
                self.leaf_parent.pop(k, None)
            else:
                self.leaf_parent[k] = p
            if relink or old_p == p:
                continue
            if old_p is not None and old_p in self.nodes and k in self.nodes[old_p].children:
                self.nodes[old_p].children.remove(k)
        if relink:
            self._relink()
        else:
            for r in rows:
                node = self.nodes[r.id]
                if node.parent is not None and node.parent in self.nodes:
                    kids = self.nodes[node.parent].children
                    if node.id not in kids:
                        kids.append(node.id)
            for k, p in leaf_parents.items():
                parent = self.nodes.get(p) if p is not None else None
                if parent is not None and parent.level == 1 and k not in parent.children:
                    parent.children.append(k)
        self._next_id = max(self._next_id, max(self.nodes, default=0) + 1)
        if relink:
            self._reindex()
        else:
            for r in rows:
                node = self.nodes[r.id]
                if node.emb_sum is not None:
                    self._index(node.level).put(node.id, node.centroid, node.embedding.astype(np.float32))
            self._root = None
            self._root = self.root.id if self.nodes else None

    def check(self) -> list[str]:
        """Invariant violations (empty when consistent): one path to a root per leaf, extents contain children,
        counts match, every node filed in its level's index."""
        problems = []
        for k in self.leaves.ids[: len(self.leaves)]:
            k = int(k)
            if k not in self.leaf_parent:
                problems.append(f"keyframe {k} has no parent")
                continue
            parent = self.nodes.get(self.leaf_parent[k])
            if parent is None or parent.level != 1 or k not in parent.children:
                problems.append(f"keyframe {k} is not a child of its parent")
        roots = self.roots()
        if len(roots) > 1:
            problems.append(f"{len(roots)} roots")
        counts: dict[int, int] = {}
        for node in sorted(self.nodes.values(), key=lambda x: x.level):
            total = 0
            for c in node.children:
                if node.level > 1:
                    child = self.nodes.get(c)
                    if child is None or child.parent != node.id or child.level != node.level - 1:
                        problems.append(f"node {node.id} has a bad child {c}")
                        continue
                    lo, hi = child.lo, child.hi
                    total += counts.get(c, 0)
                else:
                    if c not in self.leaves:
                        problems.append(f"node {node.id} has a child {c} that is not a leaf")
                        continue
                    lo = hi = self.leaves.position(c)
                    total += 1
                if np.any(lo < node.lo - 1e-6) or np.any(hi > node.hi + 1e-6):
                    problems.append(f"node {node.id} extent does not contain child {c}")
            counts[node.id] = total
            if node.n != total:
                problems.append(f"node {node.id} counts {node.n} leaves, has {total}")
            index = self._levels.get(node.level)
            if index is None or node.id not in index.slot:
                problems.append(f"node {node.id} is missing from the level {node.level} index")
        if sum(len(x) for x in self._levels.values()) != len(self.nodes):
            problems.append("the level indexes hold nodes that are not in the forest")
        return problems
