"""The command line as a user runs it: real processes, real files, one-sentence errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "embodied_rag", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)


def one_line_error(proc: subprocess.CompletedProcess, pattern: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and pattern in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    from conftest import write_tum_folder

    root = tmp_path_factory.mktemp("cli")
    folder = write_tum_folder(root / "walk")
    proc = cli("build", str(folder), "--out", str(root / "mem"), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["new_keyframes"] == 24 and report["forest_levels"] >= 2
    return root / "mem"


def test_help_explains_every_command():
    proc = cli("--help")
    assert proc.returncode == 0
    for word in ("build", "inspect", "query", "eval", "convert", "forest"):
        assert word in proc.stdout


def test_inspect_json(built):
    proc = cli("inspect", str(built), "--json")
    info = json.loads(proc.stdout)
    assert info["keyframes"] == 24 and info["with_caption"] == 24 and info["with_image"] == 24
    assert info["models"]["text_embedder"].startswith("minilm")
    assert info["forest"]["dirty"] == 0 and info["forest"]["root"]["summary"]


def test_query_json_shape_and_goal(built):
    proc = cli("query", str(built), "where can I get a drink?", "--json")
    assert proc.returncode == 0, proc.stderr
    ans = json.loads(proc.stdout)
    assert set(ans) == {"answer", "kind", "goal", "evidence", "level", "llm_calls", "latency_ms", "object", "time",
                        "duration_s", "count", "yes_no", "confidence"}
    assert ans["kind"] == "find" and ans["goal"]["frame_id"] == "map"
    assert 40.0 <= ans["goal"]["position"][0] <= 46.0  # the lobby with the vending machine
    assert len(ans["goal"]["orientation"]) == 4 and ans["llm_calls"] == 0
    assert ans["evidence"][0].startswith("kf:")


def test_questions_on_stdin_are_answered_as_they_come(built):
    """``query --file -`` opens the memory once and answers each line before reading the next (a large memory
    takes minutes to open: one reader for many questions)."""
    import threading

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "embodied_rag", "query", str(built), "--file", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(120, proc.kill)  # an answer that waits for the end of stdin would hang here
    watchdog.start()
    try:
        proc.stdin.write("where can I get a drink?\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())  # stdin is still open
        assert first["question"] == "where can I get a drink?" and first["goal"]["frame_id"] == "map"
        proc.stdin.write("\n# not a question\ndescribe the whole building\n")
        proc.stdin.close()
        rest = [json.loads(line) for line in proc.stdout.read().splitlines()]
        assert [r["question"] for r in rest] == ["describe the whole building"] and rest[0]["answer"]
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        watchdog.cancel()
        proc.kill()


def test_query_explain_and_from(built):
    proc = cli("query", str(built), "describe the whole building", "--json")
    ans = json.loads(proc.stdout)
    assert ans["kind"] == "explain" and ans["goal"] is None and ans["level"] >= 2
    proc = cli("query", str(built), "where is a sink?", "--from", "65,0", "--json")
    ans = json.loads(proc.stdout)
    assert ans["goal"]["position"][0] > 55.0  # the bathroom sink is nearer than the kitchen sink
    # Negative map coordinates are values, not options.
    proc = cli("query", str(built), "where is a sink?", "--from", "-5,0", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["goal"]["position"][0] < 30.0  # now the kitchen sink is nearer


def test_user_errors_are_one_sentence(built, tmp_path):
    one_line_error(cli("build", str(tmp_path / "nope"), "--out", str(tmp_path / "m")), "does not exist")
    one_line_error(cli("query", str(tmp_path / "nomem"), "hello"), "not a memory directory")
    one_line_error(cli("query", str(built), "   "), "query is empty")
    one_line_error(cli("query", str(built), "x" * 5000), "limit is 2000")
    one_line_error(cli("query", str(built), "sink", "--from", "a,b"), "--from must be")
    bad = tmp_path / "bad.yaml"
    bad.write_text("forest:\n  levels: 3\n")
    one_line_error(cli("build", str(built), "--out", str(tmp_path / "m"), "--config", str(bad)), "Unknown config key")


# -- query by image and never silently blind --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def camera_only(tmp_path_factory) -> tuple[Path, Path]:
    """A recording of textured places with poses and images but no captions (a robot with only a camera), built."""
    import cv2
    from test_place_recognition import textured

    root = tmp_path_factory.mktemp("camera_only")
    folder = root / "walk"
    (folder / "images").mkdir(parents=True)
    rgb, gt = ["# timestamp filename"], ["# timestamp tx ty tz qx qy qz qw"]
    for i in range(8):
        t = 1000.0 + 2.0 * i
        cv2.imwrite(str(folder / "images" / f"{i:05d}.jpg"), cv2.cvtColor(textured(300 + i), cv2.COLOR_RGB2BGR))
        rgb.append(f"{t:.6f} images/{i:05d}.jpg")
        gt.append(f"{t:.6f} {2.0 * i} 0.0 1.0 -0.5 0.5 -0.5 0.5")
    (folder / "rgb.txt").write_text("\n".join(rgb) + "\n")
    (folder / "groundtruth.txt").write_text("\n".join(gt) + "\n")
    proc = cli("build", str(folder), "--out", str(root / "mem"))
    assert proc.returncode == 0, proc.stderr
    # build says that words cannot find these keyframes, why, and what fixes it
    assert "searchable by words: 0 of 8 keyframes" in proc.stdout
    assert "warning: 8 keyframes have no caption and no image embedding" in proc.stderr
    assert "models.captioner" in proc.stderr and "--image" in proc.stderr
    return folder, root / "mem"


def test_query_by_image_gives_the_place_goal_and_confidence(camera_only):
    folder, mem = camera_only
    proc = cli("query", str(mem), "--image", str(folder / "images" / "00005.jpg"), "--json")
    assert proc.returncode == 0, proc.stderr
    ans = json.loads(proc.stdout)
    assert ans["kind"] == "find" and ans["evidence"][0] == "kf:6" and ans["confidence"] > 0.9
    assert ans["goal"]["frame_id"] == "map" and ans["goal"]["position"][:2] == pytest.approx([10.0, 0.0])
    text = cli("query", str(mem), "--image", str(folder / "images" / "00002.jpg"), "take me where this was taken")
    assert text.returncode == 0 and "I recognise this place" in text.stdout and "confidence" in text.stdout


def test_words_on_a_memory_of_uncaptioned_images_say_why(camera_only):
    _, mem = camera_only
    proc = cli("query", str(mem), "where can I get a drink?", "--json")
    assert proc.returncode == 0, proc.stderr
    ans = json.loads(proc.stdout)
    assert ans["answer"].startswith("I hold 8 images without captions or image embeddings") and ans["goal"] is None
    info = json.loads(cli("inspect", str(mem), "--json").stdout)
    assert info["language_search"]["blind_with_image"] == 8 and info["place_index"]["descriptors"] == 8
    human = cli("inspect", str(mem))
    assert "searchable by words: 0 of 8 keyframes" in human.stdout and "query by image: 8 of 8" in human.stdout


def test_query_by_image_bad_inputs_are_one_sentence_errors(camera_only, tmp_path, built):
    import cv2
    import numpy as np

    _, mem = camera_only
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"garbage" * 50)
    cv2.imwrite(str(tmp_path / "tiny.png"), np.zeros((8, 8, 3), np.uint8))
    from PIL import Image

    Image.new("1", (12000, 6000)).save(tmp_path / "huge.png")
    for name, pattern in (("empty.jpg", "is empty"), ("corrupt.jpg", "cannot be decoded"),
                          ("tiny.png", "too small"), ("huge.png", "too large"), ("missing.jpg", "does not exist")):
        one_line_error(cli("query", str(mem), "--image", str(tmp_path / name)), pattern)
    one_line_error(cli("query", str(mem), "--image", str(tmp_path / "tiny.png"), "--file", "-"), "not both")
    # The example walk kept its images: the memory without images is one built with store.save_images false.
    cfg = tmp_path / "no_images.yaml"
    cfg.write_text("store:\n  save_images: false\n")
    from conftest import write_tum_folder

    folder = write_tum_folder(tmp_path / "walk")
    assert cli("build", str(folder), "--out", str(tmp_path / "noimg"), "--config", str(cfg)).returncode == 0
    one_line_error(cli("query", str(tmp_path / "noimg"), "--image", str(folder / "images" / "00001.jpg")),
                   "holds no images")
