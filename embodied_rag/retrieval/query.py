"""What a query asks for: its kind (find, explain, temporal) and the resolution it needs."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from embodied_rag.errors import UserError

KINDS = ("find", "explain", "temporal")

_TEMPORAL = re.compile(r"\bwhen\b|\blast (see|saw|seen|time)\b|\bhow long ago\b|\bwhat time\b", re.I)
_EXPLAIN = re.compile(
    r"^\s*(describe|summari[sz]e|explain|tell me about|give me an overview|overview)\b|\bwhat\b.*\blike\b|"
    r"\bwhat kinds? of\b|\bwhat (is|was|are) (there|around|in|near)\b|\bwhat did you see\b|\bwhat('s| is) in\b|"
    r"\bwhat (can|could|would) (i|you|we) (find|see)\b|\bwhat rooms\b", re.I)
_NEAREST = re.compile(r"\b(nearest|closest|near me|nearby|close by)\b", re.I)
_GLOBAL = re.compile(r"\b(building|floor|everything|whole|entire|overall|all areas|this place|campus|the map|"
                     r"memory|explored|house|apartment|kinds? of rooms|rooms are there|what rooms)\b", re.I)
# Words that say how to ask, not what to look for: removed to get the query's content.
_FILLER = re.compile(
    r"\b(where|is|are|the|a|an|can|could|would|i|me|my|you|your|find|go|to|take|bring|navigate|show|get|there|"
    r"please|what|whats|like|area|around|near|nearest|closest|describe|tell|about|did|do|does|leave|left|"
    r"last|see|saw|seen|when|of|kind|some|any|place|somewhere|for|with|this|that|in|on|at|has|have)\b", re.I)


# Floors: "the second floor", "floor 2", "level two", "2nd-floor", "ground floor", "top floor". Numbered the
# American way: the first floor is the ground floor (index 0).
_ORDINALS = {"ground": 1, "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
             "bottom": 1, "lowest": 1, "top": 0, "highest": 0, "upper": 0, "uppermost": 0}
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "zero": 0}
_FLOOR_BEFORE = re.compile(r"\b(?:(?:on|at|from|in|of)\s+)?(?:the\s+)?(" + "|".join(_ORDINALS) +
                           r")[\s-]+(?:floor|level|storey|story)\b", re.I)
_FLOOR_AFTER = re.compile(r"\b(?:(?:on|at|from|in|of)\s+)?(?:the\s+)?(?:floor|level|storey|story)\s+(?:number\s+)?"
                          r"(\d+|" + "|".join(_NUMBERS) + r")\b", re.I)
_UPSTAIRS = re.compile(r"\b(upstairs|downstairs)\b", re.I)
# Recency: the most recent or the first sighting.
_LAST = re.compile(r"\b(most recently|most recent|latest|lately|recently|(?:the )?last(?: time)?)\b", re.I)
_FIRST = re.compile(r"\b(earliest|originally|very first|(?:the )?first(?: time)?)\b(?! aid)", re.I)
# Colour names (and a few spellings) that tell instances of a class apart.
COLOURS = ("dark grey", "light blue", "dark green", "light green", "dark blue", "red", "blue", "green", "yellow",
           "orange", "purple", "pink", "brown", "black", "white", "grey", "silver", "beige", "teal", "cream",
           "wooden", "gold", "violet", "turquoise", "navy")
_COLOUR_ALIASES = {"gray": "grey", "dark gray": "dark grey", "wood": "wooden", "violet": "purple",
                   "turquoise": "teal", "navy": "dark blue"}
_COLOUR_RE = re.compile(r"\b(" + "|".join(sorted({*COLOURS, *_COLOUR_ALIASES}, key=len, reverse=True)) + r")\b", re.I)


@dataclass
class ParsedQuery:
    text: str
    kind: str
    global_scope: bool  # explain the whole memory rather than one area
    content: str  # the query without its question words: what to look for
    nearest: bool = False  # asks for the nearest/closest one
    floor: int | None = None  # asks about one floor: 0 = ground floor; -1 = the top floor
    relative_floor: int = 0  # +1 upstairs, -1 downstairs (relative to the robot)
    recency: str = ""  # "last" (most recently seen) or "first"
    colour: str = ""  # a colour the thing has
    target: str = ""  # what to look for, without floor, recency and colour words


def clean_query(text: str, max_chars: int) -> str:
    """Normalise a query; reject empty or oversized ones with one sentence."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError("The query is not valid UTF-8 text.") from None
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in text):
        # Undecodable bytes from a command line or a file arrive as lone surrogates.
        raise UserError("The query is not valid UTF-8 text.")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = " ".join(text.split())
    if not text:
        raise UserError("The query is empty.")
    if len(text) > max_chars:
        raise UserError(f"The query has {len(text)} characters; the limit is {max_chars}.")
    return text


def parse_query(text: str, kind: str = "auto") -> ParsedQuery:
    if kind not in ("auto", *KINDS):
        raise UserError(f"Unknown query kind '{kind}' (use auto, find, explain or temporal).")
    if kind == "auto":
        if _TEMPORAL.search(text):
            kind = "temporal"
        elif _EXPLAIN.search(text):
            kind = "explain"
        else:
            kind = "find"
    floor, rest = parse_floor(text)
    relative = 0
    m = _UPSTAIRS.search(rest)
    if m:
        relative = 1 if m.group(1).lower() == "upstairs" else -1
        rest = rest[:m.start()] + " " + rest[m.end():]
    recency = "last" if _LAST.search(rest) else "first" if _FIRST.search(rest) else ""
    rest = _FIRST.sub(" ", _LAST.sub(" ", rest))
    colour = ""
    m = _COLOUR_RE.search(rest)
    if m:
        colour = _COLOUR_ALIASES.get(m.group(1).lower(), m.group(1).lower())
    content = " ".join(_FILLER.sub(" ", re.sub(r"[^\w\s-]", " ", text)).split())
    target = " ".join(_FILLER.sub(" ", re.sub(r"[^\w\s-]", " ", rest)).split())
    global_scope = kind == "explain" and (bool(_GLOBAL.search(text)) or not content)
    return ParsedQuery(text, kind, global_scope, content or text, bool(_NEAREST.search(text)), floor, relative,
                       recency, colour, target or content or text)


def parse_floor(text: str) -> tuple[int | None, str]:
    """(floor index or None, the text without the floor phrase). 0 is the ground floor, -1 the top floor."""
    m = _FLOOR_BEFORE.search(text)
    if m:
        n = _ORDINALS[m.group(1).lower()]
        return (n - 1 if n else -1), text[:m.start()] + " " + text[m.end():]
    m = _FLOOR_AFTER.search(text)
    if m:
        word = m.group(1).lower()
        n = int(word) if word.isdigit() else _NUMBERS[word]
        # "floor 0" is the ground floor where floors are counted from zero; "floor 1" the first (ground) floor.
        return max(n - 1, 0), text[:m.start()] + " " + text[m.end():]
    return None, text
