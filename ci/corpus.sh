#!/bin/sh
# Writes the natural-language byte corpus of the RoPE-in-SSD perplexity experiment
# (docs/sweeps.md, "rope-ssd") from Debian's fortune cookie files, installing the packages
# `fortunes` and `fortunes-min` when they are missing (as root; otherwise it prints the apt-get line).
#
#   ci/corpus.sh [OUT]          # OUT defaults to $SEQMIX_DATA/corpus.txt ($SEQMIX_DATA: data)
#
# The text: every fortune file of /usr/share/games/fortunes (fortune-mod 1.99.1's data, BSD
# licence: /usr/share/doc/fortunes/copyright) except `ascii-art` (drawings, not language), in name
# order, with the "%" separator lines dropped and the overstrike sequences (c BACKSPACE c, used for
# bold) reduced to their last character and stray backspaces dropped: about 2.5 MB of English quotations, jokes, poems and
# definitions. Debian 12's packages give the same bytes on every machine; the script prints the
# corpus's size and SHA-256 so a report can name it.
set -eu

out="${1:-${SEQMIX_DATA:-data}/corpus.txt}"
dir=/usr/share/games/fortunes
missing=""
for p in fortunes fortunes-min; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ci/corpus.sh: missing Debian packages. Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
  fi
  echo "ci/corpus.sh: installing$missing"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# regular files only: the .u8 names are links to the same files, the .dat files are indexes
find "$dir" -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' ! -name 'ascii-art' | LC_ALL=C sort |
  while read -r f; do
    LC_ALL=C sed -e '/^%$/d' -e 's/.\x08//g' -e 's/\x08//g' "$f"
  done >"$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "ci/corpus.sh: wrote $out: $(wc -c <"$out") bytes, sha256 $(sha256sum "$out" | cut -d' ' -f1)"
