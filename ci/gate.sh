#!/usr/bin/env bash
# The regression gate (ci/test.sh runs it after the tests): the `ci` bench suite in ratio mode,
# judged by `seqmix gate` against the committed baseline of this hardware id,
# results/baselines/<hardware-id>/ci/. Where there is none, says so and skips the timing gate.
# A timing regression is timed again and counts only when it shows twice (seqmix gate --confirm).
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
rc=0
"$build/seqmix" gate --baseline "$base" --current "$run" | tee "$build/gate.log" || rc=$?
[ "$rc" -eq 1 ] || exit "$rc"
# A timing regression must show twice: time the ops that regressed once more, and judge again with
# --confirm (docs/gating.md). Errors and failed checks (no change column) are not retried.
ops=$(awk '$1 == "regressed" && $5 != "-" { split($2, a, "/"); print a[1] }' "$build/gate.log" | sort -u | paste -sd, -)
[ -n "$ops" ] || exit 1
echo "seqmix gate: timing regressions in $ops; timing them again to confirm"
rm -rf "$run-confirm"
"$build/seqmix" bench --suite ci --op "$ops" --ratio --repetitions 9 --device cpu --out "$run-confirm" \
  >> "$build/gate-bench.log"
"$build/seqmix" gate --baseline "$base" --current "$run" --confirm "$run-confirm"
