// TdpMmu benchmarks: building the page table of a consecutive gfn range at 4K / 2M / 1G (what
// KVM_PRE_FAULT_MEMORY or a first-touch storm costs), and the dirty-logging cycle on a range
// mapped at 2M (eager split to 4K when logging starts, in-place recovery when it stops).
// Only the MMU operations are timed (manual time): building the TdpMmu before and freeing it after
// are outside the measurement. Counters:
//   ns_per_page / pages_per_s  per leaf installed (one map() call each)
//   pages_4k/2m/1g             the MMU's own statistics after the operation
//   pt_bytes                   live heap bytes held by the TdpMmu (measured, allocator rounding
//                              included)
//   kernel_pt_bytes            what KVM would hold: 4 KiB per page-table page (8 B per SPTE)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>

#include "bench/guest_sizes.h"
#include "bench/heap_meter.h"
#include "model/mmu/tdp_mmu.h"

namespace kvmsim::bench {
namespace {

using model::MapFaultInfo;
using model::SpteAttrs;
using model::TdpMmu;
using Clock = std::chrono::steady_clock;

constexpr u64 kGiB = 1ull << 30;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Page-table pages KVM needs to map [0, npages) with leaves at `leaf_level` under a root of
// `root_level`: one table per 512^l pages at every level l from the leaf level up, plus the root.
u64 kernel_page_table_bytes(u64 npages, int leaf_level, int root_level) {
  u64 tables = 1;
  for (int l = leaf_level; l < root_level; ++l) {
    const u64 span = 1ull << (9 * l);  // 4K pages covered by one table of SPTEs at level l
    tables += (npages + span - 1) / span;
  }
  return tables * 4096;
}

void set_mmu_counters(benchmark::State& state, const TdpMmu& mmu, u64 pt_bytes, u64 npages4k,
                      int leaf_level) {
  state.counters["pages_4k"] = static_cast<double>(mmu.pages(1));
  state.counters["pages_2m"] = static_cast<double>(mmu.pages(2));
  state.counters["pages_1g"] = static_cast<double>(mmu.pages(3));
  state.counters["pt_bytes"] = static_cast<double>(pt_bytes);
  state.counters["kernel_pt_bytes"] =
      static_cast<double>(kernel_page_table_bytes(npages4k, leaf_level, mmu.root_level()));
}

// Args: {leaf level (1 = 4K, 2 = 2M, 3 = 1G), range in GiB}.
void BM_TdpMmuMap(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const u64 bytes = static_cast<u64>(state.range(1)) * kGiB;
  const u64 step = model::pages_per_hpage(level);
  const u64 npages4k = bytes >> 12;
  const u64 leaves = npages4k / step;
  const SpteAttrs attrs{.writable = true, .executable = true};
  const MapFaultInfo fault{.req_level = level, .prefetch = true};
  u64 pt_bytes = 0;
  for (auto _ : state) {
    const u64 heap0 = heap_live_bytes();
    auto mmu = std::make_unique<TdpMmu>(4, 3, false);
    const auto t0 = Clock::now();
    for (u64 gfn = 0; gfn < npages4k; gfn += step) {
      auto r = mmu->map(gfn, level, attrs, fault);
      benchmark::DoNotOptimize(r);
    }
    state.SetIterationTime(seconds_since(t0));
    pt_bytes = heap_live_bytes() - heap0;
    if (mmu->pages(level) != leaves) {
      state.SkipWithError("map() did not install one leaf per call");
      break;
    }
    set_mmu_counters(state, *mmu, pt_bytes, npages4k, level);
    mmu.reset();  // untimed: manual time covers only the map loop
  }
  state.counters["ns_per_page"] = benchmark::Counter(
      static_cast<double>(leaves) * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["pages_per_s"] =
      benchmark::Counter(static_cast<double>(leaves), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["ns_per_4k_of_guest"] = benchmark::Counter(
      static_cast<double>(npages4k) * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_TdpMmuMap)
    ->ArgNames({"level", "GiB"})
    ->Args({1, 1})
    ->Args({2, 1})
    ->Args({3, 1})
    ->Args({1, 64})
    ->Args({2, 64})
    ->Args({3, 64})
    ->Args({2, 1024})
    ->Args({3, 1024})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// 1 TiB at 4K: 2^28 map() calls; one iteration is enough for a stable figure.
BENCHMARK(BM_TdpMmuMap)
    ->Name("BM_TdpMmuMap_1TiB_4K")
    ->ArgNames({"level", "GiB"})
    ->Args({1, 1024})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The bulk form: TdpMmu::map_range over the whole range (what the bulk pre-fault path calls).
// Args: {leaf level, GiB, root level}.
void BM_TdpMmuMapRange(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const u64 bytes = static_cast<u64>(state.range(1)) * kGiB;
  const int root = static_cast<int>(state.range(2));
  const u64 npages4k = bytes >> 12;
  const u64 leaves = npages4k >> (9 * (level - 1));
  const SpteAttrs attrs{.writable = true, .executable = true};
  const MapFaultInfo fault{.req_level = level, .prefetch = true};
  for (auto _ : state) {
    const u64 heap0 = heap_live_bytes();
    auto mmu = std::make_unique<TdpMmu>(root, 3, false);
    const auto t0 = Clock::now();
    const u64 fixed = mmu->map_range(0, npages4k, level, attrs, fault);
    state.SetIterationTime(seconds_since(t0));
    const u64 heap = heap_live_bytes() - heap0;
    if (fixed != leaves || mmu->pages(level) != leaves) {
      state.SkipWithError("map_range did not install one leaf per page");
      break;
    }
    set_mmu_counters(state, *mmu, heap, npages4k, level);
    state.counters["model_pt_bytes"] = static_cast<double>(mmu->pt_bytes());
    mmu.reset();
  }
  state.counters["ns_per_page"] = benchmark::Counter(
      static_cast<double>(npages4k) * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["ns_per_leaf"] = benchmark::Counter(
      static_cast<double>(leaves) * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["pages_per_s"] =
      benchmark::Counter(static_cast<double>(npages4k), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_TdpMmuMapRange)
    ->Apply(guest_size_sweep)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// Dirty logging on a 64 GiB range mapped at 2M: KVM_MEM_LOG_DIRTY_PAGES on splits every 2M leaf
// into 512 4K leaves (eager page split); logging off recovers them in place (6.13+).
void BM_TdpMmuDirtyLogCycle(benchmark::State& state) {
  const u64 bytes = static_cast<u64>(state.range(0)) * kGiB;
  const u64 npages4k = bytes >> 12;
  const u64 huge = npages4k / 512;
  const SpteAttrs attrs{.writable = true, .executable = true};
  const MapFaultInfo fault{.req_level = 2, .prefetch = true};
  const u64 heap0 = heap_live_bytes();
  TdpMmu mmu(4, 3, false);
  for (u64 gfn = 0; gfn < npages4k; gfn += 512) mmu.map(gfn, 2, attrs, fault);
  const auto only_2m = [](u64, int level) { return std::min(level, 2); };
  double split_s = 0, recover_s = 0;
  u64 split_pt_bytes = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    const u64 splits = mmu.split_huge_pages(0, npages4k, 1);
    const double s1 = seconds_since(t0);
    split_pt_bytes = heap_live_bytes() - heap0;
    const u64 after_split_4k = mmu.pages(1);
    t0 = Clock::now();
    const u64 recovered = mmu.recover_huge_pages(0, npages4k, only_2m);
    const double s2 = seconds_since(t0);
    state.SetIterationTime(s1 + s2);
    split_s += s1;
    recover_s += s2;
    if (splits != huge || recovered != huge || after_split_4k != npages4k || mmu.pages(2) != huge) {
      state.SkipWithError("split/recover did not convert every 2M leaf");
      break;
    }
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["split_ms"] = split_s * 1e3 / n;
  state.counters["recover_ms"] = recover_s * 1e3 / n;
  // Per 4K page created by the split (the work the kernel's eager split does per SPTE).
  state.counters["split_ns_per_page"] = split_s * 1e9 / n / static_cast<double>(npages4k);
  state.counters["recover_ns_per_2m"] = recover_s * 1e9 / n / static_cast<double>(huge);
  // Footprint at the peak (everything split to 4K); recovery leaves the empty 4K tables freed.
  state.counters["split_pt_bytes"] = static_cast<double>(split_pt_bytes);
  state.counters["kernel_split_pt_bytes"] =
      static_cast<double>(kernel_page_table_bytes(npages4k, 1, mmu.root_level()));
  set_mmu_counters(state, mmu, heap_live_bytes() - heap0, npages4k, 2);
}

BENCHMARK(BM_TdpMmuDirtyLogCycle)->ArgName("GiB")->Arg(64)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kvmsim::bench
