"""An answer with its goal pose and evidence; its JSON shape is a stable interface for scripts."""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def to_json(self) -> dict[str, Any]:
        """The stable shape: answer, kind, goal, evidence, level, llm_calls, latency_ms, object."""
        return {"answer": self.answer, "kind": self.kind, "goal": self.goal.to_json() if self.goal else None,
                "evidence": list(self.evidence), "level": self.level, "llm_calls": self.llm_calls,
                "latency_ms": round(self.latency_ms, 3), "object": self.object}


def kf_ref(kf_id: int) -> str:
    return f"kf:{kf_id}"


def object_ref(object_id: int) -> str:
    return f"obj:{object_id}"


def node_ref(node_id: int) -> str:
    return f"node:{node_id}"
