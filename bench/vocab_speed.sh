#!/usr/bin/env bash
# How charnn's speed scales with the vocabulary: training (f32 and bf16), eval, inspect and
# one-stream sampling of a 2x512 GRU at about 80 units (War and Peace, or charnn's fortunes corpus where
# ../shared is absent) and at 1,000 and 5,000 units (the Chinese fortunes of bench/suite.sh, cut
# with --max-vocab). Each job runs ROUNDS times, alternating; the table gives the median, min and
# max. Run it on an idle machine. See bench/README.md.
#
#   bench/vocab_speed.sh [ROUNDS]     default 2; about 3 minutes per round
#
# Environment: BUILD=build (bin/charnn), RECORD=0 (do not append the table to bench/RESULTS.md).
#
# Training: units/s over the last 10 of 30 iterations (metrics.csv), T = N = 50. eval: the
# corpus (1 MB of War and Peace; all 2 MB of Chinese, whose first MB has 1,389 units) scored whole, units scored over the whole process's wall time, with the model
# the bf16 run trained (30 iterations: it forgets fast, so eval takes its one pass; a model that
# remembers further back is slower, docs/inspect.md); inspect the same, on the same text. Sampling: 100,000 units, less the start-up
# (the time of --length 1), so the figure is the steady rate.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
rounds=${1:-2}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "vocab_speed: ROUNDS is a positive number, not '$rounds'" >&2; exit 2; }
charnn=$(cd "$root" && realpath -m "${BUILD:-build}")/bin/charnn
[ -x "$charnn" ] || { echo "vocab_speed: $charnn not found; build first (scripts/build.sh)" >&2; exit 1; }
"$root/scripts/install-deps.sh" time
record=${RECORD:-1}
source "$here/lib.sh"  # busy, median_min_max, machine

"$here/suite.sh" > /dev/null
corpus_of() { "$here/suite.sh" --list | awk -v n="$1" '$1 == n { print $2 }'; }
small=$(corpus_of warpeace)
[ -n "$small" ] || small=$(corpus_of fortunes)
zh=$(corpus_of zh)
[ -n "$small" ] && [ -n "$zh" ] || { echo "vocab_speed: bench/suite.sh made no corpora" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A whole number of UTF-8 characters: iconv -c drops the one the cut split.
head -c 1000000 "$small" | iconv -f UTF-8 -t UTF-8 -c > "$work/small.txt"

load=$(busy)
echo "vocab_speed: $rounds rounds on $(nproc) CPUs, ${load}% busy before the start" \
     "$([ "$load" -gt 10 ] && echo "(NOT idle: figures will be off)")" >&2

figure() { echo "$1 $2" >> "$work/figures"; }
seconds() {  # seconds CMD...: the wall time of CMD (its output to $work/out, errors to $work/err)
  /usr/bin/time -o "$work/time" -f "%e" "$@" > "$work/out" 2> "$work/err" ||
    { echo "vocab_speed: failed: $*" >&2; tail -3 "$work/err" >&2; exit 1; }
  cat "$work/time"
}

# measure NAME TEXT MAX_VOCAB: one round of every figure for one vocabulary.
measure() {
  local name=$1 text=$2 max=$3 run
  for precision in f32 bf16; do
    run=$work/$name-$precision
    rm -rf "$run"
    seconds "$charnn" train "$text" --max-vocab "$max" --cell gru --layers 2 --hidden 512 \
      --dropout 0 --seq-len 50 --batch 50 --precision "$precision" --max-iters 30 --log-every 10 \
      --eval-every 1000000 --split 1,0,0 --progress plain --out "$run" > /dev/null
    figure "$name.train_$precision" "$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
      { v = $c["units_per_second"] } END { printf "%.0f", v }' "$run/metrics.csv")"
    grep -o 'vocabulary [0-9,]*' "$work/err" | head -1 | tr -dc 0-9 > "$work/$name.vocab"
  done
  run=$work/$name-bf16
  local t units start
  t=$(seconds "$charnn" eval -m "$run" --unknown map "$text")
  units=$(sed -n 's/^\([0-9]*\) units scored.*/\1/p' "$work/out" | head -1)
  figure "$name.eval" "$(awk -v n="$units" -v t="$t" 'BEGIN { printf "%.0f", n / t }')"
  t=$(seconds "$charnn" inspect -m "$run" --unknown map --text "$text")
  figure "$name.inspect" "$(awk -v n="$units" -v t="$t" 'BEGIN { printf "%.0f", n / t }')"
  start=$(seconds "$charnn" sample -m "$run" --length 1 --random-seed 7)
  t=$(seconds "$charnn" sample -m "$run" --length 100000 --random-seed 7)
  figure "$name.sample" "$(awk -v s="$start" -v t="$t" 'BEGIN { printf "%.0f", 100000 / (t - s) }')"
  grep -o 'step weights.*' "$work/err" | head -1 > "$work/$name.step"
}

for r in $(seq "$rounds"); do
  echo "vocab_speed: round $r of $rounds" >&2
  measure small "$work/small.txt" 0
  measure v1000 "$zh" 1000
  measure v5000 "$zh" 5000
done

cell() {  # cell NAME: "median (min-max)"
  read -r m lo hi < <(median_min_max "$work/figures" "$1")
  m=$(printf '%.0f' "$m")
  [ "$lo" = "$hi" ] && echo "$m" || echo "$m ($lo–$hi)"
}
table=$(
  echo "### bench/vocab_speed.sh: speed against the vocabulary ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "Machine: $(machine), ${load}% busy before" \
       "the start. Command: \`bench/vocab_speed.sh $rounds\` at $(git -C "$root" rev-parse --short HEAD)." \
       "2x512 GRU; units/s, median (min–max) of $rounds round(s). Training: T = N = 50, the last 10" \
       "of 30 iterations. eval and inspect: the training text (1 MB of $(basename "$small"), all of" \
       "zh), whole process. Sampling: one stream, start-up excluded."
  echo
  echo "| corpus | units | train f32 | train bf16 | eval | inspect | sample | sampling step |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
  for name in small v1000 v5000; do
    label=$([ "$name" = small ] && basename "$small" .txt || echo "zh --max-vocab ${name#v}")
    echo "| $label | $(cat "$work/$name.vocab") | $(cell "$name.train_f32") | $(cell "$name.train_bf16")" \
         "| $(cell "$name.eval") | $(cell "$name.inspect") | $(cell "$name.sample") | $(cat "$work/$name.step") |"
  done
)
echo
echo "$table"
if [ "$record" = 1 ]; then
  printf '\n%s\n' "$table" >> "$here/RESULTS.md"
  echo "vocab_speed: appended to bench/RESULTS.md" >&2
fi
