#!/usr/bin/env bash
# Compares two builds of charnn in one session, alternating them round by round so that drift of
# the machine's speed hits both alike: the default 2x512 model's training speed (80 iterations on
# War and Peace), and sampling speed with 1 and 16 streams from a checkpoint. Also checks that
# both builds write the same text for the same random seed. Run it on an idle machine.
#   bench/ab_builds.sh OLD_BUILD_DIR NEW_BUILD_DIR CHECKPOINT [ROUNDS]
# A build directory holds bin/charnn and lib/ (copy an old build aside before rebuilding).
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") ckpt=$(realpath "$3") rounds=${4:-3}
corpus=${CHARNN_CORPUS:-$(dirname "$0")/../../shared/corpora/warpeace.txt}
[ -f "$corpus" ] || { echo "ab_builds: no corpus at $corpus (set CHARNN_CORPUS)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() {  # run BUILD_DIR ARGS...: the build's own libcharnn, whatever its RUNPATH says
  LD_LIBRARY_PATH="$1/lib" "$1/bin/charnn" "${@:2}"
}
seconds() { /usr/bin/time -f "%e s, %M KB" "$@" 2>&1 >/dev/null | tail -1; }
for r in $(seq "$rounds"); do
  for side in old new; do
    dir=$old; [ $side = new ] && dir=$new
    run "$dir" train "$corpus" --max-iters 80 --eval-every 100000 --log-every 40 \
      --out "$work/run-$side-$r" --progress quiet >/dev/null 2>&1
    train=$(grep -m1 '^80,' "$work/run-$side-$r/metrics.csv" | cut -d, -f3,6)
    s1=$(seconds env LD_LIBRARY_PATH="$dir/lib" "$dir/bin/charnn" sample -m "$ckpt" -n 30000 --random-seed 7)
    s16=$(seconds env LD_LIBRARY_PATH="$dir/lib" "$dir/bin/charnn" sample -m "$ckpt" -n 5000 -c 16 --random-seed 7)
    echo "$side round $r | train: seconds to iteration 80, loss = $train | sample 30000 x 1: $s1 | sample 5000 x 16: $s16"
  done
done
for side in old new; do
  dir=$old; [ $side = new ] && dir=$new
  run "$dir" sample -m "$ckpt" -n 2000 -c 4 --random-seed 7 2>/dev/null | md5sum | sed "s/-$/$side sample text/"
done
