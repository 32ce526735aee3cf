"""The Python API, and the one place that wires configuration, store, models and retriever together (the CLI, the
ROS nodes, ``demo`` and ``bench`` all go through it).

    from embodied_rag import open_memory, build_memory

    build_memory("../shared/datasets/coex_lobby", "memories/coex")
    with open_memory("memories/coex") as memory:
        answer = memory.ask("where can I get a drink?")
        print(answer.answer, answer.goal, answer.to_json())
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embodied_rag.config import Config, load_config
from embodied_rag.errors import UserError
from embodied_rag.memory.backend import location_of, redact
from embodied_rag.memory.memory import Memory
from embodied_rag.retrieval.answer import Answer

log = logging.getLogger(__name__)

ConfigLike = Config | str | Path | None
NO_CAPTIONER = ("No captioner is configured: set models.captioner.name to openai, transformers or clip_tagger (with "
                "its model settings) in the --config file to caption the backlog.")


def as_config(config: ConfigLike) -> Config:
    """A Config as given, or loaded from a YAML file, or the defaults."""
    if isinstance(config, Config):
        return config
    return load_config(str(config) if config is not None else None)


@dataclass
class Models:
    """The models one process uses, created once from the configuration (an unavailable model fails here with one
    sentence naming the setting)."""

    text: Any
    image: Any = None
    captioner: Any = None
    llm: Any = None

    @classmethod
    def for_queries(cls, config: Config, text: Any = None, need_llm: bool = True) -> Models:
        """Text embedder, image embedder (its text tower scores keyframe images) and LLM: what answering needs."""
        from embodied_rag.models import registry

        return cls(text=text or registry.create_text_embedder(config.models.text_embedder),
                   image=registry.create_image_embedder(config.models.image_embedder),
                   llm=registry.create_llm(config.models.llm) if need_llm else None)

    @classmethod
    def for_ingest(cls, config: Config, text: Any = None, need_llm: bool | None = None) -> Models:
        """Text and image embedders, captioner, and the LLM when summaries are written by one."""
        from embodied_rag.models import registry

        image = registry.create_image_embedder(config.models.image_embedder)
        want_llm = config.forest.summarizer == "llm" if need_llm is None else need_llm
        return cls(text=text or registry.create_text_embedder(config.models.text_embedder), image=image,
                   captioner=registry.create_captioner(config.models.captioner, image),
                   llm=registry.create_llm(config.models.llm) if want_llm else None)

    def summarizer(self):
        """Area summaries: by the LLM when one is loaded, else extractive."""
        from embodied_rag.memory.summaries import ExtractiveSummarizer

        if self.llm is None:
            return ExtractiveSummarizer()
        from embodied_rag.memory.llm_summaries import LLMSummarizer

        return LLMSummarizer(self.llm)


def read_query_image(image: Any):
    """A query photo (path, encoded bytes or array) as RGB uint8; a UserError (one sentence) when it cannot be
    used. Cheap: the CLI checks the photo with it before any model loads."""
    from embodied_rag.io.images import BadImage, query_image

    try:
        return query_image(image)
    except BadImage as exc:
        raise UserError(f"The query image cannot be used: {exc}.") from None


class OpenMemory:
    """A memory opened for questions: ``ask`` answers like ``embodied-rag query`` and the ROS service do."""

    def __init__(self, path: str | Path, config: ConfigLike = None, models: Models | None = None):
        from embodied_rag.retrieval.retriever import Retriever

        self.config = as_config(config)
        self.memory = Memory(path, self.config, writable=False)
        try:
            self.models = models or Models.for_queries(self.config)
            self.memory.bind_text_embedder(self.models.text.name, self.models.text.dim)
        except BaseException:
            self.memory.close()
            raise
        self.retriever = Retriever(self.memory, self.models.text, self.models.llm, image_embedder=self.models.image)
        self._places = None
        self._places_size = 0

    def ask(self, text: str, kind: str = "auto", mode: str | None = None,
            robot_position: Iterable[float] | None = None, image: Any = None, robot: str | None = None) -> Answer:
        """Answer one question. ``robot_position`` (x, y[, z] in the memory frame) is used for "nearest". In a
        fleet's memory, ``robot`` keeps to what that robot recorded (default: every robot's keyframes).

        With ``image`` (a file path, encoded JPEG/PNG bytes, or an RGB uint8 array) the question is "where was this
        photo taken?": the answer names the recognised place, its goal pose and a ``confidence``; ``text`` may be
        empty (it is kept as the question, e.g. "take me where this photo was taken")."""
        if image is not None:
            return self.ask_image(image, text)
        robot_position_ = tuple(float(v) for v in robot_position) if robot_position is not None else None
        return self.retriever.ask(text, kind=kind, mode=mode, robot_position=robot_position_, robot=robot)

    def ask_image(self, image: Any, text: str = "", progress: bool = True) -> Answer:
        """Where was this photo taken? (see :meth:`ask`)."""
        from embodied_rag.retrieval.place_recognition import place_answer
        from embodied_rag.retrieval.query import clean_query

        t0 = time.perf_counter()
        if text and text.strip():
            clean_query(text, self.config.retrieval.max_query_chars)
        rgb = read_query_image(image)
        recognizer = self._recognizer(progress)
        match = recognizer.recognise(rgb)
        answer = place_answer(self.memory, match, self.retriever._kinds.where)
        answer.latency_ms = (time.perf_counter() - t0) * 1000.0
        return answer

    def _recognizer(self, progress: bool):
        """The place recognizer, its index brought up to date (built on the first image query of an old memory)."""
        from embodied_rag.retrieval.place_recognition import ImageEmbeddingShortlist, PlaceRecognizer

        index = self.memory.place_index(progress=progress)
        if self._places is None or self._places_size != len(self.memory.keyframes):
            extra = []
            if self.config.models.image_embedder.name != "none" and any(
                    kf.image_embedding is not None for kf in self.memory.keyframes.values()):
                if self.models.image is None:
                    from embodied_rag.models import registry

                    self.models.image = registry.create_image_embedder(self.config.models.image_embedder)
                extra.append(ImageEmbeddingShortlist(self.memory, self.models.image))
            self._places = PlaceRecognizer(self.memory, index, extra)
            self._places_size = len(self.memory.keyframes)
        return self._places

    def refresh(self) -> bool:
        """Pick up keyframes another process committed since; True when there were any."""
        if not self.memory.refresh():
            return False
        self.retriever.memory_changed()
        return True

    def inspect(self) -> dict[str, Any]:
        """What the memory holds (what ``embodied-rag inspect --json`` prints)."""
        return inspect_memory(self.memory)

    def close(self) -> None:
        self.memory.close()

    def __enter__(self) -> OpenMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_memory(path: str | Path, config: ConfigLike = None, models: Models | None = None) -> OpenMemory:
    """Open a memory (a directory or a ``postgresql://`` URL) read-only for questions; use it as a context
    manager."""
    return OpenMemory(path, config, models)


def _progress(iterable, total: int | None, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="frame", disable=None if enabled else True, file=sys.stderr,
                dynamic_ncols=True)


def open_recording(path: Path, config: Config, skips):
    """A TUM-style folder or a rosbag2 (folder, .mcap or .db3)."""
    from embodied_rag.io.tum import TumFolder, is_tum_folder

    if not path.exists():
        raise UserError(f"{path} does not exist.")
    if is_tum_folder(path):
        return TumFolder(path, skips)
    from embodied_rag.io.rosbag import RosbagRecording

    return RosbagRecording(path, config.ingest, skips)


def build_memory(input_path: str | Path, out: str | Path, config: ConfigLike = None, rebuild_forest: bool = False,
                 models: Models | None = None, progress: bool = True, robot: str = "") -> dict[str, Any]:
    """Build or extend a memory (a directory or a ``postgresql://`` URL) from a recording, as ``robot``'s session;
    returns a report (what ``build --json`` prints). Several robots may build into one PostgreSQL memory at once.

    Building the same recording again resumes it: frames an earlier run committed (say, before it was killed) are
    skipped, and the memory ends as an uninterrupted build would. Another recording is appended as a new session.
    """
    from embodied_rag.io.frame import SkipLog

    config = as_config(config)
    input_path, out = Path(input_path), location_of(out)
    skips = SkipLog()
    recording = open_recording(input_path, config, skips)
    t0 = time.perf_counter()
    models = models or Models.for_ingest(config)
    model_load_s = time.perf_counter() - t0
    source = input_path.resolve().name
    fingerprint: dict[str, Any] = {"frames": len(recording)}
    if robot:
        fingerprint["robot"] = robot  # another robot's build of the same recording is its own session
    with Memory(out, config) as memory:
        before = len(memory.keyframes)
        resumed_after = memory.resume_session(source, fingerprint)
        resumed = memory.session is not None
        if not resumed:
            memory.begin_session(source, fingerprint, robot=robot)
        stats = ingest_frames(memory, _progress(recording, len(recording), "ingest", progress), models, skips,
                              replay_until_ns=resumed_after)
        if rebuild_forest:
            memory.rebuild_forest()
        else:
            memory.rebalance_forest(config.forest.rebalance_growth)  # the shape a rebuild would give, amortised
        if memory.config.places.enabled and any(kf.image for kf in memory.keyframes.values()):
            t1 = time.perf_counter()
            memory.place_index(progress=progress)  # trains or retrains the vocabulary, indexes what is missing
            stats.seconds["place_index"] += time.perf_counter() - t1
        t1 = time.perf_counter()
        n_summaries = write_summaries(memory, models)
        summary_s = time.perf_counter() - t1
        info = inspect_memory(memory)
    s = stats
    return {
        "memory": redact(out), "robot": robot, "frames": s.frames, "new_keyframes": s.keyframes,
        "keyframes_before": before,
        "resumed": resumed, "already_in_memory": s.already_in_memory,
        "keyframes": info["keyframes"], "sessions": len(info["sessions"]),
        "objects": info["objects"]["confirmed"], "floors": info["floors"],
        "dropped_by_policy": s.dropped_by_policy, "skipped": {k.split(":", 1)[1]: v for k, v in skips.counts.items()
                                                              if k.startswith("skipped:")},
        "keyframe_reasons": dict(s.reasons), "forest_levels": info["forest"]["levels"],
        "forest_nodes": info["forest"]["nodes"], "summaries_written": n_summaries,
        "language_search": info["language_search"],
        "seconds": {"model_load": round(model_load_s, 2), **{k: round(v, 2) for k, v in s.seconds.items()},
                    "summaries": round(summary_s, 2)},
    }


def ingest_frames(memory: Memory, frames: Iterable[Any], models: Models, skips: Any = None,
                  replay_until_ns: int | None = None) -> Any:
    """Offer frames to the memory's open session through the keyframe policy, captioner and embedders (the
    ingest of ``build``, the simulated benchmarks and, frame by frame, the memory node); returns the IngestStats.
    Frames up to ``replay_until_ns`` are already in memory: they only replay the keyframe policy."""
    from embodied_rag.memory.ingest import Ingestor

    captioner = models.captioner
    if captioner is not None:
        from embodied_rag.models.captioners import CachedCaptioner

        captioner = CachedCaptioner(captioner, memory.store.cached_caption, memory.store.cache_caption)
    ingest = Ingestor(memory, models.text, models.image, captioner, skips)
    ingest.replay_until_ns = replay_until_ns
    for frame in frames:
        ingest.offer(frame)
    ingest.finish()
    return ingest.stats


def caption_backlog(memory_dir: str | Path, config: ConfigLike = None, models: Models | None = None,
                    limit: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Caption and embed the keyframes a memory holds without captions or embeddings (``embodied-rag caption``):
    with the configured captioner, text embedder and image embedder; returns a report (what ``caption --json``
    prints). Resumable: each keyframe is committed once captioned, and failures stay in the backlog for a later
    run. ``limit`` caps how many keyframes this run works on."""
    from embodied_rag.memory.store import DB_NAME

    config = as_config(config)
    memory_dir = location_of(memory_dir)
    if isinstance(memory_dir, Path) and not (memory_dir / DB_NAME).is_file():
        raise UserError(f"{memory_dir} is not a memory directory (no {DB_NAME}); build one first with "
                        "embodied-rag build.")
    if models is None and config.models.captioner.name in ("", "none"):
        raise UserError(NO_CAPTIONER)
    with Memory(memory_dir, config) as memory:
        t0 = time.perf_counter()
        models = models or Models.for_ingest(config)
        model_load_s = time.perf_counter() - t0
        if models.captioner is None:
            raise UserError(NO_CAPTIONER)
        report = work_backlog(memory, models, limit=limit, progress=progress)
    report["seconds"] = {"model_load": round(model_load_s, 2), **report["seconds"]}
    return report


def work_backlog(memory: Memory, models: Models, limit: int | None = None, progress: bool = False
                 ) -> dict[str, Any]:
    """Caption later, on an open writable memory (``caption_backlog``, and the memory node's periodic retry): caption
    and embed the backlog, then bring up to date what depends on captions as ``build`` does (the forest, re-clustered
    once enough of it changed, and the summaries of the areas whose keyframes changed)."""
    from embodied_rag.memory.backlog import backlog_ids, caption_keyframes
    from embodied_rag.memory.coverage import language_coverage
    from embodied_rag.models.captioners import CachedCaptioner

    memory.bind_text_embedder(models.text.name, models.text.dim)
    todo = backlog_ids(memory, models.image)
    work = todo if limit is None else todo[:max(0, limit)]
    captioner = CachedCaptioner(models.captioner, memory.store.cached_caption, memory.store.cache_caption)
    with _progress(None, len(work), "caption", progress) as bar:
        stats = caption_keyframes(memory, work, models.text, captioner, models.image,
                                  batch_size=memory.config.ingest.embed_batch_size, on_done=bar.update)
    t0 = time.perf_counter()
    # Captions move leaves in meaning: re-cluster like build does once enough of the memory changed.
    rebalanced = bool(stats.captioned) and \
        stats.captioned >= memory.config.forest.rebalance_growth * len(memory.leaves)
    if rebalanced:
        memory.rebalance_forest()
    n_summaries = write_summaries(memory, models)
    summary_s = time.perf_counter() - t0
    remaining = backlog_ids(memory, models.image)
    failures = memory.store.caption_failures()
    return {
        "memory": str(memory.dir), "captioner": models.captioner.name, "backlog": len(todo), "attempted": len(work),
        "captioned": stats.captioned, "embedded": stats.embedded, "failed": stats.failed, "remain": len(remaining),
        # The keyframes still waiting whose caption failed: how often, and the last reason.
        "failures": [{"keyframe": k, "attempts": failures[k][0], "error": failures[k][1]}
                     for k in remaining if k in failures][:20],
        "forest_rebalanced": rebalanced, "summaries_written": n_summaries,
        "language_search": language_coverage(memory.keyframes.values()).to_json(memory.config),
        "seconds": {**{k: round(v, 2) for k, v in stats.seconds.items()}, "forest_and_summaries": round(summary_s, 2)},
    }


def write_summaries(memory: Memory, models: Models) -> int:
    """Name and summarise the areas whose keyframes changed; returns how many were written."""
    from embodied_rag.memory.summaries import PlaceTyper, refresh_summaries

    return refresh_summaries(memory, models.summarizer(), PlaceTyper(models.text),
                             batch_size=memory.config.forest.summary_batch_size)


def inspect_memory(memory: Memory) -> dict[str, Any]:
    """What a memory holds: counts, extent, models, objects, floors, forest shape, sessions and counters."""
    import numpy as np

    from embodied_rag.memory.backlog import needs_caption
    from embodied_rag.memory.coverage import language_coverage

    kfs = list(memory.keyframes.values())
    pos = np.array([kf.pose.position for kf in kfs]) if kfs else np.zeros((0, 3))
    forest = memory.forest
    return {
        "directory": str(memory.dir),
        "keyframes": len(kfs),
        "sessions": memory.store.sessions(),
        "robots": memory.store.robots(),
        "extent": {"min": pos.min(axis=0).round(3).tolist(), "max": pos.max(axis=0).round(3).tolist()} if kfs else None,
        "with_caption": sum(1 for kf in kfs if kf.caption),
        "with_objects": sum(1 for kf in kfs if kf.objects),
        "with_image": sum(1 for kf in kfs if kf.image),
        "with_image_embedding": sum(1 for kf in kfs if kf.image_embedding is not None),
        # Keyframes waiting for ``embodied-rag caption``, and how many of them a captioner has failed on.
        "caption_backlog": {"keyframes": sum(1 for kf in kfs if needs_caption(kf)),
                            "failed_before": len(memory.store.caption_failures())},
        # Which keyframes questions in words can find, and why the others cannot.
        "language_search": language_coverage(kfs).to_json(memory.config),
        "place_index": memory.store.place_index_counts(),
        "models": {"text_embedder": memory.store.get_meta("text_embedder")},
        "objects": {"instances": len(memory.objects), "confirmed": len(memory.objects.confirmed()),
                    "labels": len({o.label for o in memory.objects.confirmed()})},
        "floors": len(memory.floors),
        "counters": memory.store.counters(),
        "forest": {"nodes": len(forest.nodes), "levels": forest.depth,
                   "per_level": {lvl: len(forest.level_nodes(lvl)) for lvl in range(1, forest.depth + 1)},
                   "dirty": sum(1 for n in forest.nodes.values() if n.dirty),
                   "root": (lambda r: {"id": r.id, "name": r.name, "summary": r.summary} if r else None)(forest.root)},
    }
