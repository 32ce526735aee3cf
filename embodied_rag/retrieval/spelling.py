"""Misspelt names of things, written as the names a memory's views mention ("take me to a brdge": bridge).

A word (or two neighbouring words, spaces ignored: "bus top" for "bus stop") that no view mentions is corrected
when it is a slip of exactly one name of a thing or kind of place (``data/*.yaml``) that some view mentions. The
slips are those of :mod:`embodied_rag.retrieval.typos` (two neighbouring letters swapped, or one letter left out,
not the first; in a two-word name, one in each word: "vendng machien"), in names of six letters or more, one
vowel written as another ("elevater") and a letter struck as its neighbour on the keyboard ("stadiun"), a nasal
said through a blocked nose ("stadiub": an m as b, an n as d) and an r not said (Boston's "staihs").
A slip has at least five letters: shorter ones are often words in their own right ("star" for "stair", "plan" for
"plant"). Used for finds and explanations only: a yes/no question about a thing never seen must stay an honest no.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from embodied_rag.memory.lexical import LexicalIndex, words
from embodied_rag.retrieval.thing_names import known_names
from embodied_rag.retrieval.typos import slips, vowel_slips

_TOKEN = re.compile(r"[A-Za-z0-9]+")
_SHORTEST = 5

_SPOKEN_AS = {"m": "b", "n": "d", "r": "h"}  # a blocked nose's m and n; a non-rhotic accent's r written as h


def _accent_slips(word: str) -> set[str]:
    return {word[:i] + _SPOKEN_AS[c] + word[i + 1:] for i, c in enumerate(word) if c in _SPOKEN_AS}


_KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEY_NEIGHBOURS = {c: row[max(0, i - 1):i] + row[i + 1:i + 2] for row in _KEY_ROWS for i, c in enumerate(row)}


def _key_slips(word: str) -> set[str]:
    """A letter struck as its neighbour in the keyboard's row ("stadiun"), not the first, in names of six or more."""
    if len(word) < 6:
        return set()
    return {word[:i] + k + word[i + 1:] for i in range(1, len(word)) for k in _KEY_NEIGHBOURS.get(word[i], "")}


def _word_slips(name: str) -> set[str]:
    """A slip in each word of a two-word name ("vendng machien"), spaces left out; words of four letters or more."""
    parts = name.split()
    if len(parts) != 2 or min(len(w) for w in parts) < 4:
        return set()
    first, second = (slips(w) | {w} for w in parts)
    return {a + b for a in first for b in second}


class Spelling:
    """The slips of the names one memory's views mention (and of ``seen``: the labels of things it found, which no
    caption may mention), built once per memory state."""

    def __init__(self, index: LexicalIndex, seen: Iterable[str] = ()) -> None:
        self._index = index
        heard: dict[str, set[str]] = {}
        found = {" ".join(words(s)) for s in seen} - {""}
        for name in sorted(set(known_names()) | found):
            joined = name.replace(" ", "")
            if len(joined) < _SHORTEST or not (name in found or index.matching(name)[1]):
                continue
            for slip in (slips(joined) | vowel_slips(joined, 6) | _accent_slips(joined) | _key_slips(joined)
                         | _word_slips(name)) - {joined}:
                if len(slip) < _SHORTEST:
                    continue
                heard.setdefault(slip, set()).add(name)
        # A slip that some view mentions is a word in its own right there.
        self._fixes = {slip: next(iter(names)) for slip, names in heard.items()
                       if len(names) == 1 and not index.matching(slip)[0]}

    def correct(self, text: str) -> str:
        """``text`` with the slips of mentioned names written as those names; unchanged when it has none."""
        if not self._fixes:
            return text
        tokens = list(_TOKEN.finditer(text))
        forms = ["".join(words(t.group(0))) for t in tokens]
        out, last, i = [], 0, 0
        while i < len(tokens):
            for n in (2, 1):
                window = forms[i:i + n]
                if len(window) < n:
                    continue
                name = self._fixes.get("".join(window))
                if name is not None and not self._index.matching(" ".join(window))[1]:
                    out += [text[last:tokens[i].start()], name]
                    last = tokens[i + n - 1].end()
                    i += n
                    break
            else:
                i += 1
        return "".join(out) + text[last:] if out else text
