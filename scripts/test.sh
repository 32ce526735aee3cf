#!/usr/bin/env bash
# Runs the whole test suite (the README's test command; .ci/run calls exactly this after scripts/setup.sh).
# DDS discovery stays on this machine; model hubs are never contacted.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export AMENT_PREFIX_PATH="$ROOT/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
.venv/bin/ruff check embodied_rag test scripts launch
# `-m "not slow"` runs on two pytest-xdist workers (EMBODIED_RAG_TEST_WORKERS sets how many; 0: this process):
# many tests wait on child processes and ROS discovery, so two keep both cores busy; test/conftest.py schedules one
# worker per module, the shared data sets first. Anything that includes the slow (fault and load) tests runs in
# this process, one test at a time, as their timings assume: under an xdist worker the 50-client load test lost a
# reply (twice); in a plain pytest process it does not.
WORKERS=0
prev=""
for arg in "$@"; do
  [ "$prev" = "-m" ] && [ "$arg" = "not slow" ] && WORKERS="${EMBODIED_RAG_TEST_WORKERS:-2}"
  prev="$arg"
done
XDIST=()
[ "$WORKERS" != 0 ] && XDIST=(-n "$WORKERS" --dist loadscope --no-loadscope-reorder)
exec .venv/bin/python -m pytest "${XDIST[@]}" "$@"
