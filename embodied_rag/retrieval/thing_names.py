"""Things and places and their other names (``data/*.yaml``), shared by the question parser, the object search and
the retriever's exact-mention matching."""

from __future__ import annotations

import functools
import re
from importlib import resources

import yaml

from embodied_rag.memory.lexical import words


def _data(name: str):
    return yaml.safe_load(resources.files("embodied_rag").joinpath(f"data/{name}").read_text(encoding="utf-8")) or {}


@functools.cache
def object_names() -> dict[str, list[str]]:
    """Each thing's label and its other names, lower case."""
    return {str(k).lower(): [str(v).lower() for v in vs] for k, vs in _data("object_names.yaml").items()}


@functools.cache
def _name_groups() -> dict[tuple[str, ...], frozenset[tuple[str, ...]]]:
    """Every name of a thing or kind of place the data files know (as lexical words) -> all names of what it names:
    a thing's label and other names (``object_names.yaml``), a kind of place and its other names
    (``place_names.yaml``), and the places, things and uses' things of ``vocabulary.yaml``/``object_uses.yaml``."""
    groups: list[list[str]] = [[k, *vs] for k, vs in object_names().items()]
    groups += [[str(k).lower(), *(str(v).lower() for v in vs)] for k, vs in _data("place_names.yaml").items()]
    vocab = _data("vocabulary.yaml")
    groups += [[str(k).lower()] for k in vocab.get("places", {})] + [[str(o).lower()] for o in vocab.get("objects", [])]
    groups += [[str(k).lower()] for k in _data("object_uses.yaml")]
    out: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for group in groups:
        keys = [tuple(words(n)) for n in group if words(n)]
        for key in keys:
            out.setdefault(key, set()).update(keys)
    return {k: frozenset(v) for k, v in out.items()}


def known_names() -> list[str]:
    """Every name of a thing or kind of place the data files know, as lexical words joined by spaces."""
    return [" ".join(key) for key in _name_groups()]


_ROOM_WORDS = frozenset({"room", "area", "hall", "zone", "space", "place", "corner", "section", "office"})


@functools.cache
def _turned_names() -> tuple[re.Pattern, dict[str, str]]:
    # Not a kind of room: "the room of the printer" asks which room it is in, not for a print room.
    kept = [(a, b) for a, b in (n.split() for n in known_names() if n.count(" ") == 1) if b not in _ROOM_WORDS]
    alts = "|".join(re.escape(b) + r" (?:of|for) (?:the |a |an )?" + re.escape(a) for a, b in kept)
    return re.compile(rf"\b(?:{alts})\b", re.I), {f"{b} {a}": f"{a} {b}" for a, b in kept}


def name_order(text: str) -> str:
    """``text`` with two-word names said the other way round written as names ("the closest stop of bus": bus stop,
    "the machine for coffee": coffee machine)."""
    rx, pairs = _turned_names()

    def named(m: re.Match) -> str:
        w = m.group(0).split()
        return pairs.get(f"{w[0]} {w[-1]}".lower(), m.group(0))

    return rx.sub(named, text)


# Where a request names what it wants: "..., where's a library?", "take me to the bus stop".
_REQUEST = re.compile(r"\b(where|which way|(take|bring|guide|lead|escort|accompany|walk|drive) (me|us|the group)|"
                      r"show me|navigate|go (on )?((over|across|back|down|up) )?(yonder )?to|get to|"
                      r"which(?= [\w ]{1,30}? (is|are) (the )?(closest|nearest))|"
                      r"route( me| us)?( straight| directly)? to|"
                      r"find|locate|get (me|us)( over| across| back)? to|(point|direct) (me|us)( to| towards)?|"
                      r"(location|position|whereabouts) of|"
                      r"proceed to|head (over )?to|(set|chart|plot) (me |us )?(a )?course (for|to)|"
                      r"(make|making) (your|its|my|our) way|go there)\b",
                      re.I)


def requests(text: str) -> bool:
    """Whether ``text`` has a request word ("where", "take me", "find", ...)."""
    return bool(_REQUEST.search(text))


def asked_thing(text: str) -> list[str]:
    """The names (first the one used) of the first known thing or kind of place a request asks for: named after
    its last request word that names one ("I need a quiet place to borrow some books, where's a library?" asks for
    a library; "Take us to a bridge. Show me where the crossing is.": a bridge), else before it in the same sentence
    ("Nearest bus stop where? I must take a bus."); empty when it has no request word or names none there. Names are
    lexical words joined by spaces."""
    return _asked(text, pronouns=False)[0]


def pointed_back(text: str) -> list[str]:
    """The names of the thing a request points back to with "it" or "there" ("I set the box down to open a door.
    Where did it end up?": the box, the first thing the sentence before names); empty when it names its thing."""
    names, back = _asked(text, pronouns=True)
    return names if back else []


def _asked(text: str, pronouns: bool) -> tuple[list[str], bool]:
    """The names a request asks for, and whether it points back to them from another sentence (``pronouns``: also
    with "it" among other words, "where did it end up?"; only "there" or "it" alone otherwise)."""
    for m in reversed(list(_REQUEST.finditer(text))):
        start = max((e.end() for e in _CLAUSE_END.finditer(text[:m.start()])), default=0)
        ends = (e.start() + 1 for e in re.finditer(r"[.!?](\s|$)", text[m.end():]))
        end = next(ends, len(text) - m.end()) + m.end()
        after = text[m.end():end]
        if _DONE_WITH.match(after):
            continue  # "where can I throw away my coffee cup?": the cup is the asker's, a bin is asked for
        names = (_first_name(words(_POSSESSOR.sub(" ", after))) or _first_name(words(after))
                 or _first_name(words(text[start:m.start()])))
        if names:
            return names, False
        if set(words(after)) <= _POINTING or pronouns and _PRONOUN.search(after) and not _DONE_WITH_ANY.search(
                text[m.start():end]):
            # "To the fountain. Water decoration. Please, go there.": "there" points back to the sentences before;
            # "it" to the thing they speak of first ("I set the box down to open a door. Where did it end up?"),
            # "there" to the place they name last ("She left her bag by the red sink. Can you bring me there?").
            there = not _PRONOUN.search(after)
            for sentence in reversed(sentences(text[:start])):
                names = _first_name(words(sentence), last=there)
                if names:
                    return names, True
    return [], False


_PRONOUN = re.compile(r"\b(it|them|that one|this one)\b", re.I)


# What is done with a thing the asker has: "where can I throw away / recycle / charge / wash ...".
_DONE_VERB = (r"(throw|toss|chuck|dump|dispose|recycle|bin|charge|wash|rinse|clean|dry|print|copy|fill|refill|heat|"
              r"warm|microwave|store|stash|hang|drop|plug|park|lock|empty|get rid)")
_DONE_WITH = re.compile(r"\s*(can|could|do|should|may|might|would|to)( (i|we|one|you))?( go( and)?)?( to)? "
                        + _DONE_VERB + r"\b", re.I)
_DONE_WITH_ANY = re.compile(r"\b" + _DONE_VERB + r"(s|es|ed|ing)?( (away|out|up|off|of))? (my|this|that|these|those|"
                            r"the|a|an|some|it|them|our|his|her|their)\b", re.I)


# "the place where water splashes out just for decoration": what follows describes the thing asked for
_DESCRIBED = re.compile(r"\b(the|a|an|some|that|this|one of those) (place|part( of (the|this) (building|campus|town|"
                        r"city))?|spot|area|room|thing|things|one|ones|kind of \w+|sort of \w+)\s+"
                        r"(?P<rel>where|that|which|with|in which|you)\b", re.I)


def described(text: str) -> str:
    """What a request says of the thing it cannot name ("Go to the place where water splashes out." -> "where water
    splashes out."); empty when it describes nothing so."""
    m = _DESCRIBED.search(text)
    return text[m.start("rel"):].strip() if m else ""


def done_with(text: str) -> bool:
    """Whether ``text`` says what is to be done with a thing ("I need to throw away my coffee cup"): the things it
    names are then the asker's, not what is asked for."""
    return bool(_DONE_WITH_ANY.search(text))


_CLAUSE_END = re.compile(r"[.!?](\s|$)|\s-\s")  # "I can't walk far with my bag - where's a bus stop?"
_POINTING = {"there", "it", "one", "them", "that", "please", "now"}


def sentences(text: str, maxsplit: int = 0) -> list[str]:
    """The sentences of ``text`` (split after . ! or ?; at most ``maxsplit`` splits when given)."""
    # also after a closing quote: 'He keeps saying "robot see sink?" Did you?'
    return [p for p in re.split(r"(?<=[.!?])\s+|(?<=[.!?][\"'\u201d\u2019])\s+", text.strip(), maxsplit=maxsplit) if p]


def clauses(text: str) -> list[str]:
    """The sentences of ``text`` and the clauses a spaced dash sets apart ("I've had this cup for hours - where can I
    throw it away?")."""
    return [p for p in re.split(r"(?<=[.!?])\s+|\s+-\s+", text.strip()) if p]


# "the lobby's centrepiece, the fountain": the lobby is where the thing asked for is, not the thing.
_POSSESSOR = re.compile(r"\b\w+'s\b(?=\s+\w)", re.I)


def named_thing(text: str) -> list[str]:
    """The names (first the one used) of the first known thing or kind of place ``text`` names anywhere ("what is it
    like by the lifts?": lift, elevator, ...); empty when it names none."""
    return _first_name(words(text))


def without_things(text: str) -> str:
    """``text``'s lexical words without those of the names of known things ("where can I throw away my coffee cup":
    where can i throw away my): what is done with a thing, for matching needs."""
    names = _thing_words()
    return " ".join(w for w in words(text) if w not in names)


@functools.cache
def _thing_words() -> frozenset[str]:
    return frozenset(w for key in _object_keys() for w in key)


def object_named(text: str) -> bool:
    """Whether ``text`` names a known thing (not a kind of place)."""
    return _first_key(words(text), _object_keys()) is not None


@functools.cache
def _object_keys() -> frozenset[tuple[str, ...]]:
    """The names of things the data files know (not of kinds of place), as lexical words."""
    return frozenset(_name_groups()) - _place_keys()


@functools.cache
def _place_keys() -> frozenset[tuple[str, ...]]:
    """The kinds of place the data files know and their other names, as lexical words."""
    names = [n for k, vs in _data("place_names.yaml").items() for n in (str(k), *map(str, vs))]
    names += [str(k) for k in _data("vocabulary.yaml").get("places", {})]
    return frozenset(tuple(words(n)) for n in names if words(n))


def place_named(text: str) -> str:
    """The first kind of place ``text`` names ("the amount of time you occupied the washroom": washroom), longest
    name first, as lexical words; empty when it names none."""
    key = _first_key(words(text), _place_keys())
    return " ".join(key) if key else ""


def alternative_names(text: str) -> list[str]:
    """Other names of what ``text`` names as a whole ("stairs": staircase, stairway, ...); empty for anything
    else."""
    key = tuple(words(re.sub(r"^\s*(the|a|an|some|any)\s+", "", text, flags=re.I)))
    return sorted(" ".join(n) for n in _name_groups().get(key, ()) if n != key)


def _first_key(ws: list[str], keys) -> tuple[str, ...] | None:
    """The first run of words that is one of ``keys`` (word tuples), the longest where several start together."""
    longest = max((len(k) for k in keys), default=0)
    for i in range(len(ws)):
        for n in range(min(longest, len(ws) - i), 0, -1):
            if tuple(ws[i:i + n]) in keys:
                return tuple(ws[i:i + n])
    return None


def _keys(ws: list[str], keys) -> list[tuple[str, ...]]:
    """Every run of words that is one of ``keys``, left to right, the longest where several start together."""
    longest = max((len(k) for k in keys), default=0)
    out, i = [], 0
    while i < len(ws):
        n = next((n for n in range(min(longest, len(ws) - i), 0, -1) if tuple(ws[i:i + n]) in keys), 0)
        if n:
            out.append(tuple(ws[i:i + n]))
        i += max(n, 1)
    return out


def _first_name(ws: list[str], last: bool = False) -> list[str]:
    """The first (or ``last``) known name in ``ws`` and the other names of what it names."""
    groups = _name_groups()
    key = (_keys(ws, groups) or [None])[-1] if last else _first_key(ws, groups)
    return [" ".join(key)] + sorted(" ".join(o) for o in groups[key] if o != key) if key else []


def things_named(text: str) -> int:
    """How many different things or kinds of place ``text`` names."""
    groups = _name_groups()
    return len({groups[k] for k in _keys(words(text), groups)})


def mentions(index, content: str, request: str = "") -> tuple[set[int], set[int]]:
    """Keyframes of a :class:`~embodied_rag.memory.lexical.LexicalIndex` whose text mentions every word of
    ``content``, and those that mention it as one phrase, counting the other names of what it names ("a curved
    staircase" mentions the stairs). When none mentions all of it, those that mention what ``request`` asks for
    (see :func:`asked_thing`): "I need to catch a bus, where's the nearest bus stop from here?" mentions no view
    word for word, "bus stop" many; else those that mention the last word of its name when that is a name itself
    (no view mentions a "water fountain", one mentions a fountain)."""
    every, phrase = _mentioning(index, [content, *alternative_names(content)])
    if not every and request:
        asked = asked_thing(request)
        # No view mentions a "water fountain": one that mentions a fountain is the next best.
        for names in (asked, _first_name(asked[0].split()[-1:]) if asked and " " in asked[0] else []):
            every, phrase = _mentioning(index, names)
            if every:
                break
    return every, phrase


def mentioned_as_said(index, content: str) -> bool:
    """Whether some view mentions every word of ``content`` (or another name of what it names)."""
    return bool(_mentioning(index, [content, *alternative_names(content)])[0])


def _mentioning(index, names: list[str]) -> tuple[set[int], set[int]]:
    """Keyframes that mention every word of one of ``names``, and those that mention one as a phrase."""
    every: set[int] = set()
    phrase: set[int] = set()
    for name in names:
        more, more_phrase = index.matching(name)
        every |= more
        phrase |= more_phrase
    return every, phrase
