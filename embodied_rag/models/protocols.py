"""The small interfaces the core depends on. Any object with these methods plugs in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from embodied_rag.memory.detection import Detection


@runtime_checkable
class TextEmbedder(Protocol):
    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Unit-norm float32 rows, one per text (captions, summaries)."""

    def embed_query(self, text: str) -> np.ndarray:
        """A unit-norm float32 vector for a query."""


@runtime_checkable
class ImageEmbedder(Protocol):
    name: str
    dim: int

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        """Unit-norm float32 rows, one per RGB uint8 image."""


@dataclass
class Caption:
    """What a captioner says about an image."""

    text: str
    name: str = ""
    objects: list[str] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)  # boxes in the captioned image's pixels
    error: str = ""  # why there is no caption (server down, bad reply), when the captioner failed on this image


@runtime_checkable
class Captioner(Protocol):
    name: str

    def caption(self, images: list[np.ndarray]) -> list[Caption]:
        """One caption per RGB uint8 image (a batch)."""


@runtime_checkable
class LLM(Protocol):
    name: str

    def complete(self, system: str, user: str, max_tokens: int = 160, json_schema: dict | None = None) -> str:
        """One chat completion; raises LLMError on failure."""


class LLMError(RuntimeError):
    """The LLM could not answer (down, timeout, malformed reply)."""
