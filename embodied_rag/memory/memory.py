"""One memory: keyframes, topological graph, semantic forest, object instances and floors, kept in RAM and
persisted in a store."""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from embodied_rag.config import Config
from embodied_rag.errors import UserError
from embodied_rag.memory.backend import is_connection_error, location_of, open_store, redact, store_errors
from embodied_rag.memory.floors import FloorIndex
from embodied_rag.memory.forest import SemanticForest
from embodied_rag.memory.free_space import FreeSpace
from embodied_rag.memory.graph import TopologicalGraph
from embodied_rag.memory.keyframe import Keyframe
from embodied_rag.memory.leaves import LeafIndex
from embodied_rag.memory.lexical import LexicalIndex
from embodied_rag.memory.objects import ObjectInstance, ObjectMap, Observation
from embodied_rag.memory.place_index import PlaceIndex
from embodied_rag.memory.pose import Pose, transform_pose

log = logging.getLogger(__name__)
SERVER_GONE = "the database server cannot be reached"
#: Keyframes read per query when a memory is opened.
LOAD_BATCH = 20000


def _is_disk_full(exc: BaseException) -> bool:
    return (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "disk is full" in str(exc).lower()


def _reason(exc: BaseException) -> str:
    if _is_disk_full(exc):
        return "the disk is full"
    if is_connection_error(exc):
        return SERVER_GONE
    first = " ".join(str(exc).split()).rstrip(".")
    return f"{type(exc).__name__}: {first}"


class Memory:
    """Open a memory (a directory, or a ``postgresql://`` URL) for writing or reading (any number, with
    :meth:`refresh`). A directory has one writer at a time; a PostgreSQL memory any number, each catching up with
    the others' commits inside its own write transaction (see :mod:`embodied_rag.memory.postgres_store`)."""

    def __init__(self, directory: str | Path, config: Config, writable: bool = True):
        self.config = config
        self.location = location_of(directory)
        # Where the memory lives, as messages name it (a URL without its password); a Path for a directory.
        self.dir = self.location if isinstance(self.location, Path) else redact(self.location)
        self.writable = writable
        self.store = open_store(self.location, writable=writable)
        self.shared = bool(getattr(self.store, "shared", False))
        self.session_robots: dict[int, str] = {}
        self._seen_rev = 0  # the commit number of a shared store this copy has caught up to
        self._free_base: dict[tuple[int, int, int], np.ndarray] = {}
        self.keyframes: dict[int, Keyframe] = {}
        self.leaves = LeafIndex()
        self.lexical = LexicalIndex()
        self.graph = TopologicalGraph(config.graph.proximity_radius_m, config.graph.max_travel_edge_m,
                                      config.objects.floor_gap_m)
        self.forest = SemanticForest(config.forest, self.leaves)
        self.objects = ObjectMap(config.objects)
        self.floors = FloorIndex(config.objects.floor_gap_m)
        self.free_space = FreeSpace()
        self.places = PlaceIndex(config.places)
        self._new_place_features = 0
        self._base_to_camera = transform_pose(config.ingest.body_to_camera).inverse()
        self.session: int | None = None
        self._previous: int | None = None
        self._version: tuple[int, int] = (0, 0)
        self._update_seq = 0  # the last keyframe rewrite (caption later) this copy has loaded
        self._broken = ""
        self._index_dim = 0  # the size of the server's keyframe search index (0: none, as last looked at)
        self._index_checked = -math.inf  # when (time.monotonic) that was looked at
        self._load()

    # -- loading --------------------------------------------------------------------------------------------
    def _load(self) -> None:
        with self.store.snapshot() if self.shared else contextlib.nullcontext():
            self._load_all()
        if self.writable and self.forest.check():
            # A forest written by an older or interrupted process that does not match the keyframes: rebuild it.
            log.warning("forest of %s is inconsistent (%s); rebuilding it", self.dir, self.forest.check()[0])
            with self._write():
                self.forest.rebuild()
                self.store.save_forest(*self.forest.flush(), replace_all=True)
        self._version = self.store.data_version()

    def _load_all(self) -> None:
        if self.shared:
            self._seen_rev = self.store.commits()
        self._load_sessions()
        self._update_seq = self.store.last_keyframe_update()  # read first: a rewrite after it is loaded again
        # In batches, so that the raw rows are not all held beside the keyframes made from them (the peak, reached
        # later by the copy in RAM itself, is the same either way: 14.5 GB at a million keyframes).
        last = 0
        while batch := self.store.load_keyframes(after_id=last, limit=LOAD_BATCH):
            self._add_loaded(batch)
            last = batch[-1].id
        for a, b, kind, length in self.store.load_edges():
            self.graph.add_edge(a, b, kind, length)
        rows, parents = self.store.load_forest()
        self.forest.load(rows, parents)
        self.objects.load(self.store.load_objects())
        self.free_space.load(self.store.load_free_space())
        self._free_base = {k: t.copy() for k, t in self.free_space.tiles.items()} if self.shared else {}

    def _load_sessions(self) -> None:
        self.session_robots = {int(s["id"]): s.get("robot", "") for s in self.store.sessions()}

    def robot_of(self, kf_id: int) -> str:
        """The robot whose session recorded a keyframe ('' when its session named none)."""
        kf = self.keyframes.get(kf_id)
        if kf is None:
            return ""
        if kf.session not in self.session_robots:
            self._load_sessions()
        return self.session_robots.get(kf.session, "")

    def robots(self) -> list[str]:
        return sorted(set(self.session_robots.values()))

    def nearest_keyframes(self, q: np.ndarray, k: int, robot: str | None = None) -> list[tuple[int, float]] | None:
        """The ``k`` keyframes (of one robot's sessions) most similar to the text embedding ``q``, best first, ranked by
        the database server through its search index (``embodied-rag db index``): for a PostgreSQL memory of at
        least ``retrieval.server_search_min_keyframes`` keyframes, where one matrix product over the copy in RAM
        costs more than the server's index walk. None where that does not apply, or when the server fails (said
        in the log): the caller then ranks the copy in RAM. Keyframes this copy has not loaded yet are left out."""
        if (not self.shared or self.store.conn is None
                or len(self.leaves) < self.config.retrieval.server_search_min_keyframes):
            return None
        try:
            # An index once there stays; its absence is looked at again after a minute (it may be built meanwhile).
            if not self._index_dim and time.monotonic() - self._index_checked > 60.0:
                self._index_checked = time.monotonic()
                self._index_dim = self.store.search_index_dim() or 0
            if self._index_dim != q.size:
                return None
            found = self.store.nearest_keyframes(q, k, robots=None if robot is None else [robot])
        except store_errors() as exc:
            log.warning("the server-side search of %s failed (%s); ranking the keyframes in RAM", self.dir,
                        _reason(exc))
            return None
        return [(i, s) for i, s in found if i in self.leaves]

    # -- several writers (a shared store) ---------------------------------------------------------------------
    @contextlib.contextmanager
    def _write(self):
        """A write transaction; on a shared store it first takes in what other writers committed."""
        with self.store.transaction():
            if self.shared:
                self._catch_up()
            yield
            if self.shared:
                self._seen_rev = self.store._rev
        if self.shared:
            self._version = (max(self.keyframes, default=0), self._seen_rev)

    def _catch_up(self) -> bool:
        """Apply what was committed after the commit this copy last saw (inside a transaction or snapshot)."""
        ch = self.store.changes(max(self.keyframes, default=0), self._seen_rev, self._update_seq,
                                known=set(self.keyframes))
        self._seen_rev = ch.rev
        self._update_seq = ch.update_seq
        if not ch:
            return False
        if any(kf.session not in self.session_robots for kf in ch.keyframes):
            self._load_sessions()
        self._apply_recaptioned(ch.recaptioned)
        self._add_loaded(ch.keyframes)
        for a, b, kind, length in ch.edges:
            self.graph.add_edge(a, b, kind, length)
        self.forest.apply(ch.forest_rows, ch.forest_removed, ch.leaf_parents)
        self.objects.apply(ch.objects, ch.objects_removed)
        self._merge_tiles(ch.tiles)
        return True

    def _merge_tiles(self, rows: list[tuple[int, int, int, bytes]]) -> None:
        """Free-space tiles other writers committed: their counts plus what this copy added and has not saved."""
        from embodied_rag.memory.free_space import TILE
        dirty = self.free_space._dirty
        for fk, tx, ty, blob in rows:
            key = (fk, tx, ty)
            stored = np.frombuffer(blob, dtype="<u2").reshape(2, TILE, TILE).astype(np.int64)
            mine = self.free_space.tiles.get(key)
            if key in dirty and mine is not None:
                base = self._free_base.get(key)
                delta = mine.astype(np.int64) - (base.astype(np.int64) if base is not None else 0)
                stored = stored + delta
            tile = np.clip(stored, 0, np.iinfo(np.uint16).max).astype(np.uint16)
            self.free_space.tiles[key] = tile
            self._free_base[key] = tile.copy()

    def _add_loaded(self, kfs: list[Keyframe]) -> None:
        for kf in kfs:
            self.keyframes[kf.id] = kf
            self.lexical.add(kf.id, kf.text())
            self.graph.add_node(kf.id, kf.pose.position)
            self.floors.add(kf.pose.position[2])
        embedded = [kf for kf in kfs if kf.text_embedding is not None]
        if len({kf.text_embedding.size for kf in embedded}) == 1:  # one matrix for the lot, not a row at a time
            self.leaves.extend(np.array([kf.id for kf in embedded], dtype=np.int64),
                               np.array([kf.pose.position for kf in embedded], dtype=np.float64),
                               np.stack([kf.text_embedding.ravel() for kf in embedded]))
        else:
            for kf in embedded:  # sizes that differ: add() names the one that does not fit
                self.leaves.add(kf.id, kf.pose.position, kf.text_embedding)
        _release_text_embeddings(embedded)

    def refresh(self) -> bool:
        """Pick up keyframes (new, or captioned later) and forest changes committed by a writer in another process;
        True if any. A PostgreSQL memory whose server went away is reconnected to here (a UserError while it is
        still away)."""
        if self.shared:
            try:
                if self.store.conn is None:  # an earlier reconnection failed: try again
                    self.store.reconnect()
                return self._refresh_shared()
            except store_errors() as exc:
                if not is_connection_error(exc):
                    raise
                log.warning("lost the connection to %s (%s); reconnecting", self.dir, _reason(exc))
                self.store.reconnect()
                return self._refresh_shared()
        version = self.store.data_version()
        if version == self._version:
            return False
        self._version = version
        last = max(self.keyframes, default=0)
        # One read transaction: keyframes, edges and forest from the same snapshot of the writer's commits.
        with self.store.snapshot():
            new = self.store.load_keyframes(after_id=last)
            edges = self.store.load_edges(after_id=last)
            rows, parents = self.store.load_forest()
            objects = self.store.load_objects()
            free = self.store.load_free_space()
            self._update_seq, rewritten = self.store.keyframe_updates(self._update_seq)
            recaptioned = self.store.load_keyframes(ids=[k for k in rewritten if k in self.keyframes])
        if any(kf.session not in self.session_robots for kf in new):
            self._load_sessions()
        self._apply_recaptioned(recaptioned)
        self.objects.load(objects)
        self.free_space.load(free)
        self._add_loaded(new)
        for a, b, kind, length in edges:
            self.graph.add_edge(a, b, kind, length)
        self.forest.load(rows, parents)
        return True

    def _refresh_shared(self) -> bool:
        version = self.store.data_version()
        if version == self._version:
            return False
        with self.store.snapshot():
            changed = self._catch_up()
        self._version = (max(self.keyframes, default=0), self._seen_rev)
        return changed

    def _apply_recaptioned(self, recaptioned: list[Keyframe]) -> None:
        for kf in recaptioned:  # captioned later by the writer: new text and embeddings (the forest rows follow)
            self.keyframes[kf.id] = kf
            self.lexical.add(kf.id, kf.text())
            if kf.text_embedding is not None:
                if kf.id in self.leaves:
                    self.leaves.update(kf.id, kf.text_embedding)
                else:
                    self.leaves.add(kf.id, kf.pose.position, kf.text_embedding)
        _release_text_embeddings(recaptioned)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- models ---------------------------------------------------------------------------------------------
    def bind_text_embedder(self, name: str, dim: int) -> None:
        """Record (or check) which text embedder this memory's vectors come from: spaces must not be mixed."""
        stored = self.store.get_meta("text_embedder")
        if stored is None:
            if self.writable:
                self.store.set_meta("text_embedder", name)
                self.store.set_meta("text_dim", str(dim))
            return
        if stored != name:
            raise UserError(
                f"{self.dir} was built with text embedder '{stored}', not '{name}'; "
                "set models.text_embedder to match or build a new memory.")

    # -- writing --------------------------------------------------------------------------------------------
    def begin_session(self, source: str, recording: dict[str, Any] | None = None, robot: str = "") -> int:
        """Start a new session of ``robot``; ``recording`` is a fingerprint of the recording it is built from (for
        resume)."""
        if not self.writable:
            raise UserError(f"{self.dir} is open read-only.")
        info: dict[str, Any] = {"frame_id": self.config.frame_id}
        if recording is not None:
            info["recording"] = recording
        self.session = self.store.new_session(source, info, robot=robot)
        self.session_robots[self.session] = robot
        self._previous = None
        return self.session

    def resume_session(self, source: str, recording: dict[str, Any]) -> int | None:
        """Continue the session already built from this recording, if there is one: returns the stamp of its last
        committed keyframe (the frames up to it are in memory), or None when it has none."""
        if not self.writable:
            raise UserError(f"{self.dir} is open read-only.")
        session = self.store.session_of(source, recording)
        if session is None:
            return None
        self.session = session
        self._previous, last_stamp = self.store.session_end(session)
        return last_stamp

    def rejoin_session(self, session: int) -> int | None:
        """Go on with an existing session (a writer that reopened the memory after its database server came
        back); returns the stamp of the session's last committed keyframe, None when it has none."""
        if not self.writable:
            raise UserError(f"{self.dir} is open read-only.")
        self.session = int(session)
        self._previous, last_stamp = self.store.session_end(self.session)
        return last_stamp

    @property
    def server_lost(self) -> bool:
        """A write failed because the database server went away: reopen the memory once it is back."""
        return self.shared and self._broken == SERVER_GONE

    def next_id(self) -> int:
        return max(self.keyframes, default=0) + 1

    def add(self, kf: Keyframe, image: np.ndarray | None = None,
            observations: list[Observation] | None = None) -> Keyframe:
        """Commit one keyframe (image file, row, edges, forest update, the objects it saw) in one transaction."""
        if self.session is None:
            raise RuntimeError("begin_session() first")
        if kf.text_embedding is None:
            raise ValueError("keyframe needs a text embedding")
        if self._broken:
            raise UserError(f"{self.dir} could not be written earlier ({self._broken}); reopen the memory.")
        kf.session = self.session
        feats = None
        if image is not None and self.config.store.save_images and self.config.places.enabled:
            feats = self.places.extractor.extract(image)
        try:
            with self._write():
                if self.shared:  # caught up with the other writers under their common lock: the next free id
                    kf.id = self.next_id()
                if image is not None and self.config.store.save_images:
                    kf.image = self.store.write_image(kf.id, image, self.config.store.image_max_side,
                                                      self.config.store.jpeg_quality)
                self.leaves.add(kf.id, kf.pose.position, kf.text_embedding)
                edges = self.graph.insert(kf.id, kf.pose.position, self._previous)
                self.forest.insert(kf.id)
                if observations:
                    self.objects.observe(kf.id, kf.stamp_ns, kf.pose.position[2], observations)
                self.store.insert_keyframe(kf)
                self.store.insert_edges(edges)
                self.store.save_forest(*self.forest.flush())
                self.store.save_objects(*self.objects.flush())
                if feats is not None:
                    self.places.on_add(self.store, kf.id, feats)
        except (OSError, *store_errors()) as exc:
            # The transaction rolled back, so the store holds every earlier keyframe and nothing of this one;
            # the copy in RAM may not match it any more, so refuse further writes until reopened.
            reason = _reason(exc)
            self._broken = reason
            before = "every keyframe committed before it is safe" if self.shared else \
                f"the {kf.id - 1} keyframes before it are safe"
            raise UserError(f"Cannot write keyframe {kf.id} to {self.dir}: {reason}; {before}.") from None
        _release_text_embeddings([kf])
        self.keyframes[kf.id] = kf
        self.lexical.add(kf.id, kf.text())
        self.floors.add(kf.pose.position[2])
        self._previous = kf.id
        if feats is not None and self.places.vocabulary is None:
            self._new_place_features += 1
            if self._new_place_features >= self.config.places.train_after:
                self._new_place_features = 0
                self.places.maybe_train(self)
        return kf

    def update_text(self, kf_id: int, caption: str, name: str, objects: list[str], text_embedding: np.ndarray,
                    image_embedding: np.ndarray | None = None,
                    observations: list[Observation] | None = None) -> Keyframe:
        """Commit a caption that came later (``embodied-rag caption``) in one transaction: the keyframe's text and
        embeddings, its leaf and its areas' statistics (marked for new summaries), the objects it saw; once it has
        text, its earlier failed attempts are forgotten."""
        if self._broken:
            raise UserError(f"{self.dir} could not be written earlier ({self._broken}); reopen the memory.")
        old = self.keyframes[kf_id]
        kf = Keyframe(id=old.id, session=old.session, stamp_ns=old.stamp_ns, pose=old.pose, caption=caption,
                      name=name, objects=list(objects), image=old.image, source=old.source,
                      text_embedding=text_embedding,
                      image_embedding=image_embedding if image_embedding is not None else old.image_embedding,
                      view_distance=old.view_distance)
        try:
            if kf_id in self.leaves:
                self.forest.update_leaf(kf_id, self.leaves.update(kf_id, text_embedding))
            else:  # a keyframe stored without a text embedding: it joins the forest now
                self.leaves.add(kf_id, kf.pose.position, text_embedding)
                self.forest.insert(kf_id)
            if observations:
                self.objects.observe(kf.id, kf.stamp_ns, kf.pose.position[2], observations)
            with self._write():
                self.store.update_keyframe_text(kf)
                if kf.text():
                    self.store.clear_caption_failures(kf_id)
                self.store.save_forest(*self.forest.flush())
                self.store.save_objects(*self.objects.flush())
        except (OSError, *store_errors()) as exc:
            reason = _reason(exc)
            self._broken = reason
            raise UserError(f"Cannot write the caption of keyframe {kf_id} to {self.dir}: {reason}.") from None
        _release_text_embeddings([kf])
        self.keyframes[kf_id] = kf
        self.lexical.add(kf_id, kf.text())
        return kf

    def record_caption_failure(self, kf_id: int, error: str) -> int:
        """Remember that captioning a keyframe failed (it stays in the backlog); returns its failed attempts."""
        with self._write():
            return self.store.record_caption_failure(kf_id, error)

    def place_index(self, progress: bool = False) -> PlaceIndex:
        """The place index, brought up to date with every keyframe that has an image (query by image).

        A memory opened read-only persists what had to be computed (an old memory's first image query) when no
        other process is writing it, and otherwise keeps it in RAM for this process.
        """
        if self.writable:
            self.places.sync(self, self.store, progress)
            return self.places
        self.places.load(self.store)
        if self.places.needs_work(self):
            self._sync_with_writer(progress)
        else:
            self.places.sync(self, None, progress)
        return self.places

    def _sync_with_writer(self, progress: bool) -> None:
        try:
            writer = open_store(self.location, writable=True, create=False)
        except (UserError, OSError) as exc:
            log.info("place index of %s kept in RAM only: %s", self.dir, exc)
            self.places.sync(self, None, progress)
            return
        try:
            self.places.sync(self, writer, progress)
        finally:
            writer.close()

    def views_of(self, inst: ObjectInstance) -> list[int]:
        """The keyframes of this memory that saw an object instance, the one that saw it from closest first."""
        seen = [k for k in inst.keyframes if k in self.keyframes]
        return sorted(seen, key=lambda k: math.dist(self.keyframes[k].xy, inst.position[:2]))

    def base_pose(self, camera: Pose) -> Pose:
        """Where the robot base was when its camera had pose ``camera`` (``ingest.body_to_camera``)."""
        return camera.compose(self._base_to_camera)

    def save_free_space(self) -> None:
        """Persist the free-space tiles changed since the last call (derived data: written per batch, not per
        keyframe, so a crash loses at most the last batch's free-space counts)."""
        if not self.free_space._dirty:
            return
        with self._write():
            tiles = self.free_space.flush()
            self.store.save_free_space(tiles)
        if self.shared:
            for fk, tx, ty, _ in tiles:
                self._free_base[(fk, tx, ty)] = self.free_space.tiles[(fk, tx, ty)].copy()

    def rebuild_forest(self) -> None:
        with self._write():
            self.forest.rebuild()
            self.store.save_forest(*self.forest.flush(), replace_all=True)
        self.store.set_meta("forest_balanced_at", str(len(self.leaves)))

    def rebalance_forest(self, min_growth: float = 0.0) -> int | None:
        """Re-cluster the forest as a rebuild would, keeping (and not rewriting) the areas whose members did not
        change, once the memory has grown by ``min_growth`` (a fraction) since the last rebalance or rebuild: the
        cost is a rebuild's, so growth-triggered calls keep it constant per keyframe. Returns the number of areas
        written, or None when it was not due."""
        last = int(self.store.get_meta("forest_balanced_at", "0") or 0)
        if last and len(self.leaves) < (1.0 + min_growth) * last:
            return None
        with self._write():
            changed = self.forest.rebalance()
            self.store.save_forest(*self.forest.flush())
            self.store.set_meta("forest_balanced_at", str(len(self.leaves)))
        return changed

    def save_forest(self) -> None:
        """Persist forest changes made outside :meth:`add` (summaries)."""
        with self._write():
            self.store.save_forest(*self.forest.flush())


def _release_text_embeddings(kfs: list[Keyframe]) -> None:
    """Once in the leaf matrix (unit rows, ``Memory.leaves.embedding(id)``) and the store, a keyframe's text
    embedding is not kept a second time in RAM: 1.6 KB a keyframe of a large reader (384 dimensions)."""
    for kf in kfs:
        kf.text_embedding = None
