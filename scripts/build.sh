#!/usr/bin/env bash
# Configures and builds charnn in Release into build/ (or $CHARNN_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${CHARNN_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
