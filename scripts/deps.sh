#!/usr/bin/env bash
# Installs the Debian packages kvmsim needs, only those missing (--bench: plus gnuplot-nox for plots,
# valgrind and time for scripts/bench-profile.sh). Idempotent; needs root for apt-get.
set -euo pipefail
pkgs=(cmake g++ make git libgtest-dev librapidcheck-dev libbenchmark-dev libcli11-dev)
# kvmsim map's render test (scripts/map-render-test.sh): a headless browser and a PNG checker.
pkgs+=(chromium imagemagick)
# --bench: also what scripts/bench-plot.sh needs (not part of the quick start).
if [[ "${1:-}" == --bench ]]; then pkgs+=(gnuplot-nox valgrind time); fi
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps: need root to install ${missing[*]} (run as root or install them first)" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
