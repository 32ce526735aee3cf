"""Embodied memory with retrieval-augmented generation for ROS 2.

``open_memory``, ``build_memory`` and ``caption_backlog`` (see :mod:`embodied_rag.api`) are imported on first use,
so that ``import embodied_rag`` stays light for the ROS launch and setup tools.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["open_memory", "build_memory", "caption_backlog", "Models"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from embodied_rag import api

        return getattr(api, name)
    raise AttributeError(f"module 'embodied_rag' has no attribute '{name}'")
