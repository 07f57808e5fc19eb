#include <gtest/gtest.h>

#include <map>

#include "model/memslots/lpage_info.h"
#include "model/mmu/lpage_rules_override.h"
#include "model/profiles/profile.h"

using namespace kvmsim;
using namespace kvmsim::model;

namespace {

constexpr u64 k2M = 512, k1G = 512 * 512;  // in gfns
constexpr u64 kPrivate = 8;

// Attributes of a VM as disjoint [start, end) -> attrs intervals (absent = 0).
struct Attrs {
  std::map<u64, std::pair<u64, u64>> iv;  // start -> {end, attrs}
  u64 calls = 0;

  void set(u64 start, u64 end, u64 a) {
    std::map<u64, std::pair<u64, u64>> out;
    for (auto& [s, ea] : iv) {
      auto [e, v] = ea;
      if (e <= start || s >= end) { out[s] = ea; continue; }
      if (s < start) out[s] = {start, v};
      if (e > end) out[end] = {e, v};
    }
    if (a) out[start] = {end, a};
    iv = std::move(out);
  }
  u64 get(u64 gfn) const {
    auto it = iv.upper_bound(gfn);
    if (it == iv.begin()) return 0;
    --it;
    return gfn < it->second.first ? it->second.second : 0;
  }
  UniformAttrsOracle oracle() {
    return [this](u64 start, u64 end, u64* out) {
      ++calls;
      const u64 first = get(start);
      for (auto& [s, ea] : iv) {
        if (ea.first <= start || s >= end) continue;
        if (s > start || ea.first < end) return false;  // a boundary inside the range
      }
      *out = first;
      return true;
    };
  }
};

}  // namespace

TEST(LpageInfo, AlignedCongruentSlotAllowsEverything) {
  LpageInfo li(k1G, 2 * k1G, 0x7f0040000000ull);
  for (u64 g : {k1G, k1G + 5, 2 * k1G + 7 * k2M, 3 * k1G - 1}) {
    EXPECT_FALSE(li.disallowed(2, g));
    EXPECT_FALSE(li.disallowed(3, g));
    EXPECT_TRUE(li.reasons(2, g).empty());
  }
}

TEST(LpageInfo, HeadAndTailMisaligned) {
  LpageInfo li(0x201, 0x1000, 0x201000);
  EXPECT_TRUE(li.disallowed(2, 0x201));
  EXPECT_TRUE(li.disallowed(2, 0x3ff));
  EXPECT_FALSE(li.disallowed(2, 0x400));
  EXPECT_FALSE(li.disallowed(2, 0x11ff));
  EXPECT_TRUE(li.disallowed(2, 0x1200));  // end 0x1201 not 2M aligned
  auto r = li.reasons(2, 0x300);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].rule, LpageReason::Rule::head_misaligned);
  EXPECT_EQ(r[0].detail, "slot base gfn 0x201 not 2M aligned");
  r = li.reasons(2, 0x1200);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].detail, "slot end gfn 0x1201 not 2M aligned");
  // 1G: a single region, both head and tail.
  EXPECT_EQ(li.reasons(3, 0x500).size(), 2u);
}

TEST(LpageInfo, HvaIncongruentDisallowsEveryRegion) {
  LpageInfo li(0, 4 * k2M, 0x7f0000001000ull);
  for (u64 g = 0; g < 4 * k2M; g += k2M) EXPECT_TRUE(li.disallowed(2, g));
  auto r = li.reasons(2, 3 * k2M);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].rule, LpageReason::Rule::hva_incongruent);
  EXPECT_EQ(r[0].detail, "hva 0x7f0000001000 not congruent with gpa 0x0 modulo 2M");
  // Congruent modulo 2M but not modulo 1G: only 1G is refused.
  LpageInfo li2(0, 2 * k1G, 0x7f0000200000ull);
  EXPECT_FALSE(li2.disallowed(2, 5));
  EXPECT_TRUE(li2.disallowed(3, 5));
}

TEST(LpageInfo, HugeSlotCostsConstantMemoryAndFewOracleCalls) {
  // KVM_MEM_MAX_NR_PAGES pages (8 TiB - 4K): 4M regions at 2M, none materialised.
  const u64 npages = (1ull << 31) - 1;
  LpageInfo li(0, npages, 0);
  Attrs attrs;
  li.init_mixed(attrs.oracle());
  EXPECT_EQ(li.nr_mixed(2), 0u);
  EXPECT_EQ(li.nr_mixed(3), 0u);
  EXPECT_LE(attrs.calls, 4u);
  EXPECT_TRUE(li.disallowed(2, npages - 1));  // unaligned tail
  EXPECT_FALSE(li.disallowed(2, npages - 1 - k2M));
  // One private page somewhere in the middle: exactly one 2M and one 1G region mixed.
  attrs.set(1000 * k1G + 3, 1000 * k1G + 4, kPrivate);
  attrs.calls = 0;
  LpageInfo li2(0, npages, 0);
  li2.init_mixed(attrs.oracle());
  EXPECT_EQ(li2.nr_mixed(2), 1u);
  EXPECT_EQ(li2.nr_mixed(3), 1u);
  EXPECT_LT(attrs.calls, 2000u);
  auto r = li2.reasons(2, 1000 * k1G);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].detail, "mixed attributes in 2M region 0xfa00000000");
}

TEST(LpageInfo, InitMixedOnlyTracksRegionsFullyInsideTheSlot) {
  Attrs attrs;
  attrs.set(0, k2M + 1, kPrivate);  // straddles the head region boundary
  LpageInfo li(1, 3 * k2M - 1, 0x1000);  // head region 0 and tail region 2 are partial
  li.init_mixed(attrs.oracle());
  EXPECT_EQ(li.nr_mixed(2), 1u);
  EXPECT_TRUE(li.mixed(2, k2M));
  EXPECT_FALSE(li.mixed(2, 0));
}

TEST(LpageInfo, OneGigMixedFromSubRegions) {
  LpageInfo li(0, 2 * k1G, 0);
  Attrs attrs;
  // 2M region 1 entirely private, others shared: no 2M region mixed, but 1G region 0 is.
  attrs.set(k2M, 2 * k2M, kPrivate);
  li.init_mixed(attrs.oracle());
  EXPECT_EQ(li.nr_mixed(2), 0u);
  EXPECT_TRUE(li.mixed(3, 0));
  EXPECT_FALSE(li.mixed(3, k1G));
  EXPECT_FALSE(li.disallowed(2, k2M));
  EXPECT_TRUE(li.disallowed(3, k2M));
  // The first 2M sub-region itself mixed also makes the 1G region mixed.
  attrs.set(0, 2 * k1G, 0);
  attrs.set(k1G + 7, k1G + 8, kPrivate);
  LpageInfo li2(0, 2 * k1G, 0);
  li2.init_mixed(attrs.oracle());
  EXPECT_TRUE(li2.mixed(2, k1G));
  EXPECT_TRUE(li2.mixed(3, k1G));
  EXPECT_FALSE(li2.mixed(3, 0));
}

TEST(LpageInfo, UpdateMixedAfterSetMemoryAttributes) {
  LpageInfo li(0, 2 * k1G, 0);
  Attrs attrs;
  li.init_mixed(attrs.oracle());
  // Convert one 4K page: its 2M and 1G regions become mixed.
  attrs.set(k2M + 5, k2M + 6, kPrivate);
  li.update_mixed(k2M + 5, k2M + 6, attrs.oracle());
  EXPECT_TRUE(li.mixed(2, k2M));
  EXPECT_TRUE(li.mixed(3, 0));
  // Convert the whole 2M region: fully covered -> not mixed; 1G still differs.
  attrs.set(k2M, 2 * k2M, kPrivate);
  li.update_mixed(k2M, 2 * k2M, attrs.oracle());
  EXPECT_FALSE(li.mixed(2, k2M));
  EXPECT_TRUE(li.mixed(3, 0));
  // Convert the whole first 1G: fully covered at both levels.
  attrs.set(0, k1G, kPrivate);
  li.update_mixed(0, k1G, attrs.oracle());
  EXPECT_EQ(li.nr_mixed(2), 0u);
  EXPECT_EQ(li.nr_mixed(3), 0u);
  // A range straddling two 2M regions: both edges recomputed.
  attrs.set(k1G + k2M - 1, k1G + k2M + 1, kPrivate);
  li.update_mixed(k1G + k2M - 1, k1G + k2M + 1, attrs.oracle());
  EXPECT_TRUE(li.mixed(2, k1G));
  EXPECT_TRUE(li.mixed(2, k1G + k2M));
  EXPECT_TRUE(li.mixed(3, k1G));
  // Back to shared: both edges uniform again.
  attrs.set(k1G + k2M - 1, k1G + k2M + 1, 0);
  li.update_mixed(k1G + k2M - 1, k1G + k2M + 1, attrs.oracle());
  EXPECT_FALSE(li.mixed(2, k1G));
  EXPECT_FALSE(li.mixed(2, k1G + k2M));
  EXPECT_FALSE(li.mixed(3, k1G));
}

TEST(LpageInfo, UnalignedSlotTailIsNeverTracked) {
  // The tail region [3*2M, 3*2M+5) is partial. KVM once indexed past lpage_info here; the
  // fixed code (and this model) only recomputes the tail if the slot covers it entirely.
  LpageInfo li(0, 3 * k2M + 5, 0);
  Attrs attrs;
  li.init_mixed(attrs.oracle());
  attrs.set(3 * k2M, 3 * k2M + 5, kPrivate);
  li.update_mixed(3 * k2M, 3 * k2M + 5, attrs.oracle());
  EXPECT_EQ(li.nr_mixed(2), 0u);
  attrs.set(2 * k2M + 1, 3 * k2M + 5, kPrivate);
  li.update_mixed(2 * k2M + 1, 3 * k2M + 5, attrs.oracle());  // head straddles region 2
  EXPECT_EQ(li.nr_mixed(2), 1u);
  EXPECT_TRUE(li.mixed(2, 2 * k2M));
  // A range extending beyond the slot is clipped to it first.
  attrs.set(k2M, 100 * k2M, kPrivate);
  li.update_mixed(k2M, 100 * k2M, attrs.oracle());
  EXPECT_EQ(li.nr_mixed(2), 0u);  // regions 1 and 2 fully covered; region 0 untouched
  EXPECT_TRUE(li.disallowed(2, 3 * k2M + 1));  // the tail stays disallowed by alignment
  EXPECT_DEATH(li.set_mixed(2, 3 * k2M, true), "not fully inside slot");
}

// The test-only seam the fuzzer's self-test plants its bug through (model/mmu/lpage_rules_override.h):
// scoped, keyed by one Profile object, and KVM's rules everywhere else.
TEST(LpageRules, OverrideIsScopedToOneProfileObject) {
  struct OffByOneTail : LpageRules {
    u64 tail_gfn(u64 base_gfn, u64 npages) const override { return base_gfn + npages - 1; }
  } off_by_one;
  const Profile copy = default_profile();
  EXPECT_EQ(lpage_rules_override(copy), nullptr);
  {
    const ScopedLpageRulesOverride plant(copy, off_by_one);
    EXPECT_EQ(lpage_rules_override(copy), &off_by_one);
    EXPECT_EQ(lpage_rules_override(default_profile()), nullptr);
  }
  EXPECT_EQ(lpage_rules_override(copy), nullptr);
  // A 2M-aligned slot of one 2M region: KVM allows the huge page, the planted tail rule does not.
  EXPECT_FALSE(LpageInfo(0, 512, 0).disallowed(2, 0));
  EXPECT_TRUE(LpageInfo(0, 512, 0, &off_by_one).disallowed(2, 0));
}
