#!/usr/bin/env bash
# The README's main command: installs what is missing, builds charnn in Release, assembles the
# default corpus (English quotations from Debian's fortunes package), trains a model on it for a
# short time budget, prints a sample seeded with a phrase from the corpus, and writes the
# inspection report for the model.
#   CHARNN_DEMO_TIME   training budget (default 4m)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
corpora/assemble-default.sh
charnn=${CHARNN_BUILD_DIR:-build}/bin/charnn
corpus=corpora/fortunes.txt
budget=${CHARNN_DEMO_TIME:-4m}

echo "== vocabulary of $corpus"
"$charnn" vocab "$corpus"
echo
echo "== training for $budget (the run goes to runs/, runs/latest points at it)"
"$charnn" train "$corpus" --time "$budget"
echo
echo "== sample: charnn sample --seed \"The man who\""
"$charnn" sample --seed "The man who" --length 400 --random-seed 1
echo
echo
echo "== inspecting what the hidden units learned (first 100,000 units of the corpus)"
"$charnn" inspect --text "$corpus" --max-units 100000 --html runs/latest/report.html
