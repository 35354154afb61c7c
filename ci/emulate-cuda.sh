#!/usr/bin/env bash
# Checks every CUDA variant on the CPU under the CUDA emulator (emu/, docs/cuda-emulation.md):
# builds BUILD_DIR (default build-emu) with -Demulate_cuda=true under AddressSanitizer +
# UndefinedBehaviorSanitizer — device memory and dynamic shared memory are exact-size host
# allocations, so an out-of-bounds access in a kernel is reported as compute-sanitizer's memcheck
# would — then runs the emulator's own tests, `seqmix check --device cuda` (all CUDA variants,
# every op's check shapes, forward and backward, against the fp64 references) and the CUDA model
# tests. Needs the CUDA toolkit's headers, no GPU.
#   ci/emulate-cuda.sh [BUILD_DIR]
# ci/test.sh runs it; the JSON of the checks is left in BUILD_DIR/check-emulated.json.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build-emu}"

if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH" # meson finds the toolkit (and its headers) through nvcc
fi
if ! command -v nvcc >/dev/null 2>&1; then
  echo "seqmix: no CUDA toolkit (nvcc) here: the emulated CUDA checks need its headers; skipped"
  exit 0
fi

ci/build.sh "$dir" -Demulate_cuda=true -Dtests=enabled -Dcuda=disabled -Db_sanitize=address,undefined \
  -Db_lundef=false -Dbuildtype=debugoptimized
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" LSAN_OPTIONS="suppressions=$PWD/ci/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
"$dir/seqmix" info | sed -n '/^gpu 0/p'
"$dir/tests/seqmix_tests" --filter 'cuda_emu/*' --jobs=2
"$dir/seqmix" check --device cuda --out "$dir/check-emulated.json"
"$dir/tests/seqmix_tests" --filter 'model_cuda/*' --jobs=2
"$dir/tests/seqmix_tests" --filter 'gpu/*' --jobs=2
