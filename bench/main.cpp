// kvmsim_bench entry point: Google Benchmark's own main (flags such as --benchmark_filter and
// --benchmark_out pass straight through; scripts/bench.sh is the usual way to run it).
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
