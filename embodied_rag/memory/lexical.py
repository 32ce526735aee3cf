"""Inverted index of the words in keyframe texts: exact mentions that dense embeddings of long captions blur
("a bus stop sign" late in a 100-word caption), used to widen and rerank retrieval candidates."""

from __future__ import annotations

import re
import threading
from array import array

import numpy as np

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
    """Each word's keyframes as a compact array of ids (8 bytes a mention: a set of ints costs 30-65, and at a
    million keyframes of 100-word captions the index was the largest thing a reader holds), plus each keyframe's
    words for phrases. An array is sorted when a query first needs it after ids were appended out of order."""

    def __init__(self) -> None:
        self._postings: dict[str, array] = {}
        self._unsorted: set[str] = set()
        self._texts: dict[int, str] = {}
        # A query holds a view of an array's buffer, and an array with a view cannot grow: one call at a time.
        self._lock = threading.Lock()

    def add(self, kf_id: int, text: str) -> None:
        """Index a keyframe's text (replacing what it was indexed by, e.g. when its caption came later)."""
        with self._lock:
            self._add(int(kf_id), text)

    def _add(self, kf_id: int, text: str) -> None:
        ws = words(text)
        new = set(ws)
        before = self._texts.get(kf_id)
        if before is not None:
            old = set(before.split())
            for w in old - new:
                self._postings[w].remove(kf_id)
            new -= old
        postings, unsorted = self._postings, self._unsorted
        for w in new:
            ids = postings.get(w)
            if ids is None:
                postings[w] = array("q", (kf_id,))
                continue
            if ids and ids[-1] > kf_id:
                unsorted.add(w)
            ids.append(kf_id)
        self._texts[kf_id] = " " + " ".join(ws) + " "

    def _sorted(self, w: str) -> np.ndarray:
        # A view of the array's buffer: sorting it sorts the array. It must be gone before the next add (an array
        # with a view cannot grow): the caller holds the lock until its views are dropped.
        ids = np.frombuffer(self._postings[w], dtype=np.int64)
        if w in self._unsorted:
            ids.sort()
            self._unsorted.discard(w)
        return ids

    def matching(self, query: str) -> tuple[set[int], set[int]]:
        """(keyframes containing every query word, those containing the words as one phrase)."""
        with self._lock:
            return self._matching(words(query))

    def _matching(self, ws: list[str]) -> tuple[set[int], set[int]]:
        if not ws:
            return set(), set()
        distinct = set(ws)
        if any(not self._postings.get(w) for w in distinct):
            return set(), set()
        if len(ws) == 1:  # every text holding the word holds it as a phrase
            found = set(self._postings[ws[0]])
            return found, set(found)
        rarest, *others = sorted(distinct, key=lambda w: len(self._postings[w]))
        every = np.array(self._postings[rarest], dtype=np.int64)
        for w in others:
            ids = self._sorted(w)
            at = np.minimum(np.searchsorted(ids, every), len(ids) - 1)
            every = every[ids[at] == every]
            if not every.size:
                return set(), set()
        phrase = " " + " ".join(ws) + " "
        texts = self._texts
        found = set(every.tolist())
        return found, {k for k in found if phrase in texts[k]}
