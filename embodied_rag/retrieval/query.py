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


@dataclass
class ParsedQuery:
    text: str
    kind: str
    global_scope: bool  # explain the whole memory rather than one area
    content: str  # the query without its question words: what to look for
    nearest: bool = False  # asks for the nearest/closest one


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
    content = " ".join(_FILLER.sub(" ", re.sub(r"[^\w\s-]", " ", text)).split())
    global_scope = kind == "explain" and (bool(_GLOBAL.search(text)) or not content)
    return ParsedQuery(text, kind, global_scope, content or text, bool(_NEAREST.search(text)))
