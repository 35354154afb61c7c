#!/usr/bin/env bash
# Measures the regression gate on this machine (docs/gating.md records the results):
#   false alarms  N gate runs of an unchanged build against the committed baseline (target 0)
#   detection     N gate runs of a build whose cpu.fftw runs twice per timed call (-Dtest_slowdown)
#                 (target N of N)
#   ci/measure-gate.sh [N]          (default 10; needs build/ from ci/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10}"
ci/build.sh build-slow -Dtests=disabled -Dcuda=disabled -Dtest_slowdown=cpu.fftw > /dev/null
alarms=0; caught=0; t0=$(date +%s)
for i in $(seq "$n"); do
  if ci/gate.sh build > "build/measure-gate-$i.log" 2>&1; then :; else alarms=$((alarms + 1)); fi
done
t1=$(date +%s)
for i in $(seq "$n"); do
  if ci/gate.sh build-slow > "build-slow/measure-gate-$i.log" 2>&1; then :; else caught=$((caught + 1)); fi
done
t2=$(date +%s)
echo "gate on an unchanged tree: $alarms false alarms in $n runs ($(( (t1 - t0) / n )) s per bench + gate)"
echo "gate on a 2x slower cpu.fftw: caught $caught of $n runs ($(( (t2 - t1) / n )) s per bench + gate)"
