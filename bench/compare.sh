#!/usr/bin/env bash
# charnn against PyTorch on this machine, in one run: full training steps of a 2x512 LSTM, GRU and
# Elman network (T = N = 50), charnn in f32 and bf16, PyTorch with its fastest set-up (OpenBLAS,
# openmp build) and with Debian's reference BLAS (what it runs on without OpenBLAS); the sgemm peak; sampling with 1 and 16 streams;
# inspect; the peak RSS of each. Every job runs ROUNDS times, alternating, so that the machine's
# drift hits all alike; the table gives each figure's median, min and max over the rounds, and the
# ratios round by round. Run it on an idle machine. See bench/README.md.
#
#   bench/compare.sh [ROUNDS]         default 3; about 5 minutes per round
#
# Environment:
#   BUILD=build              the build directory (bin/charnn, bin/bench_sgemm)
#   CORPUS=FILE              the text (default ../shared/corpora/warpeace.txt, else charnn's
#                            fortunes corpus); the first CORPUS_BYTES bytes of it are used
#   CORPUS_BYTES=1000000
#   MODEL=CKPT               the model for sampling and inspect (default: the 2x512 LSTM the first
#                            round trains for a few iterations; how far inspect can run several
#                            streams depends on the model, so name a trained one where it matters)
#   RECORD=0                 do not append the table to bench/RESULTS.md
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
rounds=${1:-3}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "compare: ROUNDS is a positive number, not '$rounds'" >&2; exit 2; }
build=$(cd "$root" && realpath -m "${BUILD:-build}")
charnn=$build/bin/charnn
sgemm=$build/bin/bench_sgemm
for b in "$charnn" "$sgemm"; do
  [ -x "$b" ] || { echo "compare: $b not found; build first (scripts/build.sh)" >&2; exit 1; }
done
python=/usr/bin/python3
openblas=/usr/lib/x86_64-linux-gnu/openblas-openmp
refblas=/usr/lib/x86_64-linux-gnu/blas
"$root/scripts/install-deps.sh" python3-torch libopenblas0-openmp libblas3 python3-icu time
record=${RECORD:-1}

source_text=${CORPUS:-$root/../shared/corpora/warpeace.txt}
[ -f "$source_text" ] || source_text=$(ls "$root"/corpora/*.txt 2>/dev/null | head -1)
[ -f "$source_text" ] || { echo "compare: no corpus; set CORPUS=FILE" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A whole number of UTF-8 characters: iconv -c drops the one the cut split.
head -c "${CORPUS_BYTES:-1000000}" "$source_text" | iconv -f UTF-8 -t UTF-8 -c > "$work/corpus.txt"
corpus=$work/corpus.txt
head -c 200000 "$corpus" | iconv -f UTF-8 -t UTF-8 -c > "$work/inspect.txt"

source "$here/lib.sh"  # busy, median_min_max, machine
load=$(busy)
echo "compare: $rounds rounds on $(nproc) CPUs, ${load}% busy before the start" \
     "$([ "$load" -gt 10 ] && echo "(NOT idle: figures will be off)")" >&2

# Each job appends "NAME VALUE" lines to $work/figures (one per figure, per round) and, where it
# can fail for a reason of the machine (bf16 needs AVX-512 BF16), a note to $work/notes.
figure() { echo "$1 $2" >> "$work/figures"; }
timed() {  # timed LOG CMD...: runs CMD, its stderr to LOG; prints "seconds peak_kb"
  local log=$1; shift
  /usr/bin/time -o "$work/time" -f "%e %M" "$@" > "$work/stdout" 2> "$log" || return 1
  cat "$work/time"
}

# charnn's training speed: the metrics.csv window of the last 10 of 30 iterations (the first ones
# allocate and start threads).
charnn_train() {  # charnn_train NAME CELL PRECISION ROUND
  local name=$1 cell=$2 precision=$3 r=$4 out=$work/$1-$4 t
  if ! t=$(timed "$out.log" "$charnn" train "$corpus" --cell "$cell" --layers 2 --hidden 512 \
        --dropout 0 --seq-len 50 --batch 50 --precision "$precision" --max-iters 30 \
        --log-every 10 --eval-every 1000000 --split 1,0,0 --progress plain --out "$out"); then
    grep -q "$name" "$work/notes" 2>/dev/null ||
      echo "$name: $(grep -m1 -i error "$out.log" | cut -c1-160)" >> "$work/notes"
    return 0
  fi
  figure "$name.units_per_s" "$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { v = $c["units_per_second"] } END { print v }' "$out/metrics.csv")"
  figure "$name.rss_mb" "$(awk '{ printf "%.0f", $2 / 1024 }' <<< "$t")"
  [ -n "${MODEL:-}" ] || [ "$name" != charnn_lstm_f32 ] || [ -e "$work/model.ckpt" ] ||
    cp "$out/last.ckpt" "$work/model.ckpt"
}

peer_train() {  # peer_train NAME CELL BLAS ROUND ITERS WARMUP
  local name=$1 cell=$2 blas=$3 r=$4 t line
  local env=()
  # Debian's libblas.so.3 follows the alternatives system (OpenBLAS once it is installed), so
  # each set-up is named by its directory: the reference BLAS is libblas3's.
  env=(env LD_LIBRARY_PATH=$openblas)
  [ "$blas" = reference ] && env=(env LD_LIBRARY_PATH=$refblas)
  local sgemm_flag=()
  [ "$blas" = openblas ] && [ "$cell" = lstm ] && sgemm_flag=(--sgemm)
  t=$(timed "$work/$name-$r.log" "${env[@]}" "$python" "$here/peer_speed.py" "$corpus" \
        --cell "$cell" --iters "$5" --warmup "$6" "${sgemm_flag[@]}") ||
    { echo "compare: the peer failed; see below" >&2; tail -5 "$work/$name-$r.log" >&2; exit 1; }
  line=$(grep '^# speed' "$work/stdout")
  figure "$name.units_per_s" "$(sed 's/.*units_per_s=\([0-9.]*\).*/\1/' <<< "$line")"
  figure "$name.rss_mb" "$(awk '{ printf "%.0f", $2 / 1024 }' <<< "$t")"
  [ "$blas" = openblas ] && [ "$cell" = lstm ] &&
    figure "torch_sgemm_gflops" "$(sed 's/.*sgemm_gflops=\([0-9.]*\).*/\1/' <<< "$line")"
  return 0
}

sample() {  # sample NAME COUNT LENGTH ROUND
  local t
  t=$(timed "$work/$1-$4.log" "$charnn" sample -m "$model" -c "$2" -n "$3" --random-seed 7) ||
    { echo "compare: charnn sample failed:" >&2; tail -3 "$work/$1-$4.log" >&2; exit 1; }
  figure "$1.chars_per_s" "$(awk -v n=$(($2 * $3)) '{ printf "%.0f", n / $1 }' <<< "$t")"
  figure "$1.rss_mb" "$(awk '{ printf "%.0f", $2 / 1024 }' <<< "$t")"
}

inspect() {  # inspect ROUND
  local t units
  t=$(timed "$work/inspect-$1.log" "$charnn" inspect -m "$model" --text "$work/inspect.txt") ||
    { echo "compare: charnn inspect failed:" >&2; tail -3 "$work/inspect-$1.log" >&2; exit 1; }
  # "text:  FILE, 197,314 of 197,314 grapheme units analysed"
  units=$(sed -n 's/^text: .*, \([0-9,]*\) of [0-9,]* .*analysed.*/\1/p' "$work/stdout" | head -1 | tr -dc 0-9)
  [ -n "$units" ] || { echo "compare: inspect printed no unit count:" >&2; head -3 "$work/stdout" >&2; exit 1; }
  figure "inspect.units_per_s" "$(awk -v n="$units" '{ printf "%.0f", n / $1 }' <<< "$t")"
  figure "inspect.rss_mb" "$(awk '{ printf "%.0f", $2 / 1024 }' <<< "$t")"
}

model=${MODEL:-$work/model.ckpt}
for r in $(seq "$rounds"); do
  echo "compare: round $r of $rounds" >&2
  figure sgemm_gflops "$("$sgemm" | awk '{ print $3 }')"
  charnn_train charnn_lstm_f32 lstm f32 "$r"
  peer_train torch_lstm lstm openblas "$r" 20 3
  charnn_train charnn_lstm_bf16 lstm bf16 "$r"
  charnn_train charnn_gru_f32 gru f32 "$r"
  peer_train torch_gru gru openblas "$r" 20 3
  charnn_train charnn_gru_bf16 gru bf16 "$r"
  charnn_train charnn_elman_f32 elman f32 "$r"
  peer_train torch_elman elman openblas "$r" 20 3
  charnn_train charnn_elman_bf16 elman bf16 "$r"
  peer_train torch_lstm_refblas lstm reference "$r" 1 1
  peer_train torch_elman_refblas elman reference "$r" 2 1
  [ -e "$model" ] || { echo "compare: no model for sampling (see $work/notes)" >&2; exit 1; }
  sample sample_1 1 100000 "$r"
  sample sample_16 16 10000 "$r"
  inspect "$r"
done

# The matmul work of one training unit, as a fraction of the peak: 6 x the weights of the
# recurrent products, of layer 1's input product and of the output layer (layer 0's one-hot input
# product is a row gather in charnn and no real work, so it is not counted for either tool).
vocab=$(grep -o 'vocabulary [0-9,]*' "$work/charnn_lstm_f32-1.log" | head -1 | tr -dc 0-9)
flops_per_unit() {  # GATES
  awk -v g="$1" -v h=512 -v v="$vocab" 'BEGIN { printf "%.0f", 6 * (g * h * h * 2 + g * h * h + h * v) }'
}
lstm_flops=$(flops_per_unit 4)
gru_flops=$(flops_per_unit 3)
elman_flops=$(flops_per_unit 1)

stats() {  # stats NAME: "median min max" over the rounds, or "- - -"
  median_min_max "$work/figures" "$1"
}
ratio_stats() {  # ratio_stats A B [SCALE_A SCALE_B]: median min max of A_r*SA / (B_r*SB), round by round
  awk -v a="$1" -v b="$2" -v sa="${3:-1}" -v sb="${4:-1}" '
    $1 == a { x[++na] = $2 } $1 == b { y[++nb] = $2 }
    END {
      n = na < nb ? na : nb
      if (n == 0) { print "- - -"; exit }
      for (i = 1; i <= n; i++) v[i] = (x[i] * sa) / (y[i] * sb)
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      printf "%.2f %.2f %.2f\n", m, v[1], v[n] }' "$work/figures"
}
row() {  # row LABEL NAME UNIT
  read -r m lo hi < <(stats "$2")
  local rss
  read -r rss _ < <(stats "${2%.*}.rss_mb")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$m" "$lo" "$hi" "$3" "$rss"
}
ratio_row() {  # ratio_row LABEL A B [SA SB]
  read -r m lo hi < <(ratio_stats "$2" "$3" "${4:-1}" "${5:-1}")
  printf '| %s | %s | %s | %s |\n' "$1" "$m" "$lo" "$hi"
}

table=$(
  echo "### bench/compare.sh: charnn against PyTorch ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "Machine: $(machine), ${load}% busy" \
       "before the start. Command: \`bench/compare.sh $rounds\` at $(git -C "$root" rev-parse --short HEAD)," \
       "on the first $(wc -c < "$corpus") bytes of $(basename "$source_text") ($vocab units)." \
       "Training: 2 layers x 512, T = N = 50, full steps (forward, backward, clip, Adam), units/s over" \
       "the last 10 of 30 iterations (charnn) or 20 after 3 (PyTorch; 1-2 with the reference BLAS, Debian's" \
       "libblas3, which Debian's torch uses when OpenBLAS is not installed)." \
       "Sampling: 100,000 units with 1 stream and 10,000 x 16, whole process. Inspect: $(wc -c < "$work/inspect.txt")" \
       "bytes, whole process. RSS: the peak, median over the rounds."
  echo
  echo "| figure | median | min | max | unit | peak RSS MB |"
  echo "| --- | --- | --- | --- | --- | --- |"
  row "dnnl_sgemm 2048³" sgemm_gflops GFLOP/s
  row "PyTorch matmul 2048³ (OpenBLAS)" torch_sgemm_gflops GFLOP/s
  row "charnn LSTM f32" charnn_lstm_f32.units_per_s units/s
  row "charnn LSTM bf16" charnn_lstm_bf16.units_per_s units/s
  row "PyTorch LSTM (OpenBLAS openmp)" torch_lstm.units_per_s units/s
  row "PyTorch LSTM (reference BLAS)" torch_lstm_refblas.units_per_s units/s
  row "charnn GRU f32" charnn_gru_f32.units_per_s units/s
  row "charnn GRU bf16" charnn_gru_bf16.units_per_s units/s
  row "PyTorch GRU (OpenBLAS openmp)" torch_gru.units_per_s units/s
  row "charnn Elman f32" charnn_elman_f32.units_per_s units/s
  row "charnn Elman bf16" charnn_elman_bf16.units_per_s units/s
  row "PyTorch Elman (OpenBLAS openmp)" torch_elman.units_per_s units/s
  row "PyTorch Elman (reference BLAS)" torch_elman_refblas.units_per_s units/s
  row "charnn sample, 1 stream" sample_1.chars_per_s units/s
  row "charnn sample, 16 streams" sample_16.chars_per_s units/s
  row "charnn inspect" inspect.units_per_s units/s
  echo
  echo "Ratios, round by round (median, min, max); \"of peak\" counts 6 x the weights of the"
  echo "recurrent products, layer 1's input product and the output layer per unit."
  echo
  echo "| ratio | median | min | max |"
  echo "| --- | --- | --- | --- |"
  ratio_row "charnn LSTM f32 / PyTorch LSTM (OpenBLAS)" charnn_lstm_f32.units_per_s torch_lstm.units_per_s
  ratio_row "charnn LSTM bf16 / PyTorch LSTM (OpenBLAS)" charnn_lstm_bf16.units_per_s torch_lstm.units_per_s
  ratio_row "charnn LSTM f32 / PyTorch LSTM (reference BLAS)" charnn_lstm_f32.units_per_s torch_lstm_refblas.units_per_s
  ratio_row "charnn GRU f32 / PyTorch GRU (OpenBLAS)" charnn_gru_f32.units_per_s torch_gru.units_per_s
  ratio_row "charnn GRU bf16 / PyTorch GRU (OpenBLAS)" charnn_gru_bf16.units_per_s torch_gru.units_per_s
  ratio_row "charnn GRU f32 / charnn LSTM f32" charnn_gru_f32.units_per_s charnn_lstm_f32.units_per_s
  ratio_row "charnn GRU bf16 / charnn LSTM bf16" charnn_gru_bf16.units_per_s charnn_lstm_bf16.units_per_s
  ratio_row "charnn Elman f32 / PyTorch Elman (OpenBLAS)" charnn_elman_f32.units_per_s torch_elman.units_per_s
  ratio_row "charnn Elman bf16 / PyTorch Elman (OpenBLAS)" charnn_elman_bf16.units_per_s torch_elman.units_per_s
  ratio_row "charnn LSTM f32 training, of the sgemm peak" charnn_lstm_f32.units_per_s sgemm_gflops "$lstm_flops" 1e9
  ratio_row "PyTorch LSTM training, of the sgemm peak" torch_lstm.units_per_s sgemm_gflops "$lstm_flops" 1e9
  ratio_row "charnn GRU f32 training, of the sgemm peak" charnn_gru_f32.units_per_s sgemm_gflops "$gru_flops" 1e9
  if [ -s "$work/notes" ]; then
    echo
    echo "Not measured:"
    sed 's/^/- /' "$work/notes"
  fi
)
echo
echo "$table"
if [ "$record" = 1 ]; then
  printf '\n%s\n' "$table" >> "$here/RESULTS.md"
  echo "compare: appended to bench/RESULTS.md" >&2
fi
