"""Weights where the user has them: ``models pull`` fails offline with one sentence naming what could not be reached
and the local setting to use, and ``models list`` tells present from missing weights. Nothing here leaves the
machine: the hub endpoint is a closed loopback port, or the hub is switched off with HF_HUB_OFFLINE."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from openai_server import closed_port

from embodied_rag.config import config_from_dict
from embodied_rag.errors import UserError
from embodied_rag.models import weights
from embodied_rag.models.open_clip_model import write_tiny_model


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_CACHE": str(tmp_path / "hub"),
            "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}
    for offline in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # conftest sets them; each test says which way the
        base.pop(offline, None)                                 # hub is unreachable
    return subprocess.run([sys.executable, "-m", "embodied_rag", *args], capture_output=True, text=True,
                          timeout=300, cwd=REPO, env={**base, **env})


def _one_sentence(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0].endswith("."), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    return lines[0]


def test_pulling_a_hub_model_with_the_hub_unreachable_is_one_sentence(tmp_path):
    proc = _cli(tmp_path, "models", "pull", "sentence-transformers/all-MiniLM-L6-v2", "--cache-dir",
                str(tmp_path / "cache"))
    line = _one_sentence(proc)
    assert "could not be reached (connection refused)" in line and "http://127.0.0.1:" in line
    assert "models.text_embedder.path" in line
    assert not any((tmp_path / "cache").rglob("*.safetensors"))


def test_pulling_open_clip_weights_offline_is_one_sentence(tmp_path):
    proc = _cli(tmp_path, "models", "pull", "ViT-B-32:laion2b_s34b_b79k", HF_HUB_OFFLINE="1")
    line = _one_sentence(proc)
    assert "HF_HUB_OFFLINE" in line and "models.image_embedder.path" in line and "ViT-B-32" in line


def test_unknown_names_are_one_sentence(tmp_path):
    for name, expect in (("not a model", "neither an open_clip ARCH:TAG"),
                         ("ViT-B-32:no_such_tag", "no pretrained weights 'no_such_tag'"),
                         ("NoSuchNet:openai", "no architecture 'NoSuchNet'")):
        with pytest.raises(UserError, match=expect):
            weights.parse_name(name)
    assert "neither an open_clip" in _one_sentence(_cli(tmp_path, "models", "pull", "not a model"))


def _fake_hub_cache(cache: Path, repo: str) -> None:
    """The layout huggingface_hub leaves after a download (refs/main -> a snapshot with the files)."""
    root = cache / f"models--{repo.replace('/', '--')}"
    commit = "0" * 40
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    (root / "snapshots" / commit).mkdir(parents=True)
    (root / "snapshots" / commit / "config.json").write_text("{}")


def test_list_tells_present_from_missing_weights(tmp_path):
    cfg_json, ckpt = write_tiny_model(tmp_path / "clip")
    _fake_hub_cache(tmp_path / "st", "acme/tiny-embedder")
    config = config_from_dict({"models": {
        "text_embedder": {"name": "sentence-transformers", "model": "acme/tiny-embedder",
                          "cache_dir": str(tmp_path / "st")},
        "image_embedder": {"name": "open_clip", "model": "ViT-B-32", "pretrained": "laion2b_s34b_b79k",
                           "cache_dir": str(tmp_path / "empty")},
        "captioner": {"name": "clip_tagger", "model": str(cfg_json), "path": str(ckpt)},
        "llm": {"name": "openai", "model": "llama3", "base_url": "http://127.0.0.1:11434/v1"}}})
    rows = {r.role: r for r in weights.list_models(config)}
    assert rows["text_embedder"].status == "present"
    assert rows["image_embedder"].status == "missing"
    assert rows["image_embedder"].note == "embodied-rag models pull ViT-B-32:laion2b_s34b_b79k"
    assert rows["captioner"].status == "present" and rows["captioner"].source == str(ckpt)
    assert rows["llm"].status == "server"
    (ckpt).unlink()
    assert weights.list_models(config)[2].status == "missing"
    config.models.text_embedder.model = "acme/other"
    assert weights.list_models(config)[0].status == "missing"

    proc = _cli(tmp_path, "models", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    default = {r["role"]: r for r in json.loads(proc.stdout)}
    assert default["text_embedder"]["status"] == "packaged" and default["image_embedder"]["status"] == "none"
