#!/usr/bin/env bash
# Installs the Debian packages kvmsim needs, only those missing (--bench: plus gnuplot-nox for plots,
# valgrind and time for scripts/bench-profile.sh; --sanitize: plus clang-16 for the sanitizer and libFuzzer
# builds). Idempotent; needs root for apt-get.
set -euo pipefail
pkgs=(cmake g++ make git libgtest-dev librapidcheck-dev libbenchmark-dev libcli11-dev)
# kvmsim map's render test (scripts/map-render-test.sh): a headless browser and a PNG checker.
pkgs+=(chromium imagemagick)
# The sharded-campaign test (scripts/shard-test.sh): two GNU parallel workers.
pkgs+=(parallel)
# --bench: also what scripts/bench-plot.sh needs (not part of the quick start).
# --sanitize: clang 16 and its runtimes (ASan, UBSan, libFuzzer) for scripts/sanitize.sh and
# scripts/fuzz-libfuzzer.sh (Debian 12's default clang 14 lacks std::source_location), and GNU parallel
# for the sharded-campaign test (scripts/shard-test.sh).
for arg in "$@"; do
  case "$arg" in
    --bench) pkgs+=(gnuplot-nox valgrind time) ;;
    --sanitize) pkgs+=(clang-16 libclang-rt-16-dev parallel) ;;
  esac
done
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
