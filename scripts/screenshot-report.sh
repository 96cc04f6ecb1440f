#!/usr/bin/env bash
# Renders an HTML report (from `charnn inspect --html`) in headless Chromium and saves a PNG, to
# check that the page renders and is readable without network access.
# Usage: scripts/screenshot-report.sh REPORT.html [OUT.png] [WIDTHxHEIGHT]
#   default OUT: REPORT.png next to the report; default size 1400x1800.
set -euo pipefail
if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  echo "usage: $0 REPORT.html [OUT.png] [WIDTHxHEIGHT]" >&2
  exit 2
fi
report=$(realpath "$1")
out=${2:-${report%.html}.png}
size=${3:-1400x1800}
browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" > /dev/null; then browser=$b; break; fi
done
if [[ -z $browser ]]; then
  echo "$0: no chromium found (Debian: apt-get install chromium)" >&2
  exit 1
fi
[[ -f $report ]] || { echo "$0: no such report: $1" >&2; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# A throw-away profile and every background service off: the page must render on its own.
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$profile" --window-size="${size/x/,}" \
  --screenshot="$(realpath -m "$out")" "file://$report" > /dev/null 2>&1
[[ -s $out ]] || { echo "$0: chromium wrote no screenshot" >&2; exit 1; }
echo "$out"
