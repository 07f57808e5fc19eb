#!/usr/bin/env bash
# Builds kvmsim_bench in Release (own build dir build-bench/, or $KVMSIM_BENCH_DIR, e.g. the
# build-release/ of scripts/bench-profile.sh) and runs it, writing the results to DIR/bench.json. Extra arguments pass through to the benchmark binary, e.g.
#   scripts/bench.sh --benchmark_filter=TdpMmuMap
# A bare first argument that does not start with "--" is taken as a filter regex.
# KVMSIM_WERROR is off here: GCC 12 at -O2/-O3 emits false -Wrestrict warnings in std::string
# code; the warnings-as-errors gate is the Debug build of scripts/build.sh / CI.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${KVMSIM_BENCH_DIR:-build-bench}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DKVMSIM_WERROR=OFF >/dev/null
cmake --build "$dir" -j2 --target kvmsim_bench
args=()
if [[ $# -gt 0 && "$1" != --* ]]; then
  args+=("--benchmark_filter=$1")
  shift
fi
exec "./$dir/kvmsim_bench" --benchmark_out="$dir/bench.json" --benchmark_out_format=json \
  --benchmark_counters_tabular=true "${args[@]}" "$@"
