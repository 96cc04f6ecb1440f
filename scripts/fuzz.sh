#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang-14, AddressSanitizer and
# UndefinedBehaviorSanitizer (in build-fuzz/), then runs each target and prints a table of
# executions per target. Exits non-zero when any target finds a crash, a leak, a timeout or an
# allocation over the memory limit; the input that did it is kept as build-fuzz/crash-<target>-*.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 20 seconds per target, every target
#   FUZZ_RUNS=10000000 scripts/fuzz.sh        a number of executions per target instead of a time
#
# Targets: checkpoint text vocab config cli elf. Each starts from its seeds: the text ones in
# tests/fuzz/seeds/<target>, the binary ones written by this build (charnn_fuzz_seeds, and for elf
# tests/fuzz/elf_seed.c linked by cc), plus the corpus earlier runs grew in
# build-fuzz/corpus/<target>. Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=20
if [[ ${1:-} =~ ^[0-9]+$ ]]; then seconds=$1; shift; fi
all=(checkpoint text vocab config cli elf)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz: no target '$t' (${all[*]})" >&2; exit 2; }
done

scripts/install-deps.sh clang-14 libfuzzer-14-dev
build=${CHARNN_FUZZ_BUILD_DIR:-build-fuzz}
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHARNN_MPI=OFF \
  -DCHARNN_FUZZ=ON -DCHARNN_BUILD_TESTS=OFF -DCHARNN_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target charnn_fuzz_seeds \
  $(printf 'charnn_fuzz_%s ' "${targets[@]}") >/dev/null
seeds="$build/seeds"
rm -rf "$seeds"
"$build/bin/charnn_fuzz_seeds" "$seeds"
# The ELF seeds: one small library linked three ways (see tests/fuzz/elf_seed.c).
mkdir -p "$seeds/elf"
for way in gnu:-Wl,--hash-style=gnu sysv:-Wl,--hash-style=sysv relr:-Wl,-z,pack-relative-relocs; do
  cc -shared -fPIC -Os -s -Wl,-z,noseparate-code "${way#*:}" -o "$seeds/elf/${way%%:*}.so" \
    tests/fuzz/elf_seed.c
done

# Leaks count as failures; any undefined behaviour stops the target (it is built not to recover).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
limit=(-max_total_time="$seconds")
[ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
failed=0
printf '%-11s %14s %9s %10s  %s\n' target executions seconds "execs/s" result
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  dirs=("$corpus")
  for d in "tests/fuzz/seeds/$t" "$seeds/$t"; do [ -d "$d" ] && dirs+=("$d"); done
  log="$build/fuzz-$t.log"
  start=$(date +%s.%N)
  set +e
  "$build/bin/charnn_fuzz_$t" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/crash-$t-" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  set -e
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
  runs=$(awk '/stat::number_of_executed_units/ { print $NF }' "$log" | tail -1)
  rate=$(awk -v r="${runs:-0}" -v s="$took" 'BEGIN { printf "%.0f", (s > 0 ? r / s : 0) }')
  result=ok
  if [ $rc -ne 0 ]; then
    result="FAILED (exit $rc): see $log"
    failed=1
  fi
  printf '%-11s %14s %9s %10s  %s\n' "$t" "${runs:-?}" "$took" "$rate" "$result"
  # CI keeps only what is printed: the report's end names the fault and shows the input.
  [ $rc -eq 0 ] || grep -v '^#\|^INFO:' "$log" | tail -n 40 | sed 's/^/    /' >&2
done
[ $failed -eq 0 ] || { echo "fuzz: a target failed; its input is in $build/crash-*" >&2; exit 1; }
