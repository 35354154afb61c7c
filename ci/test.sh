#!/usr/bin/env bash
# The test command (README "Quick start"; .ci/run calls it):
#   installs missing Debian packages, builds (CUDA whenever nvcc is present), runs the Criterion
#   runner under `meson test -v`, then builds the CPU code again under ASan + UBSan and runs the
#   same tests there, then checks every CUDA variant on the CPU under the CUDA emulator
#   (ci/emulate-cuda.sh). GPU tests skip with the reason where no GPU is usable.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/deps.sh
seqmix_require_packages test

echo "== seqmix: build and test =="
ci/build.sh build -Dtests=enabled
meson test -C build -v

echo "== seqmix: CPU tests under AddressSanitizer + UndefinedBehaviorSanitizer =="
ci/build.sh build-asan -Dtests=enabled -Dcuda=disabled -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" LSAN_OPTIONS="suppressions=$PWD/ci/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" meson test -C build-asan -v

echo "== seqmix: the CUDA variants on the CPU, under the CUDA emulator (docs/cuda-emulation.md) =="
ci/emulate-cuda.sh build-emu

echo "== seqmix: regression gate (ci suite, ratio mode) =="
ci/gate.sh build
