#!/usr/bin/env bash
# The regression gate (ci/test.sh runs it after the tests): the `ci` bench suite in ratio mode,
# judged by `seqmix gate` against the committed baseline of this hardware id,
# results/baselines/<hardware-id>/ci/. Where there is none, says so and skips the timing gate.
#   ci/gate.sh [BUILD_DIR]          (default build)
# Make or refresh the baseline (commit it with a line in its README):
#   build/seqmix bench --suite ci --ratio --repetitions 9 --device cpu --out /tmp/run
#   build/seqmix gate --baseline results/baselines/$(build/seqmix info --id)/ci --current /tmp/run --update-baseline
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
hw=$("$build/seqmix" info --id)
base="results/baselines/$hw/ci"
run="$build/gate-run"
rm -rf "$run"
"$build/seqmix" bench --suite ci --ratio --repetitions 9 --device cpu --out "$run" > "$build/gate-bench.log"
if [ ! -f "$base/bench.json" ]; then
  echo "seqmix gate: no committed baseline for hardware '$hw' ($base/bench.json): timing gate skipped"
  exit 0
fi
"$build/seqmix" gate --baseline "$base" --current "$run"
