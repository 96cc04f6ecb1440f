#!/usr/bin/env bash
# Downloads well-known public corpora into corpora/downloads/ and checks their sha256.
#
#   corpora/download.sh [tiny-shakespeare] [war-and-peace]     (default: both)
#
# NOT TESTED in CI or on the machines this was written on: they have no internet access. The
# script is kept deliberately small so that it is easy to check by reading.
#
# Checksums:
#   tiny-shakespeare  pinned below (1,115,394 bytes; the same value TensorFlow Datasets pins for
#                     this URL in tensorflow_datasets/url_checksums/tiny_shakespeare.txt).
#   war-and-peace     Project Gutenberg re-issues its files (headers, fixes), so no checksum stays
#                     valid for long. Unless CHARNN_WARPEACE_SHA256 is set, the first download is
#                     recorded in corpora/downloads/SHA256SUMS and later downloads must match it.
# After the download the Gutenberg licence header and footer are cut off (the text between the
# "*** START OF" and "*** END OF" lines is kept) into warpeace.txt; the raw file stays next to it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dest=$here/downloads
sums=$dest/SHA256SUMS
mkdir -p "$dest"
touch "$sums"

fetch() {  # fetch NAME URL EXPECTED_SHA256 (empty: trust on first use)
  local name=$1 url=$2 want=$3 file=$dest/$1.raw
  if command -v curl >/dev/null; then
    curl -fsSL --retry 3 -o "$file.part" "$url"
  elif command -v wget >/dev/null; then
    wget -q -O "$file.part" "$url"
  else
    echo "download: need curl or wget" >&2
    return 1
  fi
  local got
  got=$(sha256sum "$file.part" | cut -d' ' -f1)
  if [ -z "$want" ]; then
    want=$(awk -v n="$name" '$2 == n {print $1}' "$sums")
    if [ -z "$want" ]; then
      echo "download: $name has no pinned checksum; recording $got (trust on first use)" >&2
      echo "$got $name" >> "$sums"
      want=$got
    fi
  fi
  if [ "$got" != "$want" ]; then
    rm -f "$file.part"
    echo "download: $name: sha256 $got does not match the expected $want." >&2
    echo "  The file at $url changed or the download was corrupted; nothing was kept." >&2
    return 1
  fi
  mv -f "$file.part" "$file"
  echo "download: $name ok ($(wc -c < "$file") bytes, sha256 $got)" >&2
}

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(tiny-shakespeare war-and-peace)
for c in "${want[@]}"; do
  case $c in
    tiny-shakespeare)
      fetch tiny-shakespeare \
        https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt \
        86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed
      cp "$dest/tiny-shakespeare.raw" "$dest/tiny-shakespeare.txt"
      ;;
    war-and-peace)
      fetch war-and-peace https://www.gutenberg.org/cache/epub/2600/pg2600.txt \
        "${CHARNN_WARPEACE_SHA256:-}"
      # Keep the novel, not the licence boilerplate around it (charnn handles the BOM and CRLF).
      awk '/^\*\*\* *END OF/ {exit} body {print} /^\*\*\* *START OF/ {body=1}' \
        "$dest/war-and-peace.raw" > "$dest/warpeace.txt"
      [ -s "$dest/warpeace.txt" ] || cp "$dest/war-and-peace.raw" "$dest/warpeace.txt"
      ;;
    *)
      echo "download: unknown corpus '$c' (known: tiny-shakespeare, war-and-peace)" >&2
      exit 2
      ;;
  esac
done
echo "download: files are in $dest; e.g. charnn vocab $dest/tiny-shakespeare.txt" >&2
