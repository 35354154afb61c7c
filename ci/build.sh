#!/usr/bin/env bash
# Configures and builds seqmix into a build directory, with CUDA whenever nvcc is present.
#   ci/build.sh [BUILD_DIR] [meson options...]        (default BUILD_DIR: build)
# Prints the CUDA decision. -Dcuda=... among the options overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
[ $# -gt 0 ] && shift

if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
cuda_opt=()
case " $* " in
  *" -Dcuda="*) echo "seqmix: CUDA setting given on the command line ($*)" ;;
  *)
    if command -v nvcc >/dev/null 2>&1; then
      echo "seqmix: nvcc found ($(command -v nvcc), $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/CUDA \1/p')): building the CUDA variants (-Dcuda=enabled)"
      cuda_opt=(-Dcuda=enabled)
    else
      echo "seqmix: no nvcc found: CPU-only build (-Dcuda=disabled)"
      cuda_opt=(-Dcuda=disabled)
    fi ;;
esac

if [ -f "$dir/build.ninja" ]; then
  meson setup --reconfigure "$dir" "${cuda_opt[@]}" "$@" >/dev/null
else
  meson setup "$dir" "${cuda_opt[@]}" "$@" >/dev/null
fi
ninja -C "$dir"
