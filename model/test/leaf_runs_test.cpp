// Leaf runs (model/mmu/leaf_runs.h): the snapshot is the same on both page-table implementations,
// maximal, cheap for huge uniform ranges, and the diff says what a change installed and zapped.
#include <gtest/gtest.h>

#include "model/mmu/leaf_runs.h"
#include "model/mmu/page_table_factory.h"
#include "model/mmu/tdp_mmu.h"

namespace kvmsim::model {
namespace {

constexpr u64 k2M = 512, k1G = 512 * 512;  // in gfns
const SpteAttrs kRw{true, true, false, false, false};
const SpteAttrs kRo{false, true, false, false, false};

TEST(LeafRuns, SameOnBothImplementationsAndMaximal) {
  for (PageTableImpl impl : {PageTableImpl::compact, PageTableImpl::reference}) {
    auto pt = make_page_table(impl, 4, 3, false);
    MapFaultInfo f;
    f.prefetch = true;
    pt->map_range(0, 4 * k2M, 1, kRw, f);  // 2048 4K leaves
    pt->map(k1G, 3, kRo, MapFaultInfo{});  // one 1G leaf
    pt->map(4 * k2M, 2, kRw, MapFaultInfo{});
    const std::vector<LeafRun> runs = leaf_runs(*pt);
    ASSERT_EQ(runs.size(), 3u) << static_cast<int>(impl);
    EXPECT_EQ(runs[0], (LeafRun{0, 8ull << 20, 1, true, true, false}));
    EXPECT_EQ(runs[1], (LeafRun{8ull << 20, 2ull << 20, 2, true, true, false}));
    EXPECT_EQ(runs[2], (LeafRun{1ull << 30, 1ull << 30, 3, false, true, false}));
  }
}

// A 1 TiB range of 4K leaves is a handful of runs, from table entries, not 2^28 leaf visits.
TEST(LeafRuns, TerabyteOf4KIsOneRun) {
  TdpMmu pt(4, 3, false);
  MapFaultInfo f;
  f.prefetch = true;
  pt.map_range(0, 1ull << 28, 1, kRw, f);
  u64 calls = 0;
  pt.for_each_leaf_run(0, pt.max_gfn_exclusive(), [&](u64, u64, int, const SpteAttrs&) { ++calls; });
  EXPECT_LE(calls, 1ull << 19);  // one per uniform level-2 entry at most
  const std::vector<LeafRun> runs = leaf_runs(pt);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].size, 1ull << 40);
}

TEST(LeafRuns, DiffNamesInstalledAndZapped) {
  const std::vector<LeafRun> before = {{0, 2ull << 20, 2, false, true, false}};
  // The 2M read-only leaf became 512 writable 4K leaves of which the last is gone.
  const std::vector<LeafRun> after = {{0, (2ull << 20) - 4096, 1, true, true, false}};
  const LeafDiff d = diff_leaf_runs(before, after);
  EXPECT_EQ(d.installed, after);
  EXPECT_EQ(d.zapped, before);
  EXPECT_TRUE(diff_leaf_runs(after, after).empty());
  // A run extended at its end: only the new part is installed.
  const std::vector<LeafRun> longer = {{0, 2ull << 20, 1, true, true, false}};
  const LeafDiff e = diff_leaf_runs(after, longer);
  EXPECT_EQ(e.installed, (std::vector<LeafRun>{{(2ull << 20) - 4096, 4096, 1, true, true, false}}));
  EXPECT_TRUE(e.zapped.empty());
}

TEST(LeafRuns, OutsideRangeClipsAtTheBounds) {
  const std::vector<LeafRun> runs = {{1ull << 30, 2ull << 20, 2, false, true, false}};
  const std::vector<LeafRun> beyond = outside_range(runs, 1ull << 30, (1ull << 30) + 4096);
  EXPECT_EQ(beyond, (std::vector<LeafRun>{{(1ull << 30) + 4096, (2ull << 20) - 4096, 2, false, true, false}}));
  EXPECT_TRUE(outside_range(runs, 0, 2ull << 30).empty());
}

}  // namespace
}  // namespace kvmsim::model
