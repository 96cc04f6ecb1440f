#!/usr/bin/env bash
# Damages copies of a built plugin at random and asks charnn to load each one: every copy must be
# loaded or skipped with a reason (exit 0 or 1), never crash the program (exit 128 + signal).
#
#   scripts/attack-plugins.sh [COPIES] [SEED]     default 400 copies, seed 1
#   CHARNN=build/bin/charnn PLUGIN=build/lib/charnn/plugins/charnn-cell-lstm.so
#
# Each copy gets 1 to 4 random bytes changed; one in eight is also cut short at a random length.
# Prints counts per outcome and the reasons given most often; exits 1 if any copy crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-400}
RANDOM=${2:-1}
bin=$(realpath "${CHARNN:-build/bin/charnn}")
plugin=$(realpath "${PLUGIN:-build/lib/charnn/plugins/charnn-cell-lstm.so}")
[ -x "$bin" ] && [ -f "$plugin" ] || { echo "attack-plugins: build first (scripts/build.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
size=$(stat -c %s "$plugin")
big_random() { echo $(( (RANDOM << 15 | RANDOM) % $1 )); }

loaded=0 refused=0 crashed=0
: > "$work/reasons"
for ((i = 1; i <= copies; i++)); do
  copy="$work/charnn-cell-lstm.so"
  cp "$plugin" "$copy"
  for ((f = 0; f <= RANDOM % 4; f++)); do
    printf "\\x$(printf %02x $((RANDOM % 256)))" |
      dd of="$copy" bs=1 seek="$(big_random "$size")" conv=notrunc status=none
  done
  [ $((RANDOM % 8)) -eq 0 ] && truncate -s "$(big_random "$size")" "$copy"
  set +e
  out=$("$bin" cells --plugin "$copy" 2>&1 </dev/null)
  rc=$?
  set -e
  if [ $rc -eq 0 ]; then
    loaded=$((loaded + 1))
  elif [ $rc -eq 1 ]; then
    refused=$((refused + 1))
    sed -n 's/.*not a usable cell plugin: //p' <<<"$out" | head -1 | cut -c1-60 >> "$work/reasons"
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
