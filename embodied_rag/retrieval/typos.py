"""Misspelt question words ("whre were you", "how mnay chairs", "what tiem"), written correctly before parsing.

Only the words that say what kind of question it is are corrected, and only for the slips that rarely make another
word: two neighbouring letters swapped ("tiem"), one letter left out, not the first ("wich"), and in words of five
letters or more one vowel written as another ("whare"). A slip
that spells a known word (a thing or place name from ``data/*.yaml``, or a word such as "here", "hat", "may") or
that could come from two question words ("thre": there, three) is left alone.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

# Words whose misspelling hides the kind of a question.
QUESTION_WORDS = ("when", "where", "which", "what", "time", "long", "many", "much", "were", "room", "seen", "saw",
                  "how", "you", "did", "have", "there", "spend", "spent", "minutes", "hours", "number", "whether",
                  "remember", "recall", "notice", "noticed", "spotted", "happen", "show", "count", "location",
                  "position", "last", "first", "recently", "earliest", "latest", "area", "around", "describe", "please")
# Words that are not corrected into and whose slips are not corrected either ("thre" may be "three").
_LOOKALIKES = ("three", "other", "their", "really", "house", "horse")
# Real words that are slips of a question word; the data files' names are added to them.
_WORDS = ("here", "hat", "hen", "whee", "wee", "tie", "tim", "log", "lon", "man", "may", "any", "see",
          "sped", "send", "sent", "minute", "hour", "sow", "thee", "tree", "roo", "cont", "are", "ara", "round")
_TOKEN = re.compile(r"[A-Za-z]+")


@functools.cache
def _known_words() -> frozenset[str]:
    words = set(_WORDS)
    for name in ("object_names.yaml", "place_names.yaml", "vocabulary.yaml", "object_uses.yaml"):
        text = resources.files("embodied_rag").joinpath(f"data/{name}").read_text(encoding="utf-8")
        words.update(w.lower() for w in _TOKEN.findall(text))
    return frozenset(words)


def known_word(word: str) -> bool:
    """A question word or a word of the data files' names ("sofa", "bus", "stop")."""
    w = word.lower()
    return w in QUESTION_WORDS or w in _known_words()


def vowel_slips(word: str, shortest: int = 5) -> set[str]:
    """One vowel after the first letter written as another ("whare" for "where"), in words of ``shortest`` letters
    or more."""
    if len(word) < shortest:
        return set()
    return {word[:i] + v + word[i + 1:] for i in range(1, len(word)) if word[i] in "aeiou" for v in "aeiou"} - {word}


def slips(word: str) -> set[str]:
    swapped = {word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1) if word[i] != word[i + 1]}
    dropped = {word[:i] + word[i + 1:] for i in range(1, len(word))} if len(word) >= 4 else set()
    return {s for s in swapped | dropped if len(s) >= 3}


@functools.cache
def _corrections() -> dict[str, str]:
    known = _known_words() | set(QUESTION_WORDS) | set(_LOOKALIKES)
    seen: dict[str, set[str]] = {}
    for word in QUESTION_WORDS + _LOOKALIKES:
        for slip in slips(word) | (set() if word in _LOOKALIKES else vowel_slips(word)):
            seen.setdefault(slip, set()).add(word)
    return {slip: word for slip, words in seen.items() if len(words) == 1 and slip not in known
            for word in words if word not in _LOOKALIKES}


def correct(text: str) -> str:
    """``text`` with slips of question words corrected (lower case where corrected)."""
    fixes = _corrections()
    return _TOKEN.sub(lambda m: fixes.get(m.group(0).lower(), m.group(0)), text)
