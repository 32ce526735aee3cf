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
                        "duration_s", "count", "yes_no"}
    assert ans["kind"] == "find" and ans["goal"]["frame_id"] == "map"
    assert 40.0 <= ans["goal"]["position"][0] <= 46.0  # the lobby with the vending machine
    assert len(ans["goal"]["orientation"]) == 4 and ans["llm_calls"] == 0
    assert ans["evidence"][0].startswith("kf:")


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
