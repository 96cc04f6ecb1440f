#!/usr/bin/env bash
# Training speed on a shared machine: a small model (2x64 LSTM) beside a process that keeps one
# CPU busy, with the automatic thread count and with --threads fixed, against the same run on the
# idle machine. Prints iterations per second for each case. Run it on an otherwise idle machine.
#
#   bench/shared_machine.sh [SECONDS]          default 20 seconds per case
#   CHARNN=build/bin/charnn                    the program under test
#
# Cases: idle / busy CPU from the start / busy CPU that starts a third of the way in (the
# automatic count must notice it during the run) — each with the automatic thread count, and the
# busy cases also with --threads 1 and --threads <all CPUs>.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
bin=$(realpath "${CHARNN:-build/bin/charnn}")
cpus=$(nproc)
work=$(mktemp -d)
hog=""
cleanup() { [ -n "$hog" ] && kill "$hog" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "line %d: the quick brown fox jumps over %d lazy dogs.\n", i, i % 17 }' > "$work/corpus.txt"

start_hog() { sh -c 'while :; do :; done' & hog=$!; }
stop_hog() { kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null || true; hog=""; }

# iterations/s over a whole run, and the governor's messages.
run() {
  local label=$1; shift
  rm -rf "$work/run"
  "$bin" train "$work/corpus.txt" --out "$work/run" --layers 2 --hidden 64 --batch 16 \
    --seq-len 32 --eval-every 1000000 --time "${seconds}s" --progress plain "$@" \
    > "$work/log" 2>&1
  local its
  its=$(awk -F, 'NR > 1 { it = $1; s = $3 } END { printf "%.1f", (s > 0 ? it / s : 0) }' "$work/run/metrics.csv")
  printf '%-44s %10s  %s\n' "$label" "$its" "$(grep -o 'threads [0-9]* -> [0-9]*: .*' "$work/log" | head -3 | tr '\n' ';')"
}

printf '%-44s %10s  %s\n' case "iter/s" "thread changes"
run "idle, automatic threads"
start_hog
run "one CPU busy, automatic threads"
run "one CPU busy, --threads 1" --threads 1
run "one CPU busy, --threads $cpus" --threads "$cpus"
stop_hog
( sleep $((seconds / 3)); exec sh -c 'while :; do :; done' ) & hog=$!
run "CPU busy from $((seconds / 3)) s on, automatic threads"
stop_hog
