// The guest sizes the slot-mapping benchmarks sweep, shared so their rows line up in bench/README.md
// and the plot: 1 GiB, 64 GiB and 1 TiB at each leaf level (4K, 2M, 1G) with 4-level paging, plus
// 64 TiB at 2M with 5-level paging. Arguments: {level, GiB, root level}.
#pragma once

#include <benchmark/benchmark.h>

namespace kvmsim::bench {

inline void guest_size_sweep(benchmark::internal::Benchmark* b) {
  b->ArgNames({"level", "GiB", "root"});
  for (long gib : {1L, 64L, 1024L})
    for (long level : {1L, 2L, 3L}) b->Args({level, gib, 4});
  b->Args({2, 65536, 5});
}

}  // namespace kvmsim::bench
