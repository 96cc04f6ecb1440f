#!/usr/bin/env bash
# Damages copies of a built plugin at random and asks charnn to load each one: every copy must be
# loaded or skipped with a reason (exit 0 or 1), never crash the program (exit 128 + signal).
#
#   scripts/attack-plugins.sh [COPIES] [SEED]     default 400 copies, seed 1
#   BUILD=build          the build tree whose bin/charnn and lstm plugin are attacked
#
# Each copy gets 1 to 4 random bytes changed; one in eight is also cut short at a random length.
# Prints counts per outcome and the reasons given most often; exits 1 if any copy crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-400}
RANDOM=${2:-1}
build=$(realpath "${BUILD:-build}")
plugin="$build/lib/charnn/plugins/charnn-cell-lstm.so"
[ -x "$build/bin/charnn" ] && [ -f "$plugin" ] || { echo "attack-plugins: build first (scripts/build.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The program copied beside an empty built-in plugin directory, so the damaged copy is the only
# 'lstm' it finds (otherwise every copy would be refused as a duplicate name).
mkdir -p "$work/tree/bin" "$work/tree/lib/charnn/plugins"
cp "$build/bin/charnn" "$work/tree/bin/charnn"
bin="$work/tree/bin/charnn"
export LD_LIBRARY_PATH="$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$bin" cells --plugin "$plugin" >/dev/null || { echo "attack-plugins: the intact plugin does not load" >&2; exit 1; }
size=$(stat -c %s "$plugin")
# Every draw in this shell: a subshell ($(...)) reseeds RANDOM, and the damage would not follow
# the seed (bash 5.2 damaged different bytes on every run, and one CI run in four crashed).
big_random() { pick=$(( (RANDOM << 15 | RANDOM) % $1 )); }

loaded=0 refused=0 crashed=0
: > "$work/reasons"
for ((i = 1; i <= copies; i++)); do
  copy="$work/charnn-cell-lstm.so"
  cp "$plugin" "$copy"
  for ((f = 0; f <= RANDOM % 4; f++)); do
    byte=$((RANDOM % 256))
    big_random "$size"
    printf "\\x$(printf %02x $byte)" |
      dd of="$copy" bs=1 seek="$pick" conv=notrunc status=none
  done
  if [ $((RANDOM % 8)) -eq 0 ]; then big_random "$size"; truncate -s "$pick" "$copy"; fi
  set +e
  out=$("$bin" cells --plugin "$copy" 2>&1 </dev/null)
  rc=$?
  set -e
  if [ $rc -eq 0 ]; then
    loaded=$((loaded + 1))
  elif [ $rc -eq 1 ]; then
    refused=$((refused + 1))
    sed -n 's/^charnn cells: error: --plugin [^:]*: //p' <<<"$out" | head -1 | sed 's/0x[0-9a-f]*/N/g; s/[0-9]\{4,\}/N/g' | cut -c1-70 >> "$work/reasons"
  else
    crashed=$((crashed + 1))
    cp "$copy" "/tmp/attack-plugins-crash-$i.so"
    echo "attack-plugins: copy $i: exit $rc (kept as /tmp/attack-plugins-crash-$i.so)" >&2
  fi
done
echo "attack-plugins: $copies damaged copies of $(basename "$plugin"): $loaded loaded, $refused refused with a reason, $crashed crashed"
echo "most frequent reasons:"
sort "$work/reasons" | uniq -c | sort -rn | head -8
[ $crashed -eq 0 ]
