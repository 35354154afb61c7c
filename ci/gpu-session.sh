#!/usr/bin/env bash
# Run on the lent GPU machine (device tool, `carry: ["debs"]`): unpacks the carried packages into a
# prefix, builds seqmix with CUDA, runs the test runner (every CUDA variant against its reference),
# compute-sanitizer over the CUDA checks once, and the paper suite on the GPU; results go to $OUT
# to be plotted and reported on the CPU machine (gnuplot is not carried).
#   ci/gpu-session.sh [OPS...]            e.g. ci/gpu-session.sh attention dma attention_decode
# Without OPS every op is benchmarked. $OUT gets few files (the device tool brings back at most 8):
# session.log (every stage's output), info.json, check.json, and bench-<op>.json per op, with
# peers-<op>.json beside it where PyTorch is importable and the op has a PyTorch peer (fftconv,
# monarch, attention: bench/peers/torch_peers.py, timed in the same command on the same GPU). Back here:
# copy bench-<op>.json and peers-<op>.json into one directory as bench.json and peers.json, then
# `seqmix report --run DIR` (docs/peers.md).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/seqmix-out}"
mkdir -p "$OUT"
P="$PWD/deps"
mkdir -p "$P"
for f in debs/*.deb; do dpkg -x "$f" "$P"; done
# Debian's .pc files name /usr and list private requirements the prefix cannot resolve
find "$P" -name '*.pc' -exec sed -E -i \
  -e "s#^(prefix|libdir|includedir)=/usr(/|\$)#\1=$P/usr\2#" \
  -e '/^(Requires|Libs)\.private:/d' {} +
lib="$P/usr/lib/x86_64-linux-gnu"
export PKG_CONFIG_PATH="$lib/pkgconfig:$lib/openblas-pthread/pkgconfig"
export LD_LIBRARY_PATH="$lib:$lib/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
command -v pkg-config >/dev/null || export PKG_CONFIG="$P/usr/bin/pkgconf"
export PATH="/usr/local/cuda/bin:$PATH"

stage() { # name, command...: runs it, appends its output to session.log, says how it ended
  local name=$1; shift
  echo "===== $name: $*" >>"$OUT/session.log"
  "$@" >"/tmp/stage-$name.log" 2>&1
  local rc=$?
  cat "/tmp/stage-$name.log" >>"$OUT/session.log"
  echo "gpu-session: $name exit $rc"
  tail -n 3 "/tmp/stage-$name.log"
  return $rc
}

stage build ci/build.sh build -Dtests=enabled -Dcuda=enabled || exit 1
stage info build/seqmix info --json
cp /tmp/stage-info.log "$OUT/info.json"
stage tests meson test -C build -v
stage check build/seqmix check --verbose --out "$OUT/check.json"
if command -v compute-sanitizer >/dev/null; then
  stage sanitizer compute-sanitizer --error-exitcode 9 build/seqmix check --device cuda --no-fd
fi
peers=0
python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null &&
  stage peers-self-test python3 bench/peers/torch_peers.py --self-test && peers=1
ops=("$@")
[ ${#ops[@]} -eq 0 ] && ops=("")
for op in "${ops[@]}"; do
  sel=(); [ -n "$op" ] && sel=(--op "$op")
  stage "bench-${op:-all}" build/seqmix bench --suite paper --device cuda "${sel[@]}" --out "/tmp/bench-${op:-all}" &&
    cp "/tmp/bench-${op:-all}/bench.json" "$OUT/bench-${op:-all}.json" || continue
  case "${op:-fftconv}" in fftconv | monarch | attention) ;; *) continue ;; esac
  pops=fftconv,monarch,attention; [ -n "$op" ] && pops=$op
  [ $peers = 1 ] && stage "peers-${op:-all}" python3 bench/peers/torch_peers.py "/tmp/bench-${op:-all}" --device cuda --ops "$pops" &&
    cp "/tmp/bench-${op:-all}/peers.json" "$OUT/peers-${op:-all}.json"
done
