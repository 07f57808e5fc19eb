#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "model/mmu/page_table_factory.h"
#include "model/mmu/tdp_mmu.h"

using namespace kvmsim;
using namespace kvmsim::model;

namespace {

constexpr u64 k2M = 512, k1G = 512 * 512;  // in gfns
const SpteAttrs kRWX{true, true, false, true, false};

struct Counts {
  u64 k4, m2, g1, splits;
  bool operator==(const Counts&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Counts& c) {
  return os << "{4k=" << c.k4 << " 2m=" << c.m2 << " 1g=" << c.g1 << " splits=" << c.splits << "}";
}
Counts counts(const PageTable& m) {
  m.check_invariants();
  return Counts{m.pages(1), m.pages(2), m.pages(3), m.nx_lpage_splits()};
}

// A fault as hugepage_adjust would describe it for an aligned, huge-backed region.
MapResult fault(PageTable& m, u64 gfn, bool exec, int req_level) {
  MapFaultInfo f;
  f.req_level = req_level;
  f.huge_page_disallowed = exec && m.nx_huge_pages();
  const int goal = f.huge_page_disallowed ? 1 : req_level;
  return m.map(gfn, goal, kRWX, f);
}

// Every unit test runs on the compact default and on the per-SPTE reference.
class TdpMmuBoth : public ::testing::TestWithParam<PageTableImpl> {};
INSTANTIATE_TEST_SUITE_P(TdpMmu, TdpMmuBoth, ::testing::Values(PageTableImpl::compact, PageTableImpl::reference),
                         [](const ::testing::TestParamInfo<PageTableImpl>& p) {
                           return std::string(p.param == PageTableImpl::compact ? "compact" : "reference");
                         });

}  // namespace

TEST_P(TdpMmuBoth, MapCountsLeavesPerLevel) {
  auto table = make_page_table(GetParam(), 4, 3, false);
  PageTable& m = *table;
  EXPECT_EQ(counts(m), (Counts{0, 0, 0, 0}));
  EXPECT_EQ(m.map(5, 1, kRWX, {}).level, 1);
  EXPECT_EQ(m.map(k2M, 2, kRWX, {}).level, 2);
  EXPECT_EQ(m.map(k1G, 3, kRWX, {}).level, 3);
  EXPECT_EQ(counts(m), (Counts{1, 1, 1, 0}));
  Mapping mp = m.lookup(k2M + 17);
  EXPECT_EQ(mp.level, 2);
  EXPECT_EQ(mp.gpa, k2M << 12);
  EXPECT_TRUE(mp.writable);
  EXPECT_EQ(m.lookup(6).level, 0);
  EXPECT_EQ(m.lookup(k1G + 12345).level, 3);
}

TEST_P(TdpMmuBoth, IdenticalLeafIsSpuriousAndPermissionChangeKeepsStats) {
  auto table = make_page_table(GetParam(), 4, 3, false);
  PageTable& m = *table;
  m.map(7, 1, kRWX, {});
  MapResult r = m.map(7, 1, kRWX, {});
  EXPECT_TRUE(r.spurious);
  SpteAttrs ro = kRWX;
  ro.writable = false;
  r = m.map(7, 1, ro, {});
  EXPECT_FALSE(r.spurious);
  EXPECT_FALSE(m.lookup(7).writable);
  EXPECT_EQ(counts(m), (Counts{1, 0, 0, 0}));
}

TEST_P(TdpMmuBoth, HugeLeafReplacesTableAndItsLeaves) {
  auto table = make_page_table(GetParam(), 4, 3, false);
  PageTable& m = *table;
  for (u64 g = 0; g < 10; ++g) m.map(g, 1, kRWX, {});
  EXPECT_EQ(counts(m), (Counts{10, 0, 0, 0}));
  EXPECT_EQ(m.map(3, 2, kRWX, {}).level, 2);  // fault-time recovery: +1, -10
  EXPECT_EQ(counts(m), (Counts{0, 1, 0, 0}));
}

TEST_P(TdpMmuBoth, FaultBelowHugeLeafSplitsItInPlace) {
  auto table = make_page_table(GetParam(), 4, 3, false);
  PageTable& m = *table;
  m.map(0, 3, kRWX, {});
  EXPECT_EQ(counts(m), (Counts{0, 0, 1, 0}));
  SpteAttrs ro = kRWX;
  ro.writable = false;
  m.map(k2M + 3, 1, ro, {});  // 1G -> 512x2M, one 2M -> 512x4K, one 4K replaced
  EXPECT_EQ(counts(m), (Counts{512, 511, 0, 0}));
  EXPECT_EQ(m.lookup(0).level, 2);
  EXPECT_TRUE(m.lookup(k2M + 4).writable);  // siblings inherit
  EXPECT_FALSE(m.lookup(k2M + 3).writable);
}

TEST_P(TdpMmuBoth, ZapRangeZapsOverlappingHugeLeavesEntirely) {
  auto table = make_page_table(GetParam(), 4, 3, false);
  PageTable& m = *table;
  m.map(0, 2, kRWX, {});
  m.map(k2M, 1, kRWX, {});
  m.map(k2M + 1, 1, kRWX, {});
  EXPECT_EQ(m.zap_gfn_range(k2M - 1, k2M + 1), 2u);  // the 2M leaf and gfn k2M
  EXPECT_EQ(counts(m), (Counts{1, 0, 0, 0}));
  EXPECT_EQ(m.lookup(0).level, 0);
  EXPECT_EQ(m.lookup(k2M + 1).level, 1);
  m.zap_all();
  EXPECT_EQ(counts(m), (Counts{0, 0, 0, 0}));
}

TEST_P(TdpMmuBoth, EagerSplitOf1GGives262144SmallLeaves) {
  auto table = make_page_table(GetParam(), 4, 3, false);
  PageTable& m = *table;
  m.map(k1G, 3, kRWX, {});
  EXPECT_EQ(m.split_huge_pages(k1G, 2 * k1G, 1), 1u + 512u);
  EXPECT_EQ(counts(m), (Counts{262144, 0, 0, 0}));
}

TEST_P(TdpMmuBoth, Linux61DirtyLogOnThenOffOnHugetlb1G) {
  // docs/semantics/nested-observations.md §2 rows O12-O13: a 1G hugetlb slot plus the guest's 4K code page elsewhere. 6.1: enabling
  // dirty logging splits straight to 4K (262145), disabling zaps collapsible tables (1 left).
  auto table = make_page_table(GetParam(), 4, 3, false);
  PageTable& m = *table;
  m.map(1, 1, kRWX, {});  // code page at GPA 0x1000 (slot 0)
  m.map(k1G, 3, kRWX, {});
  m.split_huge_pages(k1G, 2 * k1G, 1);
  m.write_protect_range(k1G, 2 * k1G);
  EXPECT_EQ(counts(m), (Counts{262145, 0, 0, 0}));
  EXPECT_FALSE(m.lookup(k1G + 5).writable);
  auto one_g = [](u64, int) { return 3; };
  EXPECT_EQ(m.zap_collapsible(k1G, 2 * k1G, one_g), 1u);
  EXPECT_EQ(counts(m), (Counts{1, 0, 0, 0}));
}

TEST_P(TdpMmuBoth, InPlaceRecoveryVersusZapCollapsible) {
  auto build = [this] {
    auto m = make_page_table(GetParam(), 4, 3, false);
    m->map(k1G, 3, kRWX, {});
    m->split_huge_pages(k1G, 2 * k1G, 1);
    m->write_protect_range(k1G, 2 * k1G);
    m->zap_gfn_range(k1G, k1G + 3 * k2M);  // first three 2M regions now empty tables
    return m;
  };
  // Region allows only 2M: every table with a leaf becomes a 2M leaf; empty ones stay tables.
  auto a_table = build();
  PageTable& a = *a_table;
  auto two_m = [](u64, int) { return 2; };
  EXPECT_EQ(a.recover_huge_pages(k1G, 2 * k1G, two_m), 509u);
  EXPECT_EQ(counts(a), (Counts{0, 509, 0, 0}));
  EXPECT_EQ(a.lookup(k1G + 3 * k2M + 7).level, 2);
  EXPECT_FALSE(a.lookup(k1G + 3 * k2M).writable);  // derived from the first child
  // Region allows 1G: the whole 1G table collapses to one leaf.
  auto b_table = build();
  PageTable& b = *b_table;
  EXPECT_EQ(b.recover_huge_pages(k1G, 2 * k1G, [](u64, int) { return 3; }), 1u);
  EXPECT_EQ(counts(b), (Counts{0, 0, 1, 0}));
  // Pre-6.13: the same tables are zapped, nothing is mapped until the next fault.
  auto c_table = build();
  PageTable& c = *c_table;
  EXPECT_EQ(c.zap_collapsible(k1G, 2 * k1G, two_m), 512u);
  EXPECT_EQ(counts(c), (Counts{0, 0, 0, 0}));
  // Nothing is recovered where the region does not allow it, or outside the range.
  auto d_table = build();
  PageTable& d = *d_table;
  EXPECT_EQ(d.recover_huge_pages(k1G, 2 * k1G, [](u64, int) { return 1; }), 0u);
  EXPECT_EQ(d.recover_huge_pages(k1G + 1, k1G + k2M, two_m), 0u);
  EXPECT_EQ(counts(d), (Counts{509 * 512, 0, 0, 0}));
}

TEST_P(TdpMmuBoth, RecoveredHugeLeafIsNotExecutableUnderNx) {
  auto table = make_page_table(GetParam(), 4, 3, true);
  PageTable& m = *table;
  m.map(0, 1, kRWX, {});
  EXPECT_TRUE(m.lookup(0).executable);
  m.recover_huge_pages(0, k2M, [](u64, int) { return 2; });
  EXPECT_EQ(m.lookup(0).level, 2);
  EXPECT_FALSE(m.lookup(0).executable);
}

// nx_huge_pages_test (docs/semantics/tdp-mmu.md §6): a 3x2M HugeTLB-backed slot.
TEST_P(TdpMmuBoth, NxHugePagesTestSequenceWithMitigation) {
  auto table = make_page_table(GetParam(), 4, 3, true);
  PageTable& m = *table;
  const u64 r0 = 0, r1 = k2M, r2 = 2 * k2M;
  fault(m, r0, false, 2);
  EXPECT_EQ(counts(m), (Counts{0, 1, 0, 0}));
  EXPECT_FALSE(m.lookup(r0).executable);  // huge leaves are NX under the mitigation
  fault(m, r1, false, 2);
  EXPECT_EQ(counts(m), (Counts{0, 2, 0, 0}));
  fault(m, r0, true, 2);  // exec: split the 2M leaf, children executable
  EXPECT_EQ(counts(m), (Counts{512, 1, 0, 1}));
  EXPECT_TRUE(m.lookup(r0 + 100).executable);
  fault(m, r2 + 1, true, 2);  // exec in the 3rd region: one 4K leaf in a tracked table
  EXPECT_EQ(counts(m), (Counts{513, 1, 0, 2}));
  // A read in an NX-split region must not re-create the huge page (disallowed_hugepage_adjust).
  EXPECT_EQ(fault(m, r2 + 2, false, 2).level, 1);
  EXPECT_EQ(counts(m), (Counts{514, 1, 0, 2}));
  EXPECT_EQ(m.nx_recover(), 2u);
  EXPECT_EQ(counts(m), (Counts{0, 1, 0, 0}));
  fault(m, r2, false, 2);
  EXPECT_EQ(counts(m), (Counts{0, 2, 0, 0}));
}

TEST_P(TdpMmuBoth, NxHugePagesTestSequenceWithoutMitigation) {
  auto table = make_page_table(GetParam(), 4, 3, false);
  PageTable& m = *table;
  const u64 r0 = 0, r1 = k2M, r2 = 2 * k2M;
  std::vector<u64> seen;
  fault(m, r0, false, 2);
  seen.push_back(m.pages(2));
  fault(m, r1, false, 2);
  seen.push_back(m.pages(2));
  fault(m, r0, true, 2);
  seen.push_back(m.pages(2));
  fault(m, r2, true, 2);
  seen.push_back(m.pages(2));
  m.nx_recover();
  seen.push_back(m.pages(2));
  fault(m, r2, false, 2);
  seen.push_back(m.pages(2));
  EXPECT_EQ(seen, (std::vector<u64>{1, 2, 2, 3, 3, 3}));
  EXPECT_EQ(counts(m), (Counts{0, 3, 0, 0}));
}

TEST_P(TdpMmuBoth, NxRecoverSkipsDirtyLoggedTablesButUntracksThem) {
  auto table = make_page_table(GetParam(), 4, 3, true);
  PageTable& m = *table;
  fault(m, 0, false, 2);
  fault(m, 0, true, 2);
  EXPECT_EQ(counts(m), (Counts{512, 0, 0, 1}));
  EXPECT_EQ(m.nx_recover(UINT64_MAX, [](u64) { return true; }), 1u);
  EXPECT_EQ(counts(m), (Counts{512, 0, 0, 0}));
  // Untracked and no longer nx_huge_page_disallowed: a read fault may map 2M again.
  EXPECT_EQ(fault(m, 5, false, 2).level, 2);
  EXPECT_EQ(counts(m), (Counts{0, 1, 0, 0}));
}

TEST_P(TdpMmuBoth, NxTrackingNeedsReqLevelAtLeastTheTableLevel) {
  auto table = make_page_table(GetParam(), 4, 3, true);
  PageTable& m = *table;
  MapFaultInfo f;
  f.huge_page_disallowed = true;
  f.req_level = 2;  // region could be 2M, not 1G: only the 2M-entry table is tracked
  m.map(0, 1, kRWX, f);
  EXPECT_EQ(m.nx_lpage_splits(), 1u);
  f.req_level = 3;
  m.map(k1G, 1, kRWX, f);  // new 1G-entry table and new 2M-entry table: both tracked
  EXPECT_EQ(m.nx_lpage_splits(), 3u);
  m.zap_gfn_range(0, 4 * k1G);  // leaf zaps keep tables (and tracking)
  EXPECT_EQ(counts(m), (Counts{0, 0, 0, 3}));
  m.zap_all();
  EXPECT_EQ(counts(m), (Counts{0, 0, 0, 0}));
}

TEST_P(TdpMmuBoth, FiveLevelRootAndNo1GProfile) {
  auto table = make_page_table(GetParam(), 5, 2, false);
  PageTable& m = *table;
  EXPECT_EQ(m.max_gfn_exclusive(), 1ull << 45);
  m.map((1ull << 44) + 3, 2, kRWX, {});
  EXPECT_EQ(m.lookup((1ull << 44) + 100).level, 2);
  m.recover_huge_pages(0, 1ull << 45, [](u64, int) { return 3; });  // 1G never created
  EXPECT_EQ(counts(m), (Counts{0, 1, 0, 0}));
}

TEST_P(TdpMmuBoth, DirtyAndAccessedBits) {
  auto table = make_page_table(GetParam(), 4, 3, false);
  PageTable& m = *table;
  SpteAttrs a = kRWX;
  a.accessed = false;
  m.map(9, 1, a, {});
  EXPECT_FALSE(m.lookup(9).accessed);
  EXPECT_TRUE(m.mark_accessed(9, true));
  EXPECT_TRUE(m.lookup(9).dirty);
  EXPECT_EQ(m.clear_dirty(0, 100), 1u);
  EXPECT_FALSE(m.lookup(9).dirty);
  EXPECT_EQ(m.write_protect_range(0, 100), 1u);
  EXPECT_FALSE(m.mark_accessed(9, true));
  EXPECT_FALSE(m.mark_accessed(10, false));
}

TEST_P(TdpMmuBoth, LeafVisitorIsInGfnOrderAndClipsToRange) {
  auto table = make_page_table(GetParam(), 4, 3, false);
  PageTable& m = *table;
  m.map(k1G, 3, kRWX, {});
  m.map(3, 1, kRWX, {});
  m.map(k2M, 2, kRWX, {});
  std::vector<std::pair<u64, int>> seen;
  m.for_each_leaf(0, 2 * k1G, [&](u64 g, int l, const SpteAttrs&) { seen.push_back({g, l}); });
  EXPECT_EQ(seen, (std::vector<std::pair<u64, int>>{{3, 1}, {k2M, 2}, {k1G, 3}}));
  seen.clear();
  m.for_each_leaf(k2M + 5, k2M + 6, [&](u64 g, int l, const SpteAttrs&) { seen.push_back({g, l}); });
  EXPECT_EQ(seen, (std::vector<std::pair<u64, int>>{{k2M, 2}}));
}

// Pre-faulting 64 GiB at 4K must be fast (brief: well under 10 s). This test only checks the
// result; run it with --gtest_filter to time it.
TEST_P(TdpMmuBoth, PrefaultLargeRangeAt4K) {
  auto table = make_page_table(GetParam(), 4, 3, false);
  PageTable& m = *table;
  const u64 n = 16ull << 20;  // 64 GiB of 4K pages
  SpteAttrs a = kRWX;
  a.accessed = false;
  for (u64 g = 0; g < n; ++g) m.map(g, 1, a, {});
  EXPECT_EQ(m.pages(1), n);
  m.check_invariants();
  m.zap_all();
  EXPECT_EQ(m.pages(1), 0u);
}

RC_GTEST_PROP(TdpMmuProperty, RandomOperationsKeepInvariants, ()) {
  const bool nx = *rc::gen::arbitrary<bool>();
  const int max_huge = *rc::gen::inRange(2, 4);
  TdpMmu m(4, max_huge, nx);
  // A small window of gfns (4 x 1G + spill) so operations collide.
  const auto gfn_gen = rc::gen::oneOf(rc::gen::inRange<u64>(0, 2 * k2M),
                                      rc::gen::inRange<u64>(0, 4 * k1G + 3));
  const int nops = *rc::gen::inRange(1, 60);
  for (int op = 0; op < nops; ++op) {
    const int kind = *rc::gen::inRange(0, 9);
    const u64 g = *gfn_gen;
    const u64 len = *rc::gen::inRange<u64>(1, 2 * k1G);
    const u64 end = g + len;
    switch (kind) {
      case 0:
      case 1:
      case 2: {
        const int req = *rc::gen::inRange(1, max_huge + 1);
        const bool exec = *rc::gen::arbitrary<bool>();
        SpteAttrs a;
        a.writable = *rc::gen::arbitrary<bool>();
        a.executable = true;
        a.accessed = *rc::gen::arbitrary<bool>();
        MapFaultInfo f;
        f.req_level = req;
        f.huge_page_disallowed = exec && nx;
        const int goal = f.huge_page_disallowed ? 1 : req;
        const MapResult r = m.map(g, goal, a, f);
        RC_ASSERT(r.level >= 1 && r.level <= goal);
        RC_ASSERT(m.lookup(g).level == r.level);
        break;
      }
      case 3: m.zap_gfn_range(g, end); RC_ASSERT(m.lookup(g).level == 0); break;
      case 4: {
        const int target = *rc::gen::inRange(1, 3);
        m.split_huge_pages(g, end, target);
        RC_ASSERT(m.lookup(g).level <= target);
        break;
      }
      case 5: {
        const int lvl = *rc::gen::inRange(1, 4);
        m.recover_huge_pages(g, end, [lvl](u64, int) { return lvl; });
        break;
      }
      case 6: {
        const int lvl = *rc::gen::inRange(1, 4);
        m.zap_collapsible(g, end, [lvl](u64, int) { return lvl; });
        break;
      }
      case 7: m.nx_recover(*rc::gen::inRange<u64>(0, 4)); break;
      case 8: m.write_protect_range(g, end); break;
    }
    m.check_invariants();  // aborts on a counter/recount mismatch
    u64 recount[4] = {0, 0, 0, 0};
    m.for_each_leaf(0, m.max_gfn_exclusive(), [&](u64, int l, const SpteAttrs&) { ++recount[l]; });
    RC_ASSERT(recount[1] == m.pages(1));
    RC_ASSERT(recount[2] == m.pages(2));
    RC_ASSERT(recount[3] == m.pages(3));
  }
}
