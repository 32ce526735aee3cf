"""Things and their other names (``data/object_names.yaml``), shared by the question parser and the object search."""

from __future__ import annotations

import functools
from importlib import resources

import yaml


@functools.cache
def object_names() -> dict[str, list[str]]:
    """Each thing's label and its other names, lower case."""
    text = resources.files("embodied_rag").joinpath("data/object_names.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    return {str(k).lower(): [str(v).lower() for v in vs] for k, vs in data.items()}
