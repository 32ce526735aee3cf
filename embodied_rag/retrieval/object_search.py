"""Finding object instances for a question: by label, by what things are for, by colour, floor, distance and time.

An instance scores by the best cosine similarity between the question (whole, and its target words) and texts that
name it: its label, its colour and label, and what such things are for (``data/object_uses.yaml``), so that
"I'm thirsty" finds a vending machine. A label named in the question (as words) adds a bonus; a colour named in
the question adds one to instances of that colour and takes one from instances of another. Then the question's
qualifiers choose among the good matches: a floor filters, "nearest" takes the shortest path along the topological
graph from the robot, "most recently" / "first" the latest or earliest sighting.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources

import numpy as np
import yaml

from embodied_rag.memory.lexical import ES_PLURALS
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.objects import ObjectInstance
from embodied_rag.models.fixed_texts import embedded
from embodied_rag.models.protocols import TextEmbedder
from embodied_rag.retrieval.query import COLOURS, ParsedQuery
from embodied_rag.retrieval.thing_names import object_names

LABEL_BONUS = 0.15
COLOUR_BONUS = 0.1
COLOUR_PENALTY = 0.2
TIE_MARGIN = 0.06  # matches this close to the best are equally good answers; qualifiers choose among them


@functools.cache
def object_uses() -> dict[str, list[str]]:
    text = resources.files("embodied_rag").joinpath("data/object_uses.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    return {str(k).lower(): [str(v) for v in vs] for k, vs in data.items()}


def names_of(label: str) -> list[str]:
    """A label and the other names of the thing it is."""
    return [label, *object_names().get(label.lower(), [])]


def names_label(words: list[str], label: str) -> float:
    """How fully a question (its words) names a thing by its label or another name of it (see :func:`naming`)."""
    return max(naming(words, label_words(n)) for n in names_of(label))


@functools.cache
def place_names() -> dict[str, list[str]]:
    """Kinds of place and their other names (``data/place_names.yaml``)."""
    text = resources.files("embodied_rag").joinpath("data/place_names.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    return {str(k).lower(): [str(v).lower() for v in vs] for k, vs in data.items()}


_SINGULAR = {"shelves": "shelf", "bookshelves": "bookshelf", "knives": "knife", "people": "person", "mice": "mouse",
             "men": "man", "women": "woman", "children": "child", "leaves": "leaf", "halves": "half",
             "feet": "foot", "teeth": "tooth", "geese": "goose", "dice": "die", "tvs": "tv", "pcs": "pc"}


def _stem(word: str) -> str:
    w = word.lower()
    if w in _SINGULAR:
        return _SINGULAR[w]
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(ES_PLURALS):
        return w[:-2]
    if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        return w[:-1]
    return w


def label_words(text: str) -> list[str]:
    return [_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())]


@functools.cache
def _compound_heads() -> frozenset[str]:
    """Words that make a thing's name into another thing's ("office" chair, "coffee" table, "easy" chair): the
    first words of the known multi-word names of things."""
    names = [n for label, alias in object_names().items() for n in (label, *alias)] + list(object_uses())
    return frozenset(label_words(n)[0] for n in names if len(label_words(n)) > 1) - {_stem(c) for c in COLOURS} - {
        "first", "last"}


def naming(words: list[str], label: list[str]) -> float:
    """1 when the question names the label (its words in a row), 0.5 when a word that makes another thing of it
    stands right before them ("easy chair" names a chair only partly), 0 when it does not name it."""
    n = len(label)
    if not n:
        return 0.0
    best = 0.0
    heads = _compound_heads()
    for i in range(len(words) - n + 1):
        if words[i:i + n] == label:
            before = words[i - 1] if i > 0 else ""
            best = max(best, 0.5 if before in heads else 1.0)
    return best


def use_vectors(embedder: TextEmbedder) -> tuple[list[str], np.ndarray]:
    """(thing, embedding of one of its uses) for every use in ``object_uses.yaml`` (~300 texts, embedded once per
    embedder)."""
    pairs = [(label, use) for label, uses in object_uses().items() for use in uses]
    return [label for label, _ in pairs], embedded(embedder, "uses of things", [use for _, use in pairs])


@dataclass
class ObjectMatch:
    instance: ObjectInstance
    score: float
    named: bool  # the question names its label


class ObjectSearch:
    """Scores a memory's confirmed object instances against questions; label texts are embedded once."""

    def __init__(self, memory: Memory, embedder: TextEmbedder):
        self.memory = memory
        self.embedder = embedder
        self._label_vecs: dict[str, np.ndarray] = {}

    def _texts_of(self, label: str, colour: str) -> list[str]:
        texts = names_of(label) + [f"{use} ({label})" for use in object_uses().get(label.lower(), [])]
        if colour:
            texts.append(f"{colour} {label}")
        return texts

    def label_vectors(self, insts: list[ObjectInstance]) -> dict[str, np.ndarray]:
        """Embedding rows of each instance's texts by "colour|label"; texts not seen before are embedded in one
        batch."""
        missing = {f"{i.colour}|{i.label}": (i.label, i.colour) for i in insts}
        missing = {k: v for k, v in missing.items() if k not in self._label_vecs}
        if missing:
            texts = {k: self._texts_of(*v) for k, v in missing.items()}
            flat = [t for ts in texts.values() for t in ts]
            rows = np.asarray(self.embedder.embed_documents(flat), dtype=np.float32)
            start = 0
            for k, ts in texts.items():
                self._label_vecs[k] = rows[start:start + len(ts)]
                start += len(ts)
        return self._label_vecs

    def rank(self, parsed: ParsedQuery, query_vecs: np.ndarray) -> list[ObjectMatch]:
        """Confirmed instances by score (best first). ``query_vecs``: unit rows embedding the question."""
        words = label_words(parsed.text)
        out = []
        named_cache: dict[str, float] = {}
        insts = self.memory.objects.confirmed()
        vectors = self.label_vectors(insts)
        for inst in insts:
            sim = float((vectors[f"{inst.colour}|{inst.label}"] @ query_vecs.T).max())
            if inst.label not in named_cache:
                named_cache[inst.label] = names_label(words, inst.label)
            named = named_cache[inst.label]
            score = sim + LABEL_BONUS * named
            if parsed.colour and inst.colour:
                score += COLOUR_BONUS if inst.colour == parsed.colour else -COLOUR_PENALTY
            out.append(ObjectMatch(inst, score, named > 0))
        out.sort(key=lambda m: (-m.score, -m.instance.n, m.instance.id))
        return out

    def needed(self, query_vecs: np.ndarray, min_similarity: float = 0.5, most: int = 3) -> list[str]:
        """Things whose uses (``object_uses.yaml``) match a question best, for memories that know things only by
        their captions: "I need to throw away a wrapper" -> trash can, trash bin. ``query_vecs``: one embedding of
        the question, or rows embedding it and its parts (the best part counts)."""
        labels, rows = use_vectors(self.embedder)
        sims = (rows @ np.atleast_2d(np.asarray(query_vecs, dtype=np.float32)).T).max(axis=1)
        best: dict[str, float] = {}
        for label, s in zip(labels, sims):
            best[label] = max(best.get(label, -1.0), float(s))
        ranked = sorted((s, label) for label, s in best.items() if s >= min_similarity)[::-1]
        return [label for _, label in ranked[:most]]

    def in_area(self, leaf_ids: set[int]) -> list[ObjectInstance]:
        """Confirmed instances whose nearest sighting is one of an area's keyframes, most seen first."""
        out = []
        for inst in self.memory.objects.confirmed():
            views = self.memory.views_of(inst)
            if views and views[0] in leaf_ids:
                out.append(inst)
        return sorted(out, key=lambda o: (-o.n, o.id))

    def floor_of(self, inst: ObjectInstance) -> int:
        return self.memory.floors.floor_of(inst.level_z)

    def on_floor(self, matches: list[ObjectMatch], floor: int) -> list[ObjectMatch]:
        n = len(self.memory.floors)
        want = n - 1 if floor < 0 else floor
        return [m for m in matches if self.floor_of(m.instance) == want]

    def choose(self, parsed: ParsedQuery, matches: list[ObjectMatch], path_from=None) -> ObjectMatch:
        """The answer among the good matches, by the question's qualifiers. ``path_from``: a function giving
        path distances (m) from the robot to instances, when the robot's position is known."""
        best = matches[0]
        good = [m for m in matches if m.score >= best.score - TIE_MARGIN * (2 if parsed.nearest else 1)]
        if best.named:
            # The question named a label: other kinds of thing do not qualify, however close their score.
            same = {best.instance.label}
            good = [m for m in matches if m.instance.label in same and m.score >= best.score - 2 * TIE_MARGIN]
        if parsed.recency == "last":
            return max(good, key=lambda m: (m.instance.last_ns, m.score))
        if parsed.recency == "first":
            return min(good, key=lambda m: (m.instance.first_ns, -m.score))
        if path_from is not None and len(good) > 1:
            dist = path_from([m.instance for m in good])
            return min(zip(good, dist), key=lambda t: (t[1], -t[0].score))[0]
        return best


_IRREGULAR = {"shelf": "shelves", "person": "people", "mouse": "mice", "knife": "knives", "man": "men"}


def plural(label: str) -> str:
    head, _, last = label.rpartition(" ")
    if last in _IRREGULAR:
        word = _IRREGULAR[last]
    elif last.endswith(("shelf", "leaf", "knife")):
        word = last[:-2] + "ves" if last.endswith("fe") else last[:-1] + "ves"
    elif last.endswith(("s", "x", "ch", "sh")):
        word = last + "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        word = last[:-1] + "ies"
    else:
        word = last + "s"
    return f"{head} {word}".strip()


def holdings(insts: list[ObjectInstance], most: int = 8) -> str:
    """"2 chairs, a fridge and a sink": instances counted by label, the most common first."""
    counts = Counter(i.label for i in insts)
    items = [f"{n} {plural(label)}" if n > 1 else f"{'an' if label[:1] in 'aeiou' else 'a'} {label}"
             for label, n in counts.most_common(most)]
    if len(counts) > most:
        items.append(f"{len(counts) - most} other kinds of thing")
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
