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
exec .venv/bin/python -m pytest "$@"
