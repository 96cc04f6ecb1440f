#!/usr/bin/env bash
# Builds corpora/fortunes.txt, the default training corpus, from the quotation files of Debian's
# `fortunes` package (/usr/share/games/fortunes). See corpora/README.md for provenance and licence.
#
#   corpora/assemble-default.sh [OUTPUT]      (default: corpora/fortunes.txt)
#   FORTUNES_DIR=/elsewhere corpora/assemble-default.sh
#
# What it does, and why:
#   - takes the plain-text files only: not the .dat indexes strfile made, not the .u8 symlinks
#     (they point at the same files), not the offensive collection in off/ (fortunes-off);
#   - concatenates them in byte order of their names, so every machine gets the same corpus;
#   - turns each "%" separator line into an empty line, so quotations stay one blank line apart;
#   - resolves typewriter overstriking ("_\bX" underlines X, "____\b\b\b\bword" underlines a word)
#     to the plain text, and drops other control characters (a few BELs), which are not prose;
#   - repairs mojibake: a few quotations were UTF-8 read as Latin-1 and saved again as UTF-8, once
#     or twice ("donÃ¢ÂÂt", "Â£5", "LinuxkongreÃ"). A line made only of characters up to U+00FF
#     whose Latin-1 bytes are valid UTF-8 is decoded again, until that no longer holds; real
#     Latin-1 text ("über", "état") is not valid UTF-8 as bytes and stays as it is.
# Idempotent: the output is rewritten only when its content would change. Takes well under a
# second.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${FORTUNES_DIR:-/usr/share/games/fortunes}
out=${1:-$here/fortunes.txt}

if [ ! -d "$src" ]; then
  echo "assemble-default: $src not found; install Debian's fortunes package" \
       "(sudo apt-get install fortunes, or scripts/install-deps.sh)" >&2
  exit 1
fi

# Other packages put their files in the same directory (fortunes-zh adds "chinese", fortunes-de
# its own); only the files of fortunes and fortunes-min (which it depends on) make the default
# corpus, so it does not change when they are installed.
owned=""
if [ -z "${FORTUNES_DIR:-}" ] && owned=$(dpkg-query -L fortunes fortunes-min 2>/dev/null); then :; else owned=""; fi
files=()
while IFS= read -r -d '' f; do
  if [ -n "$owned" ] && ! grep -qxF "$f" <<<"$owned"; then continue; fi
  files+=("$f")
done < <(
  find "$src" -mindepth 1 -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' ! -name '.*' -print0 |
    LC_ALL=C sort -z)
if [ ${#files[@]} -eq 0 ]; then
  echo "assemble-default: no fortune files in $src; reinstall the fortunes package" >&2
  exit 1
fi

tmp=$(mktemp "$out.tmp.XXXXXX")
trap 'rm -f "$tmp"' EXIT

# perl is part of every Debian system (perl-base is Essential).
LC_ALL=C.UTF-8 perl -CSD -ne '
  if (/\x08/) {
    # Replay the line on a virtual typewriter: a backspace moves back one column, and a
    # character typed over "_" (or "_" typed over a character) leaves the character.
    my @cells; my $col = 0;
    for my $ch (split //) {
      if ($ch eq "\x08") { $col-- if $col > 0; next; }
      $cells[$col] = $ch unless defined $cells[$col] && $ch eq "_";
      $col++;
    }
    $_ = join "", map { defined $_ ? $_ : " " } @cells;
  }
  for (my $round = 0; $round < 3 && /[\x{80}-\x{FF}]/; $round++) {
    my $bytes = $_;
    last unless utf8::downgrade($bytes, 1);  # a character above U+00FF: not mojibake
    last unless utf8::decode($bytes) && $bytes ne $_;
    $_ = $bytes;
  }
  s/[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x{9F}]//g;
  $_ = "\n" if $_ eq "%\n" || $_ eq "%";
  print;
  print "\n" if eof && !/\n\z/;   # a file without a final newline
' "${files[@]}" > "$tmp"

bytes=$(wc -c < "$tmp")
if [ "$bytes" -lt 100000 ]; then
  echo "assemble-default: only $bytes bytes assembled from $src; is the fortunes package complete?" >&2
  exit 1
fi
if [ -f "$out" ] && cmp -s "$tmp" "$out"; then
  exit 0  # already up to date
fi
chmod 644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "assemble-default: wrote $out ($bytes bytes from ${#files[@]} files in $src)" >&2
