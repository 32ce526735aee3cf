"""The README's ROS 2 workspace commands build both packages with colcon (the repo root is a package, so colcon
does not crawl into embodied_rag_msgs by itself: the README names both base paths)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)


@pytest.mark.skipif(shutil.which("colcon", path=str(VENV / "bin")) is None, reason="colcon is not installed")
def test_colcon_builds_both_packages(tmp_path):
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        dst = ws / "src" / "embodied_rag" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / rel).is_file():
            shutil.copy2(REPO / rel, dst)
    # Only for this venv-based machine: a ROS install would have sourced /opt/ros/<distro>/setup.bash instead.
    env = {**os.environ, "AMENT_PREFIX_PATH": str(VENV), "CMAKE_PREFIX_PATH": str(VENV),
           "PATH": f"{VENV / 'bin'}:{os.environ['PATH']}"}
    cmd = [str(VENV / "bin" / "colcon"), "build", "--base-paths", "src/embodied_rag",
           "src/embodied_rag/embodied_rag_msgs", "--cmake-args", "-DBUILD_TESTING=OFF",
           f"-DPython3_EXECUTABLE={VENV / 'bin' / 'python'}"]
    proc = subprocess.run(cmd, cwd=ws, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "2 packages finished" in proc.stdout
    install = ws / "install"
    for exe in ("memory_node", "query_node", "embodied_rag_node", "embodied-rag"):
        assert (install / "embodied_rag" / "lib" / "embodied_rag" / exe).is_file()
    assert (install / "embodied_rag" / "share" / "embodied_rag" / "config" / "default.yaml").is_file()
    assert list((install / "embodied_rag_msgs").rglob("_query.py"))  # generated Python for srv/Query.srv
