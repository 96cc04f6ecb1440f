#!/usr/bin/env bash
# Training on ranks against training on threads, on this machine (issue 18's scaling figures):
#
#   bench/ranks.sh [ITERATIONS]          default 300
#
# Runs one after another, on an idle machine:
#   - bench_allreduce: the time of one gradient sum of 3.4M floats (a 2x512 LSTM's gradient)
#     between 2 ranks, over shared memory (what mpirun picks on one machine) and over TCP
#     loopback;
#   - charnn train with 1 rank x 2 threads, then 2 ranks x 1 thread (mpirun), the same 2x512
#     GRU, global batch 32 x 64, bf16 where the CPU has it, ITERATIONS steps, no validation
#     until the end.
# Prints units/s (the median of the logged windows, the first left out) and their ratio, and
# appends the table to bench/RESULTS.md (RECORD=0 to skip).
#
# Environment: CHARNN=build/bin/charnn, CORPUS=FILE (default ../shared/corpora/warpeace.txt, else
# charnn's fortunes corpus), RECORD=0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
iterations=${1:-300}
charnn=${CHARNN:-$root/build/bin/charnn}
allreduce=$(dirname "$charnn")/bench_allreduce
corpus=${CORPUS:-$root/../shared/corpora/warpeace.txt}
[ -f "$corpus" ] || corpus=$root/corpora/fortunes.txt
record=${RECORD:-1}
for f in "$charnn" "$allreduce"; do
  [ -x "$f" ] || { echo "ranks: $f not found; build first (scripts/build.sh)" >&2; exit 1; }
done
[ -f "$corpus" ] || "$root/corpora/assemble-default.sh" >/dev/null
command -v mpirun >/dev/null || { echo "ranks: no mpirun (scripts/install-deps.sh installs openmpi-bin)" >&2; exit 1; }

# What mpirun needs on these machines (docs/multi-machine.md).
export OMPI_MCA_btl_vader_single_copy_mechanism=none
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
mpirun=(mpirun -np 2 --bind-to none --oversubscribe)

source "$here/lib.sh"  # busy, machine, binary_commit
commit=$(binary_commit "$charnn")
load=$(busy)
echo "ranks: $iterations iterations on $corpus; CPUs ${load}% busy before the start" \
     "$([ "$load" -gt 10 ] && echo "(NOT idle: figures will be off)")" >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Shared memory (what mpirun picks on one machine), then TCP over loopback (what it would use
# between machines, without the network's own limits).
reduce=$("${mpirun[@]}" "$allreduce" 3400000 30)
echo "ranks: shared memory: $reduce" >&2
reduce_tcp=$("${mpirun[@]}" --mca btl tcp,self "$allreduce" 3400000 30)
echo "ranks: TCP loopback: $reduce_tcp" >&2

# Median units/s of a run's logged windows, the first (primitive creation) left out.
rate() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
           $col["train_loss"] != "" && ++n > 1 { print $col["units_per_second"] }' \
      "$1/metrics.csv" | sort -g | awk '{ r[NR] = $1 } END { printf "%.0f", NR ? r[int((NR + 1) / 2)] : 0 }'
}
args=(--cell gru --layers 2 --hidden 512 --batch 32 --seq-len 64 --dropout 0.25 --lr 0.002
      --warmup 100 --max-iters "$iterations" --eval-every 1000000 --log-every 25
      --split 0.9,0.1,0 --eval-units 100000 --progress plain)
"$charnn" train "$corpus" "${args[@]}" --threads 2 --out "$work/threads" 2> "$work/threads.log"
threads=$(rate "$work/threads")
echo "ranks: 1 rank x 2 threads: $threads units/s" >&2
"${mpirun[@]}" "$charnn" train "$corpus" "${args[@]}" --threads 1 --out "$work/ranks" \
    2> "$work/ranks.log"
ranks=$(rate "$work/ranks")
grep -m1 "ranks x" "$work/ranks.log" | sed 's/^ */ranks: /' >&2
echo "ranks: 2 ranks x 1 thread: $ranks units/s" >&2

table=$(
  echo "### Ranks against threads on one machine ($commit, $(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "Machine: $(machine), ${load}% busy" \
       "before the start. Command: \`bench/ranks.sh $iterations\`;" \
       "2x512 GRU, global batch 32 x 64, $(basename "$corpus")."
  echo
  echo "| set-up | units/s | against 1 x 2 |"
  echo "| --- | --- | --- |"
  echo "| 1 rank x 2 threads | $threads | 1.00 |"
  echo "| 2 ranks x 1 thread (mpirun) | $ranks | $(awk -v a="$ranks" -v b="$threads" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') |"
  echo
  echo "One allreduce of a 3.4M-float gradient between 2 ranks: over shared memory \`$reduce\`;"
  echo "over TCP loopback \`$reduce_tcp\`."
)
echo
echo "$table"
if [ "$record" = 1 ]; then
  printf '\n%s\n' "$table" >> "$here/RESULTS.md"
  echo "ranks: appended to bench/RESULTS.md" >&2
fi
