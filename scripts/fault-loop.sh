#!/usr/bin/env bash
# Kills training with SIGKILL at random moments, over and over, and checks that nothing is lost:
#   - after every kill both checkpoints load and score text (charnn eval);
#   - the saved iteration never goes back;
#   - the next process opens the run directory and removes the temporary files the killed one
#     left (a kill in the middle of a checkpoint leaves one); once a run ends normally, none
#     remain.
#
#   scripts/fault-loop.sh [KILLS]        default 200; CI runs a short loop
#   CHARNN=build/bin/charnn              the program under test
#
# It prints one line per 20 kills and a summary: kills, kills that left a temporary file (mid-
# checkpoint), kills before the first checkpoint. Exits 1 at the first broken promise.
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-200}
bin=$(realpath "${CHARNN:-build/bin/charnn}")
[ -x "$bin" ] || { echo "fault-loop: $bin not found; build first (scripts/build.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# A corpus of varied text: the numbers make every line different.
awk 'BEGIN { for (i = 0; i < 4000; i++) printf "line %d: the quick brown fox jumps over %d lazy dogs.\n", i, i * 7 % 13 }' > corpus.txt
head -c 3000 corpus.txt > held.txt

fail() { echo "fault-loop: kill $1: $2" >&2; exit 1; }
iteration() { grep -a -o 'state\.iteration=[0-9]*' "$1" | head -1 | cut -d= -f2; }
temporaries() { find run -maxdepth 1 -name '*.tmp-*' 2>/dev/null | wc -l; }

# --rollback 0: the run has to outlast every kill, and a run whose rollbacks stop finding a
# better model ends on it (validated every 3 iterations, this one rolls back on noise).
args=(--layers 1 --hidden 48 --batch 8 --seq-len 32 --eval-every 3 --eval-units 500
      --threads 1 --progress quiet --max-iters 100000000 --rollback 0)
mid_checkpoint=0 before_first=0 last=0
for ((k = 1; k <= kills; k++)); do
  if [ -e run/last.ckpt ]; then
    "$bin" train --resume run --max-iters 100000000 --progress quiet --threads 1 >log 2>&1 &
  else
    "$bin" train corpus.txt --out run "${args[@]}" >log 2>&1 &
  fi
  pid=$!
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.05 + (r % 1500) / 1000 }')"
  if ! kill -9 "$pid" 2>/dev/null; then
    wait "$pid" || true
    fail "$k" "training ended before the kill: $(tail -3 log)"
  fi
  wait "$pid" 2>/dev/null || true
  [ -n "$(find run -maxdepth 1 -name "*.tmp-$pid" 2>/dev/null)" ] && mid_checkpoint=$((mid_checkpoint + 1))
  if [ ! -e run/last.ckpt ]; then
    before_first=$((before_first + 1))
    continue
  fi
  for ckpt in run/last.ckpt run/best.ckpt; do
    [ -e "$ckpt" ] || continue
    "$bin" eval --model "$ckpt" held.txt >eval.log 2>&1 || fail "$k" "$ckpt does not load: $(cat eval.log)"
  done
  now=$(iteration run/last.ckpt)
  [ "$now" -ge "$last" ] || fail "$k" "last.ckpt went back from iteration $last to $now"
  last=$now
  [ $((k % 20)) -eq 0 ] && echo "fault-loop: $k kills, last.ckpt at iteration $now, $mid_checkpoint mid-checkpoint"
done

# One run that ends normally: it removes what the last kill left, and leaves nothing itself.
left=$(temporaries)
if [ -e run/last.ckpt ]; then
  "$bin" train --resume run --max-iters $((last + 3)) --progress plain --threads 1 >log 2>&1 \
    || fail end "the final resume failed: $(tail -3 log)"
  if [ "$left" -gt 0 ] && ! grep -q "removed $left temporary file" log; then
    fail end "the final resume did not report removing $left temporary file(s): $(cat log)"
  fi
fi
[ "$(temporaries)" -eq 0 ] || fail end "temporary files remain: $(ls -a run)"
echo "fault-loop: $kills kills: every checkpoint loaded, iterations only rose (to $last);" \
     "$mid_checkpoint kills left a temporary file, $before_first came before the first checkpoint"
