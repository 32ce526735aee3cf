"""Caption later: a memory built without captions (no captioner, or one that was down) is captioned afterwards by
``embodied-rag caption`` / ``caption_backlog`` and by the memory node's periodic retry; failures are recorded per
keyframe and retried, a killed run resumes with what remains, and what depends on captions (leaves, areas, summaries,
objects, the "never silently blind" counts, answers) follows.

The captioner is the real OpenAI-compatible vision client talking to the loopback test server. The server's
``vision`` stand-in recognises which of the recording's images it was sent (nearest thumbnail) and replies with that
frame's caption from the recording, in the JSON a vision model is asked for: the captions a VLM wrote for coex_lobby,
or the example walk's. So the answers can be checked, and a run takes seconds instead of minutes of SmolLM2.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from conftest import REPO, dataset, write_tum_folder
from openai_server import ChatServer, NoModel, closed_port
from PIL import Image

from embodied_rag.api import Models, build_memory, caption_backlog, inspect_memory, open_memory
from embodied_rag.config import Config, config_from_dict
from embodied_rag.errors import UserError
from embodied_rag.memory.memory import Memory
from embodied_rag.memory.store import SCHEMA_VERSION
from embodied_rag.models import registry


def _thumb(rgb: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (16, 12), interpolation=cv2.INTER_AREA).astype(float)


def replay_vision(folder: Path, captions: dict[str, dict]) -> Callable[[Image.Image], str]:
    """The server's vision stand-in: the caption the recording has for the image it was sent, as the model's JSON
    (a box around the middle for the first object, so objects come from captions too)."""
    names = sorted(captions)
    thumbs = np.stack([_thumb(cv2.cvtColor(cv2.imread(str(folder / n)), cv2.COLOR_BGR2RGB)) for n in names])

    def vision(im: Image.Image) -> str:
        i = int(np.argmin(((thumbs - _thumb(np.asarray(im))) ** 2).sum(axis=(1, 2))))
        rec = captions[names[i]]
        objects = [o.strip() for o in rec["objects"].split(",") if o.strip()] if isinstance(rec["objects"], str) \
            else list(rec["objects"])
        boxes = [{"label": objects[0], "box": [350, 300, 650, 700]}] if objects else []
        return json.dumps({"name": "", "description": rec["caption"], "objects": objects, "boxes": boxes})

    return vision


def read_captions(folder: Path) -> dict[str, dict]:
    lines = (folder / "captions.jsonl").read_text().splitlines()
    return {r["image"]: r for r in (json.loads(x) for x in lines if x.strip())}


def captioner_config(base_url: str, batch: int = 32) -> Config:
    return config_from_dict({"ingest": {"embed_batch_size": batch}, "models": {"captioner": {
        "name": "openai", "model": "vlm", "base_url": base_url, "retries": 0, "timeout_s": 10.0}}})


def models_for(config: Config, text) -> Models:
    return Models(text=text, captioner=registry.create_captioner(config.models.captioner))


def down_url() -> str:
    return f"http://127.0.0.1:{closed_port()}/v1"


@pytest.fixture
def blind_walk(tmp_path, minilm) -> tuple[Path, Path, dict[str, dict]]:
    """The example walk (4 rooms x 3 frames) built by a robot with only a camera: (folder, memory, its captions)."""
    folder = write_tum_folder(tmp_path / "walk", n_per_room=3, image_size=(160, 120))
    captions = read_captions(folder)
    (folder / "captions.jsonl").unlink()
    report = build_memory(folder, tmp_path / "mem", Config(), models=Models(text=minilm), progress=False)
    assert report["keyframes"] == 12 and report["language_search"]["searchable"] == 0
    return folder, tmp_path / "mem", captions


def test_server_down_keeps_the_backlog_and_a_later_run_captions_it_and_answers(blind_walk, minilm):
    folder, mem, captions = blind_walk
    down = captioner_config(down_url())
    for attempt in (1, 2):
        r = caption_backlog(mem, down, models=models_for(down, minilm), progress=False)
        assert (r["backlog"], r["captioned"], r["failed"], r["remain"]) == (12, 0, 12, 12)
        assert r["failures"][0]["attempts"] == attempt and "refused the connection" in r["failures"][0]["error"]
    with Memory(mem, Config(), writable=False) as m:
        info = inspect_memory(m)
    assert info["caption_backlog"] == {"keyframes": 12, "failed_before": 12}
    assert info["language_search"]["searchable"] == 0 and "embodied-rag caption" in info["language_search"]["why"]
    # A reader that is open all along (the query node) picks the captions up when it refreshes.
    reader = open_memory(mem, Config(), models=Models(text=minilm))
    assert reader.ask("where can I get a drink?").goal is None

    with ChatServer(NoModel(), vision=replay_vision(folder, captions)) as srv:
        up = captioner_config(srv.base_url)
        r = caption_backlog(mem, up, models=models_for(up, minilm), progress=False)
        assert (r["backlog"], r["captioned"], r["failed"], r["remain"], r["failures"]) == (12, 12, 0, 0, [])
        assert r["language_search"]["searchable"] == 12 and r["language_search"]["blind"] == 0
        assert r["forest_rebalanced"] and r["summaries_written"] > 0
        again = caption_backlog(mem, up, models=models_for(up, minilm), progress=False)
        assert (again["backlog"], again["attempted"]) == (0, 0) and len(srv.requests) == 12

    with Memory(mem, Config(), writable=False) as m:
        info = inspect_memory(m)
        assert m.forest.check() == []
        assert all(kf.caption for kf in m.keyframes.values())
        root = m.forest.root
        assert root is not None and not any(n.dirty for n in m.forest.nodes.values()) and root.summary
    assert info["caption_backlog"] == {"keyframes": 0, "failed_before": 0}
    assert info["language_search"]["searchable"] == 12
    assert info["objects"]["instances"] == 12  # each caption's box became an object observation (none before)
    with reader as m:
        assert m.refresh()
        drink = m.ask("where can I get a drink?")
        kf = m.memory.keyframes[int(drink.evidence[0].split(":")[1])]
        assert "vending machine" in kf.caption and drink.goal is not None, drink.answer
        fridge = m.ask("take me to the fridge")
        assert fridge.goal is not None and fridge.goal.position[0] < 10.0  # the kitchen is the first room, x < 10 m


def test_a_limited_run_leaves_the_rest_and_the_next_run_does_only_that(blind_walk, minilm):
    folder, mem, captions = blind_walk
    with ChatServer(NoModel(), vision=replay_vision(folder, captions)) as srv:
        config = captioner_config(srv.base_url, batch=4)
        first = caption_backlog(mem, config, models=models_for(config, minilm), limit=5, progress=False)
        assert (first["backlog"], first["attempted"], first["captioned"], first["remain"]) == (12, 5, 5, 7)
        second = caption_backlog(mem, config, models=models_for(config, minilm), progress=False)
        assert (second["backlog"], second["captioned"], second["remain"]) == (7, 7, 0)
        assert len(srv.requests) == 12  # no image was captioned twice


def _captioned(mem: Path) -> int:
    conn = sqlite3.connect(f"file:{mem / 'memory.sqlite'}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM keyframes WHERE caption != ''").fetchone()[0])
    finally:
        conn.close()


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embodied_rag", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_killed_caption_run_resumes_with_what_remains(blind_walk, tmp_path):
    folder, mem, captions = blind_walk
    with ChatServer(NoModel(), vision=replay_vision(folder, captions), vision_delay_s=0.4) as srv:
        cfg_file = tmp_path / "captioner.yaml"
        cfg_file.write_text(yaml.safe_dump({"ingest": {"embed_batch_size": 2}, "models": {"captioner": {
            "name": "openai", "model": "vlm", "base_url": srv.base_url, "retries": 0}}}))
        proc = subprocess.Popen([sys.executable, "-m", "embodied_rag", "caption", str(mem), "--config",
                                 str(cfg_file), "--json"], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _captioned(mem) < 4 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        done = _captioned(mem)
        assert 4 <= done < 12, done
        rerun = _cli("caption", str(mem), "--config", str(cfg_file), "--json")
        assert rerun.returncode == 0, rerun.stderr
        report = json.loads(rerun.stdout)
        assert (report["backlog"], report["captioned"], report["remain"]) == (12 - done, 12 - done, 0)
    assert _captioned(mem) == 12


def test_a_corrupt_stored_image_is_a_recorded_failure_and_the_rest_are_captioned(blind_walk, minilm):
    folder, mem, captions = blind_walk
    (mem / "images" / "00000003.jpg").write_bytes(b"this is not a JPEG")
    with ChatServer(NoModel(), vision=replay_vision(folder, captions)) as srv:
        config = captioner_config(srv.base_url)
        r = caption_backlog(mem, config, models=models_for(config, minilm), progress=False)
    assert (r["captioned"], r["failed"], r["remain"]) == (11, 1, 1)
    (failure,) = r["failures"]
    assert failure["keyframe"] == 3 and failure["attempts"] == 1 and "cannot be decoded" in failure["error"]
    shown = _cli("inspect", str(mem))
    assert shown.returncode == 0 and "caption backlog: 1 keyframes without captions (1 failed before)" in shown.stdout


def test_bad_inputs_are_one_sentence_errors(blind_walk, tmp_path):
    _, mem, _ = blind_walk
    missing = _cli("caption", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "is not a memory directory" in missing.stderr
    assert not (tmp_path / "nowhere").exists()  # not created by asking
    none = _cli("caption", str(mem))
    assert none.returncode == 2 and "models.captioner.name" in none.stderr
    for proc in (missing, none):
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    with pytest.raises(UserError, match="models.captioner"):
        caption_backlog(mem, Config(), progress=False)
    helptext = _cli("caption", "--help").stdout
    assert "Resumable" in helptext and "models.captioner" in helptext and "--limit" in helptext


def test_a_build_whose_captioner_was_down_records_the_failures(tmp_path, minilm):
    folder = write_tum_folder(tmp_path / "walk", n_per_room=1, image_size=(96, 72))
    (folder / "captions.jsonl").unlink()
    config = captioner_config(down_url())
    report = build_memory(folder, tmp_path / "mem", config, models=models_for(config, minilm), progress=False)
    assert report["language_search"]["blind"] == 4
    assert "models.captioner 'openai'" in report["language_search"]["why"]
    with Memory(tmp_path / "mem", config, writable=False) as m:
        failures = m.store.caption_failures()
    assert sorted(failures) == [1, 2, 3, 4] and all(n == 1 and "refused" in e for n, e in failures.values())


def test_a_schema_4_store_is_read_as_is_and_upgraded_by_a_writer(blind_walk):
    _, mem, _ = blind_walk
    conn = sqlite3.connect(mem / "memory.sqlite")
    conn.execute("DROP TABLE caption_attempts")
    conn.execute("UPDATE meta SET value='4' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with Memory(mem, Config(), writable=False) as m:
        assert inspect_memory(m)["caption_backlog"] == {"keyframes": 12, "failed_before": 0}
    with Memory(mem, Config()) as m:
        assert m.store.get_meta("schema_version") == str(SCHEMA_VERSION) == "6"
        assert m.record_caption_failure(1, "server down") == 1


def test_coex_lobby_built_without_captions_captioned_later_answers_like_a_captioned_build(tmp_path, minilm):
    """The user story: a robot with only a camera records the lobby; a captioner comes later."""
    from embodied_rag.retrieval.evaluate import evaluate, load_queries
    from embodied_rag.retrieval.retriever import Retriever

    src = dataset("coex_lobby")
    folder = tmp_path / "coex_camera_only"
    shutil.copytree(src / "images", folder / "images")
    for name in ("rgb.txt", "groundtruth.txt"):
        shutil.copy(src / name, folder / name)
    built = build_memory(folder, tmp_path / "mem", Config(), models=Models(text=minilm), progress=False)
    assert built["language_search"]["searchable"] == 0
    with ChatServer(NoModel(), vision=replay_vision(src, read_captions(src))) as srv:
        config = captioner_config(srv.base_url)
        r = caption_backlog(tmp_path / "mem", config, models=models_for(config, minilm), progress=False)
    assert (r["captioned"], r["failed"], r["remain"]) == (built["keyframes"], 0, 0)
    queries = load_queries(src.parent / "dev_queries.jsonl", "coex_lobby")
    with Memory(tmp_path / "mem", Config(), writable=False) as m:
        results = evaluate(Retriever(m, minilm, None), queries, ["beam"])
    assert results and all(x.success for x in results), [(x.query, x.detail) for x in results if not x.success]


@pytest.mark.ros
def test_the_memory_node_retries_the_backlog_until_its_captioner_is_back(blind_walk, minilm, monkeypatch):
    import rclpy
    from rclpy.parameter import Parameter

    from embodied_rag.ros.memory_node import MemoryNode

    folder, mem, captions = blind_walk
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=1 + (os.getpid() * 13 + 71) % 200)
    # The server is up but its model fails (HTTP 500) until it is switched to answering.
    with ChatServer(NoModel(), mode="error", vision=replay_vision(folder, captions)) as srv:
        config = captioner_config(srv.base_url, batch=4)
        params = [Parameter("memory_dir", value=str(mem)), Parameter("caption_backlog_period_s", value=0.3),
                  Parameter("models.captioner.name", value="openai"),
                  Parameter("models.captioner.base_url", value=srv.base_url),
                  Parameter("models.captioner.model", value="vlm"), Parameter("models.captioner.retries", value=0),
                  Parameter("ingest.embed_batch_size", value=4)]
        node = MemoryNode(context=ctx, parameter_overrides=params, models_factory=lambda c: models_for(config, minilm))
        try:
            deadline = time.monotonic() + 30
            while node.status()["caption_backlog"] != 12 and time.monotonic() < deadline:
                time.sleep(0.1)
            status = node.status()
            assert status["caption_backlog"] == 12 and status["captioned_later"] == 0, status
            assert status["not_searchable_by_language"] == 12
            srv.mode = "ok"
            deadline = time.monotonic() + 60
            while node.status()["caption_backlog"] != 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            status = node.status()
            assert status["captioned_later"] == 12 and status["caption_backlog"] == 0, status
            assert status["searchable_by_language"] == 12 and status["not_searchable_by_language"] == 0
        finally:
            node.close()
            node.destroy_node()
            rclpy.shutdown(context=ctx)
    with Memory(mem, Config(), writable=False) as m:
        assert all(kf.caption for kf in m.keyframes.values()) and m.store.caption_failures() == {}
