#!/usr/bin/env bash
# Model quality on the corpus suite (bench/suite.sh): charnn with its defaults against the PyTorch
# peer (bench/train_peer.py: 2x512 LSTM, Adam 2e-3, dropout 0.2, clip 5, T=N=50), each for the
# same wall-clock minutes on the same units and the same contiguous 90/10 split.
#
#   bench/quality.sh [MINUTES] [CORPUS...]      default: 10 minutes, every corpus of the suite
#
# Run it on an idle machine: it runs one job at a time, but anything else running makes both
# sides slower by different amounts. It prints a table of best and final validation nats per
# unit and appends it to bench/RESULTS.md:
#   best   the lowest periodic validation (100,000 units of the validation split in 32 streams
#          spread over it, the figure that picks charnn's best.ckpt; the peer validates the same
#          units every 2 min);
#   final  the model at the end of the budget, on the same slice and on the whole split.
#
# The peer's figures do not depend on charnn, so they are kept in QUALITY_DIR and reused while
# the machine has not rebooted (its speed changes between days and machines) and train_peer.py
# is unchanged; PEER=fresh runs them again, PEER=skip leaves them out.
#
# Environment:
#   CHARNN=build/bin/charnn    the binary under test
#   CHARNN_ARGS="..."          extra flags for charnn (an experiment: recorded in QUALITY_DIR
#                              only, not in RESULTS.md; LABEL names it, default "args")
#   QUALITY_DIR=bench/quality-runs   run directories and logs (gitignored)
#   RECORD=0                   do not append to bench/RESULTS.md
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
minutes=10
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; then minutes=$1; shift; fi
charnn=${CHARNN:-$root/build/bin/charnn}
dir=${QUALITY_DIR:-$here/quality-runs}
peer_mode=${PEER:-reuse}
extra=${CHARNN_ARGS:-}
label=${LABEL:-$([ -n "$extra" ] && echo args || echo defaults)}
record=${RECORD:-1}
[ -n "$extra" ] && record=0
python=/usr/bin/python3
blas=/usr/lib/x86_64-linux-gnu/openblas-openmp
eval_units=100000

[ -x "$charnn" ] || { echo "quality: $charnn not found; build first (scripts/build.sh)" >&2; exit 1; }
if [ "$peer_mode" != skip ]; then
  "$root/scripts/install-deps.sh" python3-torch libopenblas0-openmp python3-icu
fi
mkdir -p "$dir"

declare -A path=()
names=()
# big (bench/suite.sh --big) only when named: one 10-minute run of it is an experiment of its own.
while IFS=$'\t' read -r name p _bytes; do
  path[$name]=$p
  [ "$name" = big ] || names+=("$name")
done < <("$here/suite.sh")
if [ $# -gt 0 ]; then
  for n in "$@"; do
    [ -n "${path[$n]:-}" ] || { echo "quality: no corpus '$n' in the suite (${names[*]})" >&2; exit 2; }
  done
  names=("$@")
fi

boot=$(cat /proc/sys/kernel/random/boot_id)
peer_version=$(sha256sum "$here/train_peer.py" | cut -c1-16)
source "$here/lib.sh"  # busy, machine, binary_commit
commit=$(binary_commit "$charnn")
load=$(busy)
echo "quality: ${names[*]} at $minutes minutes each; CPUs ${load}% busy before the start" \
     "$([ "$load" -gt 10 ] && echo "(NOT idle: figures will be off)")" >&2

# best_slice final_slice final_whole units/s slice, from a charnn run directory's metrics.csv
# and config.json (the slice as UNITSxSTREAMS; of 100,000 units it has --batch streams). A run
# that validated on a slice ends with a row of the whole split, the last one, marked "end" in the
# validation column. Before that column its log said so ("validation on the whole split"): its
# scored units may equal the slice's (the layout rounds both down to whole segments). A run that
# ends on its best model (--rollback) has two slice rows at its last iteration: the second is the
# model it ends with.
charnn_figures() {
  local whole=0
  grep -q 'validation on the whole split' "$1.log" 2>/dev/null && whole=1
  awk -F, -v whole_row="$whole" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["valid_loss"] != "" { n++; v[n] = $col["valid_loss"] }
    "validation" in col && $col["validation"] == "periodic" { slice = $col["valid_units"] }
    "validation" in col && $col["validation"] == "end" { whole_row = 1 }
    { units = $col["units"]; seconds = $col["seconds"] }
    END {
      last = whole_row && n > 1 ? n - 1 : n
      for (k = 1; k <= last; k++) if (best == "" || v[k] + 0 < best + 0) best = v[k]
      printf "%.4f %.4f %.4f %.0f %s\n", best, v[last], v[n], (seconds > 0 ? units / seconds : 0),
             (slice == "" || batch == "" ? "-" : slice "x" batch)
    }
  ' batch="$(sed -n 's/^ *"batch": *\([0-9]*\).*/\1/p' "$1/config.json" 2>/dev/null)" "$1/metrics.csv"
}

# The same five from a peer log's `# result` line, the slice as UNITSxSTREAMS ("-" in logs from
# before the peer printed it).
peer_figures() {
  awk '/^# result / {
    for (i = 3; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] }
    print r["best_slice"], r["final_slice"], r["final_whole"], r["units_per_s"],
          ("slice_units" in r ? r["slice_units"] "x" r["slice_streams"] : "-")
  }' "$1"
}

rows=() notes=()
for name in "${names[@]}"; do
  corpus=${path[$name]}
  run=$dir/charnn-$label-$name-${minutes}m
  rm -rf "$run"
  echo "quality: charnn ($label) on $name: $run" >&2
  own=()  # a corpus's own flags: big has Latin-1 headers among its UTF-8 ones
  [ "$name" = big ] && own=(--on-invalid replace)
  # shellcheck disable=SC2086
  "$charnn" train "$corpus" --split 0.9,0.1,0 --time "${minutes}m" --eval-units $eval_units \
      --out "$run" --progress plain "${own[@]}" $extra 2> "$run.log" || {
    echo "quality: charnn failed on $name; see $run.log" >&2; tail -3 "$run.log" >&2; exit 1; }
  read -r c_best c_final c_whole c_ups c_slice < <(charnn_figures "$run")

  p_best=- p_final=- p_whole=- p_ups=- p_slice=-
  if [ "$name" = big ] && [ "$peer_mode" != skip ]; then
    echo "quality: no PyTorch peer on big: train_peer.py cuts 100M units into Python lists" >&2
  elif [ "$peer_mode" != skip ]; then
    log=$dir/peer-$name-${minutes}m.log
    if [ "$peer_mode" = fresh ] || ! grep -qx "# boot $boot" "$log" 2>/dev/null ||
       ! grep -qx "# peer $peer_version" "$log" || ! grep -q '^# result' "$log"; then
      echo "quality: PyTorch peer on $name: $log" >&2
      { echo "# boot $boot"
        echo "# peer $peer_version"
        LD_LIBRARY_PATH=$blas "$python" "$here/train_peer.py" "$corpus" --minutes "$minutes" \
          --dropout 0.2 --split 0.9,0.1,0 --eval-minutes 2 --eval-units $eval_units
      } > "$log.tmp" 2>&1 || { echo "quality: the peer failed on $name; see $log.tmp" >&2; exit 1; }
      mv "$log.tmp" "$log"
    else
      echo "quality: PyTorch peer on $name: reusing $log (same boot, same train_peer.py)" >&2
    fi
    read -r p_best p_final p_whole p_ups p_slice < <(peer_figures "$log")
  fi
  # Both sides lay the slice out by one formula (spread_layout in evaluate_loss.cpp,
  # spread_streams in train_peer.py); another units x streams means the best columns score
  # other text.
  if [ "$p_slice" != - ] && [ "$c_slice" != - ] && [ "$p_slice" != "$c_slice" ]; then
    echo "quality: WARNING: on $name the peer's slice is $p_slice (units x streams) and" \
         "charnn's $c_slice: the best columns compare different text" >&2
    notes+=("$name: the peer validated on $p_slice units x streams, charnn on $c_slice; Δ best compares different text.")
  fi
  delta=$(awk -v a="$c_best" -v b="$p_best" 'BEGIN { if (b == "-") print "-"; else printf "%+.3f", a - b }')
  delta_whole=$(awk -v a="$c_whole" -v b="$p_whole" 'BEGIN { if (b == "-") print "-"; else printf "%+.3f", a - b }')
  rows+=("| $name | $c_best | $c_final | $c_whole | $c_ups | $p_best | $p_final | $p_whole | $p_ups | $delta | $delta_whole |")
  printf '%s\n' "${rows[-1]}" >&2
done

big_note=""
if [[ " ${names[*]} " == *" big "* ]]; then
  big_note=" (for big, the sample of it that fits in 5% of the budget)"
fi
table=$(
  echo "### Quality at $minutes minutes: charnn $label ($commit) against the PyTorch peer ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "Machine: $(machine), ${load}% busy" \
       "before the start. Command: \`bench/quality.sh $minutes ${names[*]}\`${extra:+ with CHARNN_ARGS=\"$extra\"}."
  echo "Nats per unit; best and final on the validation slice ($eval_units units spread over the split), whole = the whole"
  echo "validation split at the end${big_note};"
  echo "Δ = charnn best − peer best, Δ whole = charnn whole − peer whole."
  echo
  echo "| corpus | charnn best | final | whole | units/s | peer best | final | whole | units/s | Δ best | Δ whole |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  [ ${#notes[@]} -eq 0 ] || { echo; printf -- '- %s\n' "${notes[@]}"; }
)
echo
echo "$table"
echo "$table" > "$dir/quality-$label-${minutes}m.md"
if [ "$record" = 1 ]; then
  printf '\n%s\n' "$table" >> "$here/RESULTS.md"
  echo "quality: appended to bench/RESULTS.md" >&2
fi
