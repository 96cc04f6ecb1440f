#!/usr/bin/env bash
# Proves that an installed charnn is enough to write a cell plugin: installs a built tree into a
# temporary prefix, builds the out-of-tree plugin project tests/consumer against it with
# find_package(charnn), loads the result with the INSTALLED charnn program, installs the plugin
# beside the built-in cells and checks charnn then finds it with no --plugin. On the way it runs
# the installed `charnn check-cell` on it, and trains a model of it, resumes, samples and
# inspects, as a cell author would. When the tree's test
# program exists, it also runs the generic cell checks (finite-difference gradients, step and trace
# against forward) on the new plugin.
#   scripts/check-install.sh [BUILD_DIR]    (default: $CHARNN_BUILD_DIR or build)
#   CHARNN_CHECK_INSTALL_CELL_TESTS=0        skip the generic cell checks
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
build=${1:-${CHARNN_BUILD_DIR:-build}}
[ -d "$build" ] || { echo "check-install: no build directory '$build'" >&2; exit 1; }
build=$(cd "$build" && pwd)
if [ ! -f "$build/CMakeCache.txt" ] || [ ! -x "$build/bin/charnn" ]; then
  echo "check-install: $build is not a built charnn tree; run scripts/build.sh first" >&2
  exit 1
fi

# The layout under the prefix follows the build's GNUInstallDirs choice (lib, lib64, lib/<arch>).
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build/CMakeCache.txt")
libdir=${libdir:-lib}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/charnn-check-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
step() { echo "check-install: $*"; }
fail() { echo "check-install: FAILED: $*" >&2; exit 1; }

step "installing $build into a temporary prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log" >&2; fail "cmake --install"; }

step "building tests/consumer against it with find_package(charnn)"
# Only the prefix may satisfy find_package: no package registry, no build tree.
cmake -S "$src/tests/consumer" -B "$tmp/consumer" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_INSTALL_PREFIX="$tmp/unused" >"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log" >&2; fail "configuring the consumer"; }
found=$(sed -n 's/^charnn_DIR:PATH=//p' "$tmp/consumer/CMakeCache.txt")
[ "$found" = "$prefix/$libdir/cmake/charnn" ] || fail "find_package(charnn) found '$found', not the installed package"
cmake --build "$tmp/consumer" >>"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log" >&2; fail "building the consumer"; }
plugin=$tmp/consumer/charnn-cell-leaky_tanh.so
[ -f "$plugin" ] || fail "the consumer did not produce $plugin"

# The installed program must run from the prefix alone, not from libraries in the build tree.
lib=$(ldd "$prefix/bin/charnn" | sed -n 's/.*libcharnn\.so[^ ]* => \([^ ]*\).*/\1/p')
case "$lib" in "$prefix"/*) ;; *) fail "the installed charnn uses libcharnn from '$lib'" ;; esac

step "running its own CTest smoke test (uses CHARNN_EXECUTABLE from the package)"
(cd "$tmp/consumer" && env -u CHARNN_PLUGIN_PATH ctest --output-on-failure >>"$tmp/consumer.log" 2>&1) \
  || { cat "$tmp/consumer.log" >&2; fail "the consumer's ctest"; }

step "loading it with the installed charnn"
out=$(env -u CHARNN_PLUGIN_PATH "$prefix/bin/charnn" cells --verbose --plugin "$plugin" --input 5 --hidden 3) \
  || { echo "$out" >&2; fail "charnn cells --plugin"; }
echo "$out" | sed 's/^/  | /'
grep -qxF "leaky_tanh 1.0.0  $plugin" <<<"$out" || fail "leaky_tanh is not listed"
grep -qF "params   w_x (5, 3), w_h (3, 3), b (3)  = 27 floats" <<<"$out" || fail "wrong leaky_tanh shapes"
grep -qF "built-in            $prefix/$libdir/charnn/plugins" <<<"$out" || fail "the installed charnn does not search its own plugin directory"
for lib in "$prefix"/lib/charnn/plugins/*.so; do
  [ -e "$lib" ] || fail "no built-in cells were installed"
  grep -qF "  $lib" <<<"$out" || fail "the installed built-in $lib is not listed"
done
grep -qxF "Skipped: none" <<<"$out" || fail "the installed charnn skipped a library"

step "checking it with the installed charnn check-cell"
env -u CHARNN_PLUGIN_PATH "$prefix/bin/charnn" check-cell --plugin "$plugin" >"$tmp/check-cell.log" 2>&1 \
  || { cat "$tmp/check-cell.log" >&2; fail "charnn check-cell --plugin"; }
tail -n 1 "$tmp/check-cell.log" | sed 's/^/  | /'

# exercise PLUGIN CELL: what a cell author does with a new cell, with the installed charnn.
exercise() {
  local plugin=$1 cell=$2 run=$tmp/run-$2 log=$tmp/use-$2.log
  use() { env -u CHARNN_PLUGIN_PATH "$prefix/bin/charnn" "$@" --plugin "$plugin" >>"$log" 2>&1 \
            || { cat "$log" >&2; fail "charnn $*"; }; }
  step "training a $cell model, resuming, sampling and inspecting"
  local corpus=$src/corpora/tiny/english.txt
  use train "$corpus" --cell "$cell" --hidden 16 --max-iters 20 --seq-len 16 --batch 4 \
    --eval-every 10 --split 0.8,0.2,0 --out "$run" --progress plain
  use train --resume "$run" --max-iters 30 --progress plain
  grep -q "^30," "$run/metrics.csv" || fail "the resumed $cell run did not reach iteration 30"
  use sample --model "$run" --seed "The " --length 40 --random-seed 1
  use inspect --model "$run" --text "$corpus" --html "$run/report.html"
  [ -s "$run/report.html" ] || fail "inspect wrote no report for $cell"
}
exercise "$plugin" leaky_tanh

for dir in "$src"/examples/cells/*/; do
  name=$(basename "$dir")
  [ -f "$dir/CMakeLists.txt" ] || continue
  step "building examples/cells/$name against the installed package"
  cmake -S "$dir" -B "$tmp/example-$name" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$tmp/example-$name.log" 2>&1 &&
    cmake --build "$tmp/example-$name" >>"$tmp/example-$name.log" 2>&1 \
    || { cat "$tmp/example-$name.log" >&2; fail "building examples/cells/$name"; }
  example=$tmp/example-$name/charnn-cell-$name.so
  (cd "$tmp/example-$name" && env -u CHARNN_PLUGIN_PATH ctest --output-on-failure >>"$tmp/example-$name.log" 2>&1) \
    || { cat "$tmp/example-$name.log" >&2; fail "examples/cells/$name's ctest (check-cell)"; }
  env -u CHARNN_PLUGIN_PATH "$prefix/bin/charnn" check-cell --plugin "$example" | tail -n 1 | sed 's/^/  | /'
  exercise "$example" "$name"
done

step "installing the plugin beside the built-in cells"
cmake --install "$tmp/consumer" >>"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log" >&2; fail "installing the consumer"; }
out=$(env -u CHARNN_PLUGIN_PATH "$prefix/bin/charnn" cells --input 5 --hidden 3)
grep -qxF "leaky_tanh 1.0.0  $prefix/$libdir/charnn/plugins/charnn-cell-leaky_tanh.so" <<<"$out" \
  || { echo "$out" >&2; fail "the installed plugin is not found without --plugin"; }

if [ "${CHARNN_CHECK_INSTALL_CELL_TESTS:-1}" != 0 ] && [ -x "$build/bin/charnn_tests" ]; then
  step "running the generic cell checks on leaky_tanh"
  # The checks that run on every plugin found (the built-in cells are checked too).
  CHARNN_PLUGIN_PATH="$tmp/consumer" "$build/bin/charnn_tests" "every cell plugin*" >"$tmp/cells.log" 2>&1 \
    || { cat "$tmp/cells.log" >&2; fail "the generic cell checks"; }
  tail -n 2 "$tmp/cells.log" | sed 's/^/  | /'
fi
step "ok"
