"""Names and summaries of forest areas: extractive (no model) or written by an LLM, regenerated lazily in batches.

Only dirty nodes are summarised, children before parents, a bounded batch per call: never once per frame.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import Protocol

import numpy as np
import yaml

from embodied_rag.memory.forest import ForestNode
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.sanitize import strip_instructions
from embodied_rag.models.protocols import TextEmbedder

log = logging.getLogger(__name__)


def load_vocabulary(path: str = "") -> dict:
    """The place/object vocabulary: a YAML file, or the one shipped with the package."""
    if path:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f) or {}
    text = resources.files("embodied_rag").joinpath("data/vocabulary.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def first_sentence(text: str, max_chars: int = 220) -> str:
    s = re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0] if text.strip() else ""
    return s if len(s) <= max_chars else s[: max_chars - 1].rsplit(" ", 1)[0] + "…"


def leading_sentences(text: str, max_chars: int = 240) -> str:
    """As many whole leading sentences as fit in ``max_chars`` (at least the first, shortened if need be)."""
    out = ""
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        if out and len(out) + 1 + len(sentence) > max_chars:
            break
        out = f"{out} {sentence}".strip()
    return out if len(out) <= max_chars else first_sentence(out, max_chars)


@dataclass
class AreaFacts:
    """What is known about an area, gathered from its keyframes and child areas."""

    node: ForestNode
    views: int
    central_texts: list[str]  # captions (or child summaries) nearest the area's mean, most central first
    child_names: list[str]
    objects: list[tuple[str, int]]  # recurring objects with counts
    place_type: str | None


class Summarizer(Protocol):
    name: str

    def summarize(self, facts: list[AreaFacts]) -> list[tuple[str, str]]:
        """(name, summary) for each area."""


class PlaceTyper:
    """Guesses the kind of place from the objects seen there, by embedding similarity to the vocabulary."""

    def __init__(self, embedder: TextEmbedder, vocabulary: dict | None = None, min_similarity: float = 0.45):
        self.embedder = embedder
        self.places = (vocabulary or load_vocabulary()).get("places", {})
        self.min_similarity = min_similarity

    @cached_property
    def _prototypes(self) -> np.ndarray:
        texts = [f"a {p} with {', '.join(objs)}" for p, objs in self.places.items()]
        return self.embedder.embed_documents(texts)

    def guess(self, objects: list[str], area_embedding: np.ndarray | None = None) -> str | None:
        """The place type whose prototype is closest to what the area's keyframes say (their mean embedding, which
        includes any scene words in the captions) and the objects seen there."""
        if not self.places or (not objects and area_embedding is None):
            return None
        e = np.zeros(self._prototypes.shape[1], dtype=np.float32)
        if objects:
            e += self.embedder.embed_documents([f"a place with {', '.join(objects)}"])[0]
        if area_embedding is not None and area_embedding.shape == e.shape:
            e += area_embedding.astype(np.float32)
        e /= max(float(np.linalg.norm(e)), 1e-12)
        sims = self._prototypes @ e
        best = int(np.argmax(sims))
        return list(self.places)[best] if sims[best] >= self.min_similarity else None


class ExtractiveSummarizer:
    """No model: the most representative captions and the recurring objects, said plainly."""

    name = "extractive"

    def summarize(self, facts: list[AreaFacts]) -> list[tuple[str, str]]:
        return [extractive_summary(f) for f in facts]


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def extractive_summary(f: AreaFacts) -> tuple[str, str]:
    top = [o for o, _ in f.objects[:4]]
    if f.node.level >= 2 and f.child_names:
        kinds = list(dict.fromkeys(n.split(" (")[0] for n in f.child_names))
        name = ", ".join(kinds[:3]) + (" and more" if len(kinds) > 3 else "")
        parts = [f"{len(f.child_names)} areas seen in {f.views} views: " + "; ".join(f.child_names[:5]) + "."]
        if top:
            parts.append(f"Notable things: {', '.join(top)}.")
        for t in f.central_texts[:1]:
            parts.append(first_sentence(strip_instructions(t)))
        return name[:80], " ".join(parts)
    if f.place_type and top:
        name = f"{f.place_type} ({', '.join(top[:2])})"
    elif top:
        name = "area with " + " and ".join(top[:2])
    elif f.child_names:
        name = f.child_names[0]
    else:
        name = first_sentence(f.central_texts[0], 40) if f.central_texts else f"area {f.node.id}"
    kind = f"Likely {_a(f.place_type)}" if f.place_type else "An area"
    parts = [f"{kind} seen in {f.views} view{'s' if f.views != 1 else ''}"
             + (f", with {', '.join(top)}." if top else ".")]
    for t in f.central_texts[:3]:
        s = first_sentence(strip_instructions(t))
        s = s if s.endswith((".", "!", "?", "…")) else s + "."
        if s and s not in parts and len(parts) < 3:
            parts.append(s)
    return name[:80], " ".join(parts)


def object_frequencies(memory: Memory) -> Counter[str]:
    """In how many keyframes each object label occurs (for telling distinctive objects from ubiquitous ones)."""
    df: Counter[str] = Counter()
    for kf in memory.keyframes.values():
        df.update({o.lower() for o in kf.objects})
    return df


def gather_facts(memory: Memory, node: ForestNode, typer: PlaceTyper | None = None,
                 df: Counter[str] | None = None) -> AreaFacts:
    forest = memory.forest
    leaf_ids = forest.leaf_ids(node)
    objects: Counter[str] = Counter()
    for k in leaf_ids:
        kf = memory.keyframes.get(k)
        if kf is not None:
            objects.update({o.lower() for o in kf.objects})
    if node.level == 1:
        ids = [k for k in node.children if k in memory.keyframes]
        embs = np.array([forest.leaves.embedding(k) for k in ids]) if ids else np.zeros((0, 1))
        texts = [memory.keyframes[k].name or memory.keyframes[k].caption for k in ids]
        child_names = [memory.keyframes[k].name for k in ids if memory.keyframes[k].name]
        if ids:
            order = np.argsort(-(embs @ node.embedding))
            child_names = [memory.keyframes[ids[i]].name for i in order if memory.keyframes[ids[i]].name]
            texts = [memory.keyframes[ids[i]].caption for i in order if memory.keyframes[ids[i]].caption]
    else:
        kids = [forest.nodes[c] for c in node.children]
        kids.sort(key=lambda c: -float(c.embedding @ node.embedding) * c.n)
        texts = [c.summary for c in kids if c.summary]
        child_names = [c.name for c in kids if c.name]
    # Rank objects by how often they occur here and how rare they are elsewhere (tf-idf): "elevator" says more
    # about an area than "floor".
    total = max(len(memory.keyframes), 1)
    df = df if df is not None else object_frequencies(memory)
    weight = {o: c * math.log(1.0 + total / max(df.get(o, 1), 1)) for o, c in objects.items()}
    ranked = sorted(objects, key=lambda o: (-weight[o], o))
    common = [(o, objects[o]) for o in ranked[:8] if objects[o] >= 2 or len(leaf_ids) <= 3]
    place = typer.guess(ranked[:8], node.embedding) if typer and node.level == 1 else None
    return AreaFacts(node, len(leaf_ids), texts, child_names, common, place)


def refresh_summaries(memory: Memory, summarizer: Summarizer, typer: PlaceTyper | None = None,
                      batch_size: int = 16, max_nodes: int | None = None) -> int:
    """Summarise dirty areas, lowest level first, in batches; returns how many were written."""
    done = 0
    forest = memory.forest
    df = object_frequencies(memory)
    for level in range(1, forest.depth + 1):
        dirty = [n for n in forest.level_nodes(level) if n.dirty]
        for i in range(0, len(dirty), batch_size):
            if max_nodes is not None and done >= max_nodes:
                return done
            batch = dirty[i: i + batch_size]
            facts = [gather_facts(memory, n, typer, df) for n in batch]
            results = summarizer.summarize(facts)
            sources = getattr(summarizer, "last_sources", None) or [summarizer.name] * len(batch)
            for node, (name, summary), f, source in zip(batch, results, facts, sources):
                node.name, node.summary, node.dirty = name, summary, False
                node.meta["summarizer"] = source
                node.meta["place_type"] = f.place_type
                node.meta["things"] = [o for o, _ in f.objects[:2]]  # what the area is known for
                forest.mark_changed(node)
            done += len(batch)
            if memory.writable:
                memory.save_forest()
    return done
