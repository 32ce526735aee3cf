"""The README as a user follows it: every ``embodied-rag`` command in its bash blocks runs exactly as written, in
README order, and every Python example runs (the ROS client one against a real ``query_node``).

The commands run with bash in a scratch folder laid out like a checkout: ``.venv`` and ``config`` link to this
repository's, and ``../shared`` to the shared data sets. ``scripts/setup.sh`` and ``scripts/test.sh`` are what CI
runs around this test, so they are not run from here. Building cmu_streetview takes minutes, so the scratch
``memories/cmu`` starts as a copy of the session's build of the same recording: the README's ``build`` of it then
resumes (and must finish with the same memory). The README's demo run is also this suite's demo test. The fleet
(PostgreSQL) block runs whole, as one script, under ``-m slow``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import DATASETS, REPO
from ros_helpers import Proc, domain_for, ros_env

pytestmark = pytest.mark.ros

README = REPO / "README.md"
CLI = ".venv/bin/embodied-rag"
NOT_RUN_HERE = ("bash scripts/setup.sh", "bash scripts/test.sh")
# The "Fleet memory on PostgreSQL" block shares $URL between its lines: it runs whole, in the slow step (it starts a
# database server, builds two data sets into it at once and migrates cmu_streetview).
NEEDS_A_SERVER = ("$URL", "${URL", "db start", "db stop")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def commands() -> list[str]:
    """Every command line of the README's bash blocks that runs embodied-rag (setup/test parts of a line left out)."""
    out = []
    for block in blocks("bash"):
        for line in block.splitlines():
            if CLI not in line or any(marker in line for marker in NEEDS_A_SERVER):
                continue
            parts = [p.strip() for p in line.split("&&")]
            out.append(" && ".join(p for p in parts if not p.startswith(NOT_RUN_HERE)))
    return out


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, shared_memory) -> Path:
    if not DATASETS.is_dir():
        pytest.skip("the README's examples read ../shared/datasets, which is absent")
    root = tmp_path_factory.mktemp("readme")
    work = root / "work"
    work.mkdir()
    (work / ".venv").symlink_to(REPO / ".venv")
    (work / "config").symlink_to(REPO / "config")
    (root / "shared").symlink_to(DATASETS.parent)
    (work / "memories").mkdir()
    shutil.copytree(shared_memory("cmu_streetview"), work / "memories" / "cmu")
    return work


@pytest.fixture(scope="module")
def ran(sandbox) -> list[tuple[str, subprocess.CompletedProcess, float]]:
    """(command, its process, seconds) for every README command, run in README order."""
    env = ros_env(domain_for(61))
    results = []
    for command in commands():
        t0 = time.monotonic()
        proc = subprocess.run(["bash", "-c", command], cwd=sandbox, env=env, capture_output=True, text=True,
                              timeout=900)
        results.append((command, proc, time.monotonic() - t0))
    return results


def test_the_readme_has_the_commands_a_user_needs():
    cmds = commands()
    for needed in ("demo --out demo_out", "build ../shared", "query memories/cmu", "--from -300,300", "--file -",
                   "inspect", "eval", "convert", "forest", "viz", "offline_llm.yaml", "bench", "caption memories",
                   "models list"):
        assert any(needed in c for c in cmds), needed


def test_every_command_runs_as_written(ran):
    failed = [f"{c}\n  exit {p.returncode}: {p.stderr.strip()[-600:]}" for c, p, _ in ran if p.returncode != 0]
    assert not failed, "\n".join(failed)
    for command, proc, _ in ran:
        assert "Traceback" not in proc.stderr, command


def test_json_outputs_parse_and_carry_the_fields_the_readme_points_at(ran):
    for command, proc, _ in ran:
        if "--json" in command:
            value = json.loads(proc.stdout)
            for field in re.findall(r"#\s*\.(\w+)", command):  # "# .count" says the reply has a count
                assert value.get(field) is not None, f"{command}: no {field} in {proc.stdout[:400]}"
        if "--file -" in command:
            lines = [json.loads(x) for x in proc.stdout.splitlines()]
            assert len(lines) == 2 and all(x["question"] and x["answer"] for x in lines), proc.stdout


def test_the_cmu_build_resumed_and_answers_with_a_goal(ran):
    (build,) = [p for c, p, _ in ran if "build ../shared/datasets/cmu_streetview" in c]
    assert "0 new keyframes from 0 frames" in build.stdout and "3313 keyframes in 1 session" in build.stdout, \
        build.stdout
    (query,) = [p for c, p, _ in ran if "--from -300,300" in c]
    assert "goal (map)" in query.stdout, query.stdout


def test_the_demo_runs_end_to_end_through_ros_and_leaves_the_map(ran, sandbox):
    (demo,) = [p for c, p, _ in ran if " demo " in f"{c} "]
    for step in ("[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]"):
        assert step in demo.stdout
    m = re.search(r"done: (\d+) keyframes .*; (\d+)/(\d+) answers correct", demo.stdout)
    assert m, demo.stdout[-2000:]
    keyframes, correct, asked = (int(g) for g in m.groups())
    assert keyframes > 30 and asked >= 5 and correct >= asked // 2
    out = sandbox / "demo_out"
    assert (out / "map.png").stat().st_size > 10_000
    page = (out / "map.html").read_text()
    assert "<svg" in page and "Areas of the semantic forest" in page and "Q1" in page


@pytest.mark.slow
def test_the_fleet_block_runs_as_written(shared_memory):
    """The README's PostgreSQL block, as one script: a local server, two robots building into it at once, the
    fleet-wide and one robot's question with a goal, migrate, stop."""
    if not DATASETS.is_dir():
        pytest.skip("the README's examples read ../shared/datasets, which is absent")
    (block,) = [b for b in blocks("bash") if "db start" in b]
    # Not under pytest's private tmp dir: as root the server runs as 'postgres', which must reach pgdata.
    root = Path(tempfile.mkdtemp(prefix="embodied_rag_readme_pg_"))
    os.chmod(root, 0o755)
    work = root / "work"
    (work / "memories").mkdir(parents=True)
    (work / ".venv").symlink_to(REPO / ".venv")
    (work / "config").symlink_to(REPO / "config")
    (root / "shared").symlink_to(DATASETS.parent)
    shutil.copytree(shared_memory("cmu_streetview"), work / "memories" / "cmu")
    try:
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=work, env=ros_env(domain_for(63)),
                              capture_output=True, text=True, timeout=1200)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
        out = proc.stdout
        assert "alpha" in out and "beta" in out, out[-3000:]  # inspect lists both robots
        assert out.count("goal (map)") == 2, out[-3000:]  # the fleet's answer and alpha's
        assert "3313" in out, out[-3000:]  # migrate copied every keyframe of cmu_streetview
    finally:
        subprocess.run([str(work / CLI), "db", "stop", "--dir", str(work / "pgdata")], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_python_examples_run(ran, sandbox, tmp_path):
    examples = blocks("python")
    assert len(examples) >= 2
    domain = domain_for(62)
    env = ros_env(domain)
    for i, code in enumerate(examples):
        script = tmp_path / f"example_{i}.py"
        script.write_text(code)
        server = None
        if "EmbodiedRagClient" in code:
            server = Proc([str(Path(sys.executable).parent / "query_node"), "--ros-args", "-p",
                           f"memory_dir:={sandbox / 'memories' / 'coex'}"], tmp_path / f"query_node_{i}.log", env)
        try:
            proc = subprocess.run([".venv/bin/python", str(script)], cwd=sandbox, env=env, capture_output=True,
                                  text=True, timeout=300)
        finally:
            if server is not None:
                server.stop()
        assert proc.returncode == 0, f"example {i}:\n{code}\n{proc.stderr[-2000:]}"
        if "EmbodiedRagClient" in code:
            assert "sent by goal_pose" in proc.stdout and "I recognise this place" in proc.stdout, proc.stdout
        else:
            assert "Goal(frame_id='map'" in proc.stdout, proc.stdout
