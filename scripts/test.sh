#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite. Exits non-zero on any failure.
#
#   scripts/test.sh              Release build in build/
#   scripts/test.sh --sanitize   the same suite built with AddressSanitizer and
#                                UndefinedBehaviorSanitizer in build-sanitize/: any memory error,
#                                leak or undefined behaviour fails the test that caused it
set -euo pipefail
cd "$(dirname "$0")/.."
configure=()
if [ "${1:-}" = --sanitize ]; then
  export CHARNN_BUILD_DIR=${CHARNN_BUILD_DIR:-build-sanitize}
  # Without MPI: Open MPI's own start-up would be sanitized too (its allocations live until
  # exit). The ranks' code is tested under mpirun by the Release suite (tests/test_ranks.cpp).
  configure=(-DCHARNN_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHARNN_MPI=OFF)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  shift
fi
[ $# -eq 0 ] || { echo "usage: scripts/test.sh [--sanitize]" >&2; exit 2; }
scripts/install-deps.sh
scripts/build.sh "${configure[@]}"
cd "${CHARNN_BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)"
