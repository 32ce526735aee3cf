"""The semantic forest: levels of areas above the keyframes, grouped by hybrid spatial + semantic affinity.

affinity(a, b) = w_s * exp(-d(a, b) / scale_L) + w_c * cos(e_a, e_b), with the spatial scale growing per level
(Embodied-RAG: 0.4 * exp(-d / 10 m) + 0.6 * cos). A full rebuild clusters each level with complete linkage
(scipy) at a threshold that loosens per level; incremental insertion places a new keyframe in the best-fitting
level-1 area (found from its spatial neighbours and a beam descent), or opens new areas up to the root, and
splits areas that grow past ``max_children``. Each node keeps running sums (centroid, mean embedding, extent) and
a few diverse "exemplar" leaf embeddings so a small area's content is not averaged away for retrieval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

from embodied_rag.config import ForestConfig
from embodied_rag.memory.leaves import LeafIndex
from embodied_rag.memory.store import ForestRow

# Above this many items a level is split spatially before complete linkage (O(n^2) memory: ~0.6 GB at 6000).
_LINKAGE_MAX = 6000


@dataclass
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
    exemplars: np.ndarray | None = None  # (k, D) unit rows
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
        data = {"children": self.children, "n": self.n, "pos_sum": self.pos_sum.tolist(), "lo": self.lo.tolist(),
                "hi": self.hi.tolist(), "exemplar_ids": self.exemplar_ids, "meta": self.meta}
        return ForestRow(self.id, self.level, self.parent, self.name, self.summary, data,
                         None if self.emb_sum is None else self.emb_sum.astype(np.float32),
                         self.exemplars, self.dirty)

    @staticmethod
    def from_row(row: ForestRow) -> ForestNode:
        d = row.data
        return ForestNode(id=row.id, level=row.level, parent=row.parent, children=list(d["children"]), n=d["n"],
                          pos_sum=np.array(d["pos_sum"]), lo=np.array(d["lo"]), hi=np.array(d["hi"]),
                          emb_sum=None if row.embedding is None else row.embedding.astype(np.float64),
                          exemplar_ids=list(d["exemplar_ids"]), exemplars=row.exemplars, name=row.name,
                          summary=row.summary, dirty=row.dirty, meta=dict(d.get("meta", {})))


class SemanticForest:
    """Areas over keyframes; leaves live in a shared :class:`LeafIndex`."""

    def __init__(self, config: ForestConfig, leaves: LeafIndex):
        self.config = config
        self.leaves = leaves
        self.nodes: dict[int, ForestNode] = {}
        self.leaf_parent: dict[int, int] = {}
        self._next_id = 1
        # What changed since the last flush to the store.
        self._changed: set[int] = set()
        self._removed: set[int] = set()
        self._leaf_changed: set[int] = set()

    # -- structure ------------------------------------------------------------------------------------------
    @property
    def root(self) -> ForestNode | None:
        roots = [n for n in self.nodes.values() if n.parent is None]
        return max(roots, key=lambda n: n.level) if roots else None

    def roots(self) -> list[ForestNode]:
        return [n for n in self.nodes.values() if n.parent is None]

    @property
    def depth(self) -> int:
        return max((n.level for n in self.nodes.values()), default=0)

    def level_nodes(self, level: int) -> list[ForestNode]:
        return [n for n in self.nodes.values() if n.level == level]

    def ancestors(self, kf_id: int) -> list[ForestNode]:
        """Parents of a keyframe from level 1 up to the root."""
        out = []
        nid = self.leaf_parent.get(kf_id)
        while nid is not None:
            node = self.nodes[nid]
            out.append(node)
            nid = node.parent
        return out

    def leaf_ids(self, node: ForestNode) -> list[int]:
        if node.level == 1:
            return list(node.children)
        out: list[int] = []
        for c in node.children:
            out.extend(self.leaf_ids(self.nodes[c]))
        return out

    def scale(self, level: int) -> float:
        return self.config.spatial_scale_m * self.config.spatial_scale_growth ** (level - 1)

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

    # -- statistics -----------------------------------------------------------------------------------------
    def _add_leaf_stats(self, node: ForestNode, kf_id: int) -> None:
        p = self.leaves.position(kf_id)
        e = self.leaves.embedding(kf_id).astype(np.float64)
        node.n += 1
        node.pos_sum = node.pos_sum + p
        node.lo = np.minimum(node.lo, p)
        node.hi = np.maximum(node.hi, p)
        node.emb_sum = e.copy() if node.emb_sum is None else node.emb_sum + e
        self._offer_exemplar(node, kf_id, e.astype(np.float32))
        node.dirty = True
        self._changed.add(node.id)

    def _offer_exemplar(self, node: ForestNode, kf_id: int, e: np.ndarray) -> None:
        """Keep up to k diverse leaf embeddings: a newcomer replaces one of the most redundant pair."""
        k = self.config.exemplars
        if k <= 0:
            return
        if node.exemplars is None or len(node.exemplar_ids) == 0:
            node.exemplars, node.exemplar_ids = e[None, :].copy(), [kf_id]
            return
        if len(node.exemplar_ids) < k:
            node.exemplars = np.vstack([node.exemplars, e])
            node.exemplar_ids = node.exemplar_ids + [kf_id]
            return
        sims = node.exemplars @ node.exemplars.T
        np.fill_diagonal(sims, -np.inf)
        i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
        if float(np.max(node.exemplars @ e)) < float(sims[i, j]):
            node.exemplars[j] = e
            node.exemplar_ids[j] = kf_id

    def _recompute(self, node: ForestNode) -> None:
        """Statistics of a node from its children (after a split or a rebuild)."""
        node.n, node.pos_sum = 0, np.zeros(3)
        node.lo, node.hi = np.full(3, np.inf), np.full(3, -np.inf)
        node.emb_sum, node.exemplars, node.exemplar_ids = None, None, []
        if node.level == 1:
            for kf in node.children:
                self._add_leaf_stats(node, kf)
        else:
            for cid in node.children:
                c = self.nodes[cid]
                node.n += c.n
                node.pos_sum = node.pos_sum + c.pos_sum
                node.lo, node.hi = np.minimum(node.lo, c.lo), np.maximum(node.hi, c.hi)
                node.emb_sum = c.emb_sum.copy() if node.emb_sum is None else node.emb_sum + c.emb_sum
                for kf, e in zip(c.exemplar_ids, c.exemplars if c.exemplars is not None else []):
                    self._offer_exemplar(node, kf, e)
        node.dirty = True
        self._changed.add(node.id)

    # -- affinity -------------------------------------------------------------------------------------------
    def affinity(self, pos: np.ndarray, emb: np.ndarray, nodes: list[ForestNode], level: int) -> np.ndarray:
        """Hybrid affinity of one item (position, unit embedding) to nodes of a level."""
        if not nodes:
            return np.zeros(0)
        cents = np.array([n.centroid for n in nodes])
        embs = np.array([n.embedding for n in nodes])
        d = np.linalg.norm(cents - pos, axis=1)
        c = self.config
        aff = c.spatial_weight * np.exp(-d / self.scale(level)) + c.semantic_weight * (embs @ emb)
        # Beyond the gate, places are never one area, however alike their captions read.
        return np.where(d > c.max_link_distance_factor * self.scale(level), -np.inf, aff)

    # -- incremental insertion -------------------------------------------------------------------------------
    def insert(self, kf_id: int, neighbours: list[int] | None = None) -> None:
        """Place a keyframe (already in the LeafIndex) into the forest without re-clustering."""
        pos = self.leaves.position(kf_id)
        emb = self.leaves.embedding(kf_id).astype(np.float64)
        candidates = self._level1_candidates(pos, emb, neighbours or [])
        if candidates:
            scores = self.affinity(pos, emb, candidates, 1)
            best = int(np.argmax(scores))
            if scores[best] >= self.threshold(1):
                self._attach_leaf(candidates[best], kf_id)
                return
        node = self._new_node(1)
        self._attach_leaf(node, kf_id, propagate=False)
        self._place_node(node, candidates)

    def _level1_candidates(self, pos, emb, neighbours: list[int]) -> list[ForestNode]:
        found = {self.leaf_parent[k] for k in neighbours if k in self.leaf_parent}
        # Beam descent from the top, so semantic matches far from the spatial neighbours are considered too.
        beam = self.roots()
        while beam and beam[0].level > 1:
            level = beam[0].level - 1
            children = [self.nodes[c] for n in beam for c in n.children]
            if not children:
                break
            scores = self.affinity(pos, emb, children, level)
            order = np.argsort(-scores)[:3]
            beam = [children[i] for i in order]
        found.update(n.id for n in beam if n.level == 1)
        return [self.nodes[i] for i in sorted(found)]

    def _attach_leaf(self, node: ForestNode, kf_id: int, propagate: bool = True) -> None:
        node.children.append(kf_id)
        self.leaf_parent[kf_id] = node.id
        self._leaf_changed.add(kf_id)
        self._add_leaf_stats(node, kf_id)
        if propagate:
            a = node.parent
            while a is not None:
                self._add_leaf_stats(self.nodes[a], kf_id)
                a = self.nodes[a].parent
            self._maybe_split(node)

    def _place_node(self, node: ForestNode, near: list[ForestNode]) -> None:
        """Give a fresh node (with stats) a parent: the best fitting one a level up, or a new one, up to the root."""
        level = node.level + 1
        top = self.depth
        if level > top:
            # The first node or a new top: the forest grows a root above the current roots.
            others = [r for r in self.roots() if r.id != node.id]
            if not others:
                return
            if top >= self.config.max_levels:
                root = max(others, key=lambda r: r.level)
                self._attach_node(root, node)
                return
            root = self._new_node(level)
            for r in others + [node]:
                r.parent = root.id
                root.children.append(r.id)
                self._changed.add(r.id)
            self._recompute(root)
            return
        cands = {n.parent for n in near if n.parent is not None}
        cands = [self.nodes[i] for i in sorted(cands) if self.nodes[i].level == level]
        if not cands:
            cands = self.level_nodes(level)
        scores = self.affinity(node.centroid, node.embedding, cands, level)
        best = int(np.argmax(scores)) if len(scores) else -1
        if best >= 0 and (scores[best] >= self.threshold(level) or level == top):
            self._attach_node(cands[best], node)
            return
        parent = self._new_node(level)
        parent.children.append(node.id)
        node.parent = parent.id
        self._recompute(parent)
        self._place_node(parent, cands)

    def _attach_node(self, parent: ForestNode, node: ForestNode) -> None:
        parent.children.append(node.id)
        node.parent = parent.id
        self._changed.add(node.id)
        a: int | None = parent.id
        while a is not None:
            self._merge_stats(self.nodes[a], node)
            a = self.nodes[a].parent
        self._maybe_split(parent)

    def _merge_stats(self, into: ForestNode, node: ForestNode) -> None:
        into.n += node.n
        into.pos_sum = into.pos_sum + node.pos_sum
        into.lo, into.hi = np.minimum(into.lo, node.lo), np.maximum(into.hi, node.hi)
        into.emb_sum = node.emb_sum.copy() if into.emb_sum is None else into.emb_sum + node.emb_sum
        for kf, e in zip(node.exemplar_ids, node.exemplars if node.exemplars is not None else []):
            self._offer_exemplar(into, kf, e)
        into.dirty = True
        self._changed.add(into.id)

    def _child_features(self, node: ForestNode) -> tuple[np.ndarray, np.ndarray]:
        if node.level == 1:
            rows = [self.leaves.row[k] for k in node.children]
            return self.leaves.positions[rows], self.leaves.embeddings[rows].astype(np.float64)
        kids = [self.nodes[c] for c in node.children]
        return np.array([k.centroid for k in kids]), np.array([k.embedding for k in kids])

    def _maybe_split(self, node: ForestNode) -> None:
        """Split a node that has too many children in two, around its two least similar children."""
        if len(node.children) <= self.config.max_children:
            return
        if node.parent is None:
            if node.level >= self.config.max_levels:
                return  # the top root may grow wide; its children stay bounded
            root = self._new_node(node.level + 1)
            root.children.append(node.id)
            node.parent = root.id
            self._recompute(root)
        pos, emb = self._child_features(node)
        c = self.config
        d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=2)
        aff = c.spatial_weight * np.exp(-d / self.scale(node.level)) + c.semantic_weight * (emb @ emb.T)
        i, j = np.unravel_index(int(np.argmin(aff)), aff.shape)
        to_new = aff[:, j] > aff[:, i]
        keep = [ch for ch, moved in zip(node.children, to_new) if not moved]
        move = [ch for ch, moved in zip(node.children, to_new) if moved]
        if not keep or not move:
            return
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

    # -- full rebuild ---------------------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Re-cluster everything from the leaves (complete linkage per level); forgets names and summaries."""
        self._removed.update(self.nodes)
        self.nodes.clear()
        self.leaf_parent.clear()
        self._leaf_changed.update(int(k) for k in self.leaves.ids[: len(self.leaves)])
        if len(self.leaves) == 0:
            return
        ids = [int(k) for k in self.leaves.ids[: len(self.leaves)]]
        groups = self._cluster(self.leaves.positions, self.leaves.embeddings.astype(np.float64), 1)
        current: list[ForestNode] = []
        for members in groups:
            node = self._new_node(1)
            node.children = [ids[m] for m in members]
            for k in node.children:
                self.leaf_parent[k] = node.id
            self._recompute(node)
            current.append(node)
        level = 1
        while len(current) > 1 and level < self.config.max_levels:
            level += 1
            if level == self.config.max_levels:
                groups = [list(range(len(current)))]
            else:
                pos = np.array([n.centroid for n in current])
                emb = np.array([n.embedding for n in current])
                groups = self._cluster(pos, emb, level)
            nxt = []
            for members in groups:
                node = self._new_node(level)
                node.children = [current[m].id for m in members]
                for m in members:
                    current[m].parent = node.id
                self._recompute(node)
                nxt.append(node)
            current = nxt
        self._removed.difference_update(self.nodes)

    def _cluster(self, pos: np.ndarray, emb: np.ndarray, level: int) -> list[list[int]]:
        n = len(pos)
        if n == 1:
            return [[0]]
        if n > _LINKAGE_MAX:
            # Complete linkage needs O(n^2) memory: split at the median of the widest axis (a k-d partition)
            # until each part fits; clusters never cross a cut, which at this size costs little.
            axis = int(np.argmax(np.ptp(pos, axis=0)))
            order = np.argsort(pos[:, axis], kind="stable")
            out: list[list[int]] = []
            for part in (order[: n // 2], order[n // 2:]):
                for sub in self._cluster(pos[part], emb[part], level):
                    out.append([int(part[i]) for i in sub])
            return out
        c = self.config
        spatial = pdist(pos)
        dist = c.spatial_weight * (1.0 - np.exp(-spatial / self.scale(level)))
        # Cosine distances of unit rows through one matrix product (BLAS) rather than pdist's pairwise loop.
        unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        iu = np.triu_indices(n, k=1)
        dist += c.semantic_weight * np.clip(1.0 - (unit @ unit.T)[iu], 0.0, 2.0)
        dist[spatial > c.max_link_distance_factor * self.scale(level)] = c.spatial_weight + c.semantic_weight + 1.0
        # distance = (w_s + w_c) - affinity, so "affinity >= threshold" is "distance <= w_s + w_c - threshold".
        z = linkage(dist, method="complete")
        labels = fcluster(z, t=c.spatial_weight + c.semantic_weight - self.threshold(level), criterion="distance")
        groups: dict[int, list[int]] = {}
        for i, lab in enumerate(labels):
            groups.setdefault(int(lab), []).append(i)
        out = []
        for members in groups.values():
            # Keep areas small enough to summarise and to descend through.
            while len(members) > c.max_children:
                out.append(members[: c.max_children])
                members = members[c.max_children:]
            out.append(members)
        return out

    # -- persistence ----------------------------------------------------------------------------------------
    def flush(self) -> tuple[list[ForestRow], list[int], dict[int, int | None]]:
        """Rows to write since the last flush: (changed nodes, removed ids, leaf parents)."""
        rows = [self.nodes[i].to_row() for i in sorted(self._changed) if i in self.nodes]
        removed = sorted(self._removed - set(self.nodes))
        leafs = {k: self.leaf_parent.get(k) for k in self._leaf_changed}
        self._changed.clear()
        self._removed.clear()
        self._leaf_changed.clear()
        return rows, removed, leafs

    def load(self, rows: list[ForestRow], leaf_parents: dict[int, int | None]) -> None:
        self.nodes = {r.id: ForestNode.from_row(r) for r in rows}
        self.leaf_parent = {k: p for k, p in leaf_parents.items() if p is not None}
        self._next_id = max(self.nodes, default=0) + 1
        self._changed.clear()
        self._removed.clear()
        self._leaf_changed.clear()

    def check(self) -> list[str]:
        """Invariant violations (empty when consistent): one path to a root per leaf, extents contain children."""
        problems = []
        for k in self.leaves.ids[: len(self.leaves)]:
            k = int(k)
            if k not in self.leaf_parent:
                problems.append(f"keyframe {k} has no parent")
                continue
            if k not in self.nodes[self.leaf_parent[k]].children:
                problems.append(f"keyframe {k} is not a child of its parent")
        if len(self.roots()) > 1:
            problems.append(f"{len(self.roots())} roots")
        for node in self.nodes.values():
            for c in node.children:
                if node.level > 1:
                    child = self.nodes.get(c)
                    if child is None or child.parent != node.id or child.level != node.level - 1:
                        problems.append(f"node {node.id} has a bad child {c}")
                        continue
                    lo, hi = child.lo, child.hi
                else:
                    lo = hi = self.leaves.position(c)
                if np.any(lo < node.lo - 1e-6) or np.any(hi > node.hi + 1e-6):
                    problems.append(f"node {node.id} extent does not contain child {c}")
            if node.n != len(self.leaf_ids(node)):
                problems.append(f"node {node.id} counts {node.n} leaves, has {len(self.leaf_ids(node))}")
        return problems
