#!/usr/bin/env bash
# One command to set up embodied_rag on a fresh Debian/Ubuntu machine (no ROS install needed):
#   * Debian packages open3d and the interface build need,
#   * .venv at the repository root from requirements.txt pinned by constraints.txt
#     (ROS 2 Jazzy wheels, torch 2.14.1 / torchvision 0.29.1, open_clip, transformers, packaged offline models;
#     all wheels: nothing is compiled but the interface package),
#   * embodied_rag_msgs built with CMake from the ROS wheels and installed into .venv,
#   * this package installed editable.
# Opt-in: --with-llama-cpp (or EMBODIED_RAG_WITH_LLAMA_CPP=1) also builds llama-cpp-python (~14 min on 2 cores, once:
# the wheel is cached in ${XDG_CACHE_HOME:-~/.cache}/embodied_rag/wheels) for the llama_cpp LLM backend. Without it
# the packaged SmolLM2 runs on transformers (models.llm.backend auto/transformers).
# Idempotent: each step is skipped when its inputs did not change, so a second run takes seconds.
set -euo pipefail

WITH_LLAMA="${EMBODIED_RAG_WITH_LLAMA_CPP:-0}"
for arg in "$@"; do
  case "$arg" in
    --with-llama-cpp) WITH_LLAMA=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (known: --with-llama-cpp)" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EMBODIED_RAG_VENV:-$ROOT/.venv}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/embodied_rag"
WHEELS="$CACHE/wheels"
STAMPS="$VENV/.embodied_rag_stamps"
PY="${PYTHON:-python3}"
LLAMA_VERSION="$(grep -i '^llama[-_]cpp[-_]python==' "$ROOT/constraints.txt" | cut -d= -f3)"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; echo "$2" > "$STAMPS/$1"; }

# 1. Debian packages (open3d needs libusb and libgomp; the interface build needs cmake and g++).
missing=()
for pkg in libusb-1.0-0 libgomp1 cmake g++ python3-venv; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. The virtual environment and pinned requirements.
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
PIP=("$VENV/bin/pip" install -q --disable-pip-version-check)
req_hash="$(hash_of "$ROOT/requirements.txt" "$ROOT/requirements-nodeps.txt" "$ROOT/constraints.txt")"
if ! stamp_ok requirements "$req_hash"; then
  say "installing Python requirements (a few minutes the first time)"
  "${PIP[@]}" --prefer-binary -c "$ROOT/constraints.txt" -r "$ROOT/requirements.txt"
  # Packages used for their data only; their declared dependencies would compile llama-cpp-python.
  "${PIP[@]}" --no-deps -c "$ROOT/constraints.txt" -r "$ROOT/requirements-nodeps.txt"
  stamp_set requirements "$req_hash"
fi

# 2b. Opt-in: llama-cpp-python (compiled once, wheel cached) for models.llm.backend llama_cpp.
if [ "$WITH_LLAMA" = 1 ] && ! stamp_ok llama "$LLAMA_VERSION-$req_hash"; then
  [ -n "$LLAMA_VERSION" ] || { say "constraints.txt pins no llama_cpp_python version"; exit 1; }
  mkdir -p "$WHEELS"
  if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
    say "building llama-cpp-python $LLAMA_VERSION once (~14 min on 2 cores; the wheel is cached in $WHEELS)"
    "$VENV/bin/pip" wheel -q --no-deps "llama-cpp-python==$LLAMA_VERSION" -w "$WHEELS"
  fi
  "${PIP[@]}" --find-links "$WHEELS" -c "$ROOT/constraints.txt" "llama-cpp-python==$LLAMA_VERSION"
  stamp_set llama "$LLAMA_VERSION-$req_hash"
fi

# 3. embodied_rag_msgs from the ROS wheels. Their exported CMake files name the wheel builder's interpreter paths:
#    point them at this venv's Python headers and numpy.
msgs_hash="$(hash_of "$ROOT"/embodied_rag_msgs/CMakeLists.txt "$ROOT"/embodied_rag_msgs/package.xml \
  "$ROOT"/embodied_rag_msgs/msg/* "$ROOT"/embodied_rag_msgs/srv/*)-$req_hash"
if ! stamp_ok msgs "$msgs_hash" || ! "$VENV/bin/python" -c "import embodied_rag_msgs.srv" 2>/dev/null; then
  say "building embodied_rag_msgs (about 30 s)"
  py_inc="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  np_inc="$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')"
  { grep -rlZ --include='*.cmake' -e '/opt/python/cp311-cp311' "$VENV/share" 2>/dev/null || true; } | xargs -0 -r sed -i \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_inc#g" \
    -e "s#/opt/python/cp311-cp311/include/python3.11#$py_inc#g"
  build="$ROOT/build/embodied_rag_msgs"
  rm -rf "$build"; mkdir -p "$build"
  export AMENT_PREFIX_PATH="$VENV"
  cmake -S "$ROOT/embodied_rag_msgs" -B "$build" -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
    -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF >"$build.log" 2>&1 \
    && cmake --build "$build" -j2 >>"$build.log" 2>&1 && cmake --install "$build" >>"$build.log" 2>&1 \
    || { say "embodied_rag_msgs failed to build; see $build.log"; tail -20 "$build.log"; exit 1; }
  "$VENV/bin/python" -c "import embodied_rag_msgs.srv, embodied_rag_msgs.msg" \
    || { say "embodied_rag_msgs built but does not import"; exit 1; }
  stamp_set msgs "$msgs_hash"
fi

# 4. This package, editable (console scripts embodied-rag, memory_node, query_node in .venv/bin).
pkg_hash="$(hash_of "$ROOT/setup.py" "$ROOT/setup.cfg" "$ROOT/package.xml")"
if ! stamp_ok package "$pkg_hash" || [ ! -x "$VENV/bin/embodied-rag" ]; then
  say "installing embodied_rag (editable)"
  "${PIP[@]}" --no-deps --no-build-isolation -e "$ROOT"
  stamp_set package "$pkg_hash"
fi

say "ready: $VENV (try: .venv/bin/embodied-rag --help)"
