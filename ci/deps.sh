# Sourced by ci/suite.sh and ci/test.sh: installs the Debian packages seqmix needs when they are
# missing (as root), or prints the exact apt-get line and stops (otherwise).
#   . ci/deps.sh && seqmix_require_packages base|test

SEQMIX_PKGS_BASE="meson ninja-build pkg-config gcc g++ git libbenchmark-dev libfftw3-dev libopenblas-dev libjansson-dev gnuplot-nox"
SEQMIX_PKGS_TEST="libcriterion-dev"

seqmix_require_packages() {
  local want="$SEQMIX_PKGS_BASE" missing="" p
  [ "${1:-base}" = test ] && want="$want $SEQMIX_PKGS_TEST"
  for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "seqmix: missing Debian packages. Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
  fi
  echo "seqmix: installing missing Debian packages:$missing"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}
