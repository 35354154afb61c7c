#!/usr/bin/env bash
# Run on the CPU machine before a GPU session: downloads the Debian packages the GPU machine lacks
# (Google Benchmark, Criterion and its libraries, pkgconf, FFTW, OpenBLAS, jansson) into debs/
# (git-ignored), to be carried there and unpacked into a prefix by ci/gpu-session.sh. About 20 MB.
#   ci/gpu-debs.sh
# The list and the reasons are in the toolchain notes (carrying packages with dpkg -x).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p debs
cd debs
apt-get download \
  libbenchmark1debian libbenchmark-dev \
  libcriterion3 libcriterion-dev libboxfort-dev libnanomsg5 libgit2-1.5 libhttp-parser2.9 \
  libmbedcrypto7 libmbedtls14 libmbedx509-1 libssh2-1 \
  pkgconf-bin libpkgconf3 pkgconf \
  libfftw3-dev libfftw3-double3 libfftw3-single3 \
  libopenblas-pthread-dev libopenblas0-pthread libgfortran5 \
  libjansson4 libjansson-dev
echo "gpu-debs: $(ls | wc -l) packages, $(du -sh . | cut -f1) in debs/ (carry: debs)"
