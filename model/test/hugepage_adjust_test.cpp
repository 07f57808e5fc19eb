#include <gtest/gtest.h>

#include "model/mmu/hugepage_adjust.h"

using namespace kvmsim;
using namespace kvmsim::model;

namespace {

constexpr u64 k2M = 512, k1G = 512 * 512;  // in gfns

std::vector<std::string> rules(const HugepageDecision& d) {
  std::vector<std::string> out;
  for (const auto& l : d.limits) out.push_back(l.rule);
  return out;
}

struct Fixture {
  LpageInfo slot{k1G, 2 * k1G, 0x7f0040000000ull};  // aligned and congruent
  HugepageAdjustInput in() const {
    HugepageAdjustInput i;
    i.gfn = k1G + 3 * k2M + 7;
    i.lpage = &slot;
    i.host_level = 3;
    i.host_detail = "hugetlb_1g";
    return i;
  }
};

}  // namespace

TEST(HugepageAdjust, NoLimitMapsAtHostLevel) {
  Fixture fx;
  HugepageDecision d = hugepage_adjust(fx.in());
  EXPECT_EQ(d.goal_level, 3);
  EXPECT_EQ(d.req_level, 3);
  EXPECT_FALSE(d.huge_page_disallowed);
  EXPECT_TRUE(d.limits.empty());
}

TEST(HugepageAdjust, HostBacking) {
  Fixture fx;
  auto in = fx.in();
  in.host_level = 1;
  in.host_detail = "anon_nohuge";
  HugepageDecision d = hugepage_adjust(in);
  EXPECT_EQ(d.goal_level, 1);
  ASSERT_EQ(d.limits.size(), 1u);
  EXPECT_EQ(d.limits[0].rule, "host_level");
  EXPECT_EQ(d.limits[0].detail, "host backing 4K (anon_nohuge)");
  in.host_level = 2;
  in.host_detail = "thp";
  d = hugepage_adjust(in);
  EXPECT_EQ(d.goal_level, 2);
  EXPECT_EQ(d.limits[0].detail, "host backing 2M (thp)");
}

TEST(HugepageAdjust, DirtyLoggingForces4KBeforeAnythingElse) {
  Fixture fx;
  auto in = fx.in();
  in.slot_dirty_logged = true;
  in.exec = true;
  in.nx_huge_pages = true;
  HugepageDecision d = hugepage_adjust(in);
  EXPECT_EQ(d.goal_level, 1);
  EXPECT_EQ(d.req_level, 1);  // so the fault never tracks an NX split
  EXPECT_TRUE(d.huge_page_disallowed);
  EXPECT_EQ(rules(d), std::vector<std::string>{"dirty_logging"});
  EXPECT_EQ(d.limits[0].detail, "dirty logging");
}

TEST(HugepageAdjust, NxExecFaultKeepsReqLevel) {
  Fixture fx;
  auto in = fx.in();
  in.exec = true;
  in.nx_huge_pages = true;
  HugepageDecision d = hugepage_adjust(in);
  EXPECT_EQ(d.goal_level, 1);
  EXPECT_EQ(d.req_level, 3);
  EXPECT_TRUE(d.huge_page_disallowed);
  EXPECT_EQ(rules(d), std::vector<std::string>{"nx_huge_pages"});
  EXPECT_EQ(d.limits[0].detail, "NX huge pages: exec fault");
  in.nx_huge_pages = false;  // without the mitigation exec faults map huge
  EXPECT_EQ(hugepage_adjust(in).goal_level, 3);
}

TEST(HugepageAdjust, GuestMemfdMaps4KOnly) {
  Fixture fx;
  auto in = fx.in();
  in.gmem_backed = true;
  in.is_private = true;
  HugepageDecision d = hugepage_adjust(in);
  EXPECT_EQ(d.goal_level, 1);
  EXPECT_EQ(d.req_level, 1);
  EXPECT_EQ(rules(d), std::vector<std::string>{"guest_memfd"});
  EXPECT_EQ(d.limits[0].detail, "guest_memfd maps 4K only");
  // A hypothetical 2M guest_memfd folio: host page tables are not consulted.
  in.gmem_max_level = 2;
  in.host_level = 1;
  d = hugepage_adjust(in);
  EXPECT_EQ(d.goal_level, 2);
}

TEST(HugepageAdjust, ProfileWithout1GPages) {
  Fixture fx;
  auto in = fx.in();
  in.max_huge_level = 2;
  HugepageDecision d = hugepage_adjust(in);
  EXPECT_EQ(d.goal_level, 2);
  EXPECT_EQ(rules(d), std::vector<std::string>{"profile"});
  EXPECT_EQ(d.limits[0].detail, "profile: no 1G pages");
}

TEST(HugepageAdjust, SlotMisalignment) {
  LpageInfo slot(0x201, 4 * k1G, 0x201000);
  HugepageAdjustInput in;
  in.gfn = 0x250;
  in.lpage = &slot;
  in.host_level = 3;
  HugepageDecision d = hugepage_adjust(in);
  EXPECT_EQ(d.goal_level, 1);
  ASSERT_EQ(d.limits.size(), 2u);
  EXPECT_EQ(d.limits[0].rule, "slot_head_misaligned");
  EXPECT_EQ(d.limits[0].level, 2);
  EXPECT_EQ(d.limits[0].detail, "slot base gfn 0x201 not 1G aligned");
  EXPECT_EQ(d.limits[1].level, 1);
  EXPECT_EQ(d.limits[1].detail, "slot base gfn 0x201 not 2M aligned");
  in.gfn = 0x400;  // second 2M region, still inside the first (partial) 1G region
  d = hugepage_adjust(in);
  EXPECT_EQ(d.goal_level, 2);
}

TEST(HugepageAdjust, HvaIncongruence) {
  LpageInfo slot(0, 4 * k2M, 0x7f0000001000ull);
  HugepageAdjustInput in;
  in.gfn = k2M;
  in.lpage = &slot;
  in.host_level = 2;
  HugepageDecision d = hugepage_adjust(in);
  EXPECT_EQ(d.goal_level, 1);
  // 1G: tail misaligned and hva incongruent; 2M: hva incongruent.
  EXPECT_EQ(rules(d), (std::vector<std::string>{"slot_tail_misaligned", "hva_incongruent",
                                                 "hva_incongruent"}));
  EXPECT_EQ(d.limits[2].detail, "hva 0x7f0000001000 not congruent with gpa 0x0 modulo 2M");
}

TEST(HugepageAdjust, MixedAttributes) {
  LpageInfo slot(0, k1G, 0);
  slot.set_mixed(2, 0x200, true);
  slot.set_mixed(3, 0, true);
  HugepageAdjustInput in;
  in.gfn = 0x234;
  in.lpage = &slot;
  in.host_level = 3;
  HugepageDecision d = hugepage_adjust(in);
  EXPECT_EQ(d.goal_level, 1);
  ASSERT_EQ(d.limits.size(), 2u);
  EXPECT_EQ(d.limits[0].detail, "mixed attributes in 1G region 0x0");
  EXPECT_EQ(d.limits[1].detail, "mixed attributes in 2M region 0x200000");
  in.gfn = 0x400;
  EXPECT_EQ(hugepage_adjust(in).goal_level, 2);
}

TEST(HugepageAdjust, PfnErrorAndNoSlot) {
  Fixture fx;
  auto in = fx.in();
  in.pfn_error = true;
  HugepageDecision d = hugepage_adjust(in);
  EXPECT_EQ(d.goal_level, 1);
  EXPECT_EQ(rules(d), std::vector<std::string>{"no_pfn"});
  in.pfn_error = false;
  in.lpage = nullptr;
  EXPECT_EQ(hugepage_adjust(in).goal_level, 1);
}

TEST(HugepageAdjust, CombinedLimitsInKvmOrder) {
  LpageInfo slot(0, 3 * k2M + 5, 0);  // no full 1G region; tail 2M region partial
  HugepageAdjustInput in;
  in.lpage = &slot;
  in.max_huge_level = 2;
  in.host_level = 1;
  in.host_detail = "anon_nohuge";
  in.gfn = 3 * k2M + 1;  // in the partial tail region
  HugepageDecision d = hugepage_adjust(in);
  EXPECT_EQ(d.goal_level, 1);
  EXPECT_EQ(rules(d), (std::vector<std::string>{"profile", "slot_tail_misaligned"}));
  in.gfn = k2M;  // allowed by the slot: the host decides
  d = hugepage_adjust(in);
  EXPECT_EQ(rules(d), (std::vector<std::string>{"profile", "host_level"}));
  in.exec = true;
  in.nx_huge_pages = true;
  in.host_level = 2;
  d = hugepage_adjust(in);
  EXPECT_EQ(d.req_level, 2);
  EXPECT_EQ(d.goal_level, 1);
  EXPECT_EQ(rules(d), (std::vector<std::string>{"profile", "nx_huge_pages"}));
}
