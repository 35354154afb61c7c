#!/usr/bin/env bash
# The main job (README "Quick start"): installs missing Debian packages, builds (CUDA whenever
# nvcc is present), and runs `seqmix suite` — check, bench, plots, report — into
# results/runs/<run-id>/. Extra arguments go to `seqmix suite` (e.g. --preset ci).
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/deps.sh
seqmix_require_packages base
ci/build.sh build -Dtests=auto
exec build/seqmix suite "$@"
