"""An answer with its goal pose and evidence; its JSON shape is a stable interface for scripts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass
class Goal:
    frame_id: str
    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float]

    def to_json(self) -> dict[str, Any]:
        return {"frame_id": self.frame_id, "position": [round(v, 4) for v in self.position],
                "orientation": [round(v, 6) for v in self.orientation]}


@dataclass
class Answer:
    answer: str
    kind: str
    goal: Goal | None = None
    evidence: list[str] = field(default_factory=list)
    level: int = 0
    llm_calls: int = 0
    latency_ms: float = 0.0
    # Why the LLM path was not (fully) used, e.g. "llm unavailable: connection refused"; empty when it was.
    degraded: str = ""
    found: bool = True
    # The object instance the answer is about (id, label, colour, position, ...), when it is about one.
    object: dict[str, Any] | None = None
    # Typed values of time, duration, count and yes/no questions (None where the kind has none).
    time_ns: int | None = None
    duration_s: float | None = None
    count: int | None = None
    yes_no: bool | None = None
    # How sure a query by image is of the place it recognised (0..1); None for questions in words.
    confidence: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable shape: answer, kind, goal, evidence, level, llm_calls, latency_ms, object, and the typed
        values time (ISO-8601 UTC), duration_s, count and yes_no, and the confidence of a query by image (null where
        they do not apply)."""
        return {"answer": self.answer, "kind": self.kind, "goal": self.goal.to_json() if self.goal else None,
                "evidence": list(self.evidence), "level": self.level, "llm_calls": self.llm_calls,
                "latency_ms": round(self.latency_ms, 3), "object": self.object,
                "time": iso(self.time_ns) if self.time_ns is not None else None, "duration_s": self.duration_s,
                "count": self.count, "yes_no": self.yes_no, "confidence": self.confidence}


def iso(stamp_ns: int) -> str:
    """ISO-8601 UTC with milliseconds ("2023-11-14T22:13:20.000Z")."""
    dt = datetime.fromtimestamp(stamp_ns / 1e9, tz=timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def article(word: str) -> str:
    """"a" or "an" before ``word`` (by its first letter)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def floor_name(floor: int) -> str:
    """"ground floor", "second floor", ... (floor 0 is the ground floor)."""
    names = ["ground floor", "second floor", "third floor", "fourth floor", "fifth floor", "sixth floor"]
    return names[floor] if 0 <= floor < len(names) else f"floor {floor + 1}"


def kf_ref(kf_id: int) -> str:
    return f"kf:{kf_id}"


def object_ref(object_id: int) -> str:
    return f"obj:{object_id}"


def node_ref(node_id: int) -> str:
    return f"node:{node_id}"
