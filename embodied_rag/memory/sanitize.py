"""Memory text is data: sentences in captions that read like instructions to the assistant (a sign saying "ignore
your instructions ...") are left out of answers and of the evidence shown to an LLM."""

from __future__ import annotations

import re

_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules?|orders?)\b|"
    r"\bsystem prompt\b|\bapi[ _-]?keys?\b|\bpasswords?\b|\b(print|reveal|show|tell me) (me )?your\b|"
    r"\benvironment variables?\b|\byou must (now )?(drive|go|navigate|obey)\b", re.I)
OMITTED = "[text that reads like an instruction omitted]"


def strip_instructions(text: str) -> str:
    """The text without its instruction-like sentences (each replaced by a short marker, once)."""
    if not _INSTRUCTION.search(text):
        return text
    out: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        if _INSTRUCTION.search(sentence):
            if not out or out[-1] != OMITTED:
                out.append(OMITTED)
        else:
            out.append(sentence)
    return " ".join(out)
