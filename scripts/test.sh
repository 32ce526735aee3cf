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
# Two workers by default (EMBODIED_RAG_TEST_WORKERS=0 runs in this process): many tests wait on child processes
# and ROS discovery, so two keep both cores busy. test/conftest.py schedules the tests: one worker
# per module, the shared data sets build first, a run of only slow tests one test at a time.
WORKERS="${EMBODIED_RAG_TEST_WORKERS:-2}"
XDIST=()
[ "$WORKERS" != 0 ] && XDIST=(-n "$WORKERS" --dist loadscope --no-loadscope-reorder)
exec .venv/bin/python -m pytest "${XDIST[@]}" "$@"
