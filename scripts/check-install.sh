#!/usr/bin/env bash
# Proves that an installed charnn is enough to write a cell plugin: installs a built tree into a
# temporary prefix, builds the out-of-tree plugin project tests/consumer against it with
# find_package(charnn), loads the result with the INSTALLED charnn program, installs the plugin
# beside the built-in cells and checks charnn then finds it with no --plugin. When the tree's test
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
