"""Inverted index of the words in keyframe texts: exact mentions that dense embeddings of long captions blur
("a bus stop sign" late in a 100-word caption), used to widen and rerank retrieval candidates."""

from __future__ import annotations

import re
from collections import defaultdict

_WORD = re.compile(r"[a-z0-9]+")
ES_PLURALS = ("ches", "shes", "sses", "xes")  # plurals that add "es": "benches", "boxes", "glasses"


def _stem(w: str) -> str:
    if w.endswith(ES_PLURALS):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


# Each distinct word is stemmed once: opening a memory indexes every keyframe's text, and long captions repeat a
# small vocabulary (a third of the cost of opening the 3,313-place memory went to stemming). Bounded so that
# odd inputs (ids, hashes) cannot grow it without end.
_STEMS: dict[str, str] = {}
_MAX_STEMS = 200_000


def words(text: str) -> list[str]:
    """Lower-case words with a light plural strip, so 'elevators' matches 'elevator' and 'benches' 'bench'."""
    out = []
    stems = _STEMS
    for w in _WORD.findall(text.lower()):
        s = stems.get(w)
        if s is None:
            s = _stem(w)
            if len(stems) < _MAX_STEMS:
                stems[w] = s
        out.append(s)
    return out


class LexicalIndex:
    def __init__(self) -> None:
        self._postings: dict[str, set[int]] = defaultdict(set)
        self._texts: dict[int, str] = {}

    def add(self, kf_id: int, text: str) -> None:
        """Index a keyframe's text (replacing what it was indexed by, e.g. when its caption came later)."""
        for w in self._texts.get(kf_id, "").split():
            self._postings[w].discard(kf_id)
        ws = words(text)
        for w in set(ws):
            self._postings[w].add(kf_id)
        self._texts[kf_id] = " " + " ".join(ws) + " "

    def matching(self, query: str) -> tuple[set[int], set[int]]:
        """(keyframes containing every query word, those containing the words as one phrase)."""
        ws = words(query)
        if not ws:
            return set(), set()
        sets = sorted((self._postings.get(w, set()) for w in set(ws)), key=len)
        every = set(sets[0])
        for s in sets[1:]:
            every &= s
            if not every:
                break
        phrase = " " + " ".join(ws) + " "
        return every, {k for k in every if phrase in self._texts[k]}
