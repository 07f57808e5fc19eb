// HeapMeter: live heap bytes of this process, counted by the replacement global operator
// new/delete in heap_meter.cpp (malloc_usable_size, so allocator rounding is included).
// Benchmarks take the difference of live_bytes() around building a structure to report its real
// memory footprint (e.g. `pt_bytes` of a TdpMmu) without knowing the model's private layouts.
// Invariant: the counters only ever reflect allocations made through operator new; malloc()
// called directly is not seen. Not thread-safe by design: benchmarks here are single-threaded.
#pragma once

#include <cstdint>

namespace kvmsim::bench {

std::uint64_t heap_live_bytes();

}  // namespace kvmsim::bench
