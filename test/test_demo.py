"""The README's main command: the demo runs end to end through real ROS 2 processes and leaves the map."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.ros


def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "embodied_rag", "demo", "--out", str(out), "--rooms", "4",
                           "--rate", "6"], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for step in ("[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]"):
        assert step in proc.stdout
    m = re.search(r"done: (\d+) keyframes .*; (\d+)/(\d+) answers correct", proc.stdout)
    assert m, proc.stdout[-2000:]
    keyframes, correct, asked = (int(g) for g in m.groups())
    assert keyframes > 30 and asked >= 5 and correct >= asked // 2
    assert (out / "map.png").stat().st_size > 10_000
    page = (out / "map.html").read_text()
    assert "<svg" in page and "Areas of the semantic forest" in page and "Q1" in page
    assert (out / "memory" / "memory.sqlite").is_file()
