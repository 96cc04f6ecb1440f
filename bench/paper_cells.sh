#!/usr/bin/env bash
# The paper's cells (Karpathy, Johnson and Fei-Fei 2015: a quote cell, a line-position cell)
# looked for in a trained War and Peace model: `charnn inspect` over the whole book with the
# built-in probes and two hypothesis searches (quoted text, text in parentheses), its time and
# peak RSS, and the HTML report rendered in headless Chromium at desktop and phone width.
# A quotation ends at its closing quote or at a blank line, as the built-in in_quotes probe's
# does: a speech of several paragraphs reopens its quote in each one and closes it only in the
# last, so a match that may cross paragraphs pairs the quotes wrongly from the first such speech
# on ("[^"]*" selected 56% of the book).
#
#   bench/paper_cells.sh RUN_DIR [TEXT]      default TEXT: ../shared/corpora/warpeace.txt
#
# Train the model first, e.g. for the issue's 2-hour model (the peer is not needed):
#   PEER=skip bench/quality.sh 120 warpeace
#   bench/paper_cells.sh bench/quality-runs/charnn-defaults-warpeace-120m
#
# Writes into RUN_DIR: paper-cells.txt (the terminal report, then "time: S s, peak RSS: M MB"),
# paper-cells.html, paper-cells.png (1400x1800) and paper-cells-phone.png (390x1600).
# MAX_UNITS=N analyses only the first N units (default 0: the whole book, two passes of about
# 5 minutes each for a 2x512 model on 2 cores). Run it on an idle machine.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -ge 1 ] || { sed -n 2,17p "$0" >&2; exit 2; }
run=$1
text=${2:-$root/../shared/corpora/warpeace.txt}
charnn=${CHARNN:-$root/build/bin/charnn}
[ -d "$run" ] || { echo "paper_cells: no run directory $run" >&2; exit 1; }
[ -f "$text" ] || { echo "paper_cells: no text $text" >&2; exit 1; }
[ -x "$charnn" ] || { echo "paper_cells: $charnn not found; build first (scripts/build.sh)" >&2; exit 1; }
source "$here/lib.sh"  # busy
load=$(busy)
echo "paper_cells: CPUs ${load}% busy before the start" \
     "$([ "$load" -gt 10 ] && echo "(NOT idle: the time will be off)")" >&2

out=$run/paper-cells
/usr/bin/time -o "$out.time" -f "%e %M" \
  "$charnn" inspect --model "$run" --text "$text" --max-units "${MAX_UNITS:-0}" --top 5 \
    --select '"(?:[^"\n]|\n(?!\n))*(?:"|(?=\n\n))' --select '\([^)]*\)' --html "$out.html" > "$out.txt"
read -r seconds kb < "$out.time"
rm -f "$out.time"
echo "time: $seconds s, peak RSS: $((kb / 1024)) MB" >> "$out.txt"
cat "$out.txt"
"$root/scripts/screenshot-report.sh" "$out.html" "$out.png" 1400x1800 > /dev/null
"$root/scripts/screenshot-report.sh" "$out.html" "$out-phone.png" 390x1600 > /dev/null
echo "paper_cells: $out.txt, $out.html, $out.png, $out-phone.png" >&2
