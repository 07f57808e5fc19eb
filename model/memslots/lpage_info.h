// LpageInfo: a memslot's kvm_lpage_info for the 2M and 1G levels (mmu.c
// kvm_alloc_memslot_metadata / hugepage_*_mixed), i.e. whether a huge page of that level may
// map the region containing a gfn. KVM keeps one counter per region; we keep the geometric
// reasons as a formula of (base_gfn, npages, userspace_addr) and the MIXED flags in a sparse
// set, so an 8 TiB slot costs O(1) memory:
//  * head: base_gfn not level-aligned        -> the first region is disallowed;
//  * tail: base_gfn + npages not aligned      -> the last region is disallowed;
//  * hva:  gfn and hva>>12 differ below level -> every region is disallowed;
//  * MIXED: attributes not uniform in a region fully inside the slot (only such regions are
//    tracked; partial ones are disallowed by head/tail anyway).
// Invariant: mixed flags exist only for regions fully inside the slot.
// LpageRules lets a test substitute the slot-geometry rules (see below); production code always
// uses KVM's (a null rules pointer).
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "model/types.h"

namespace kvmsim::model {

// Answers whether every gfn of [start, end) has the same attributes; if so stores them.
using UniformAttrsOracle = std::function<bool(u64 start, u64 end, u64* attrs)>;

// LpageRules: the slot geometry the tail rule reads, as a policy object. KVM's rules are the
// default and the only ones production code uses (LpageInfo takes nullptr). It exists so a test
// can plant a wrong rule without the production types carrying a switch for it: the fuzzer's
// self-test (sim/test/fuzz_test.cpp) installs an off-by-one tail through
// mmu/lpage_rules_override.h and checks that a campaign finds and shrinks the divergence.
class LpageRules {
 public:
  virtual ~LpageRules() = default;
  // The gfn the tail rule tests for level alignment. KVM: the slot's end gfn.
  virtual u64 tail_gfn(u64 base_gfn, u64 npages) const { return base_gfn + npages; }
};

struct LpageReason {
  enum class Rule { head_misaligned, tail_misaligned, hva_incongruent, mixed_attributes };
  Rule rule;
  int level;
  std::string detail;  // e.g. "slot base gfn 0x201 not 2M aligned"
};
const char* lpage_rule_name(LpageReason::Rule r);

class LpageInfo {
 public:
  // `rules`: nullptr for KVM's (always, outside tests); read once, here.
  LpageInfo(u64 base_gfn, u64 npages, u64 userspace_addr, const LpageRules* rules = nullptr);

  u64 base_gfn() const { return base_gfn_; }
  u64 npages() const { return npages_; }
  u64 userspace_addr() const { return userspace_addr_; }

  // kvm_lpage_info.disallow_lpage != 0 for the level-region containing gfn (level 2 or 3;
  // gfn must be inside the slot).
  bool disallowed(int level, u64 gfn) const;
  // Every rule that disallows it, in the order head, tail, hva, mixed (empty: allowed).
  std::vector<LpageReason> reasons(int level, u64 gfn) const;

  // MIXED flag of the region containing gfn (which must be fully inside the slot).
  bool mixed(int level, u64 gfn) const;
  void set_mixed(int level, u64 gfn, bool mixed);
  // Number of regions flagged MIXED at level (for tests and dumps).
  u64 nr_mixed(int level) const;

  // kvm_mmu_init_memslot_memory_attributes: compute every tracked region's flag.
  void init_mixed(const UniformAttrsOracle& uniform);
  // kvm_arch_post_set_memory_attributes for a change of [start, end) (gfns, any range; it is
  // clipped to the slot as kvm_handle_gfn_range does). Call after the attributes are stored.
  void update_mixed(u64 start, u64 end, const UniformAttrsOracle& uniform);

 private:
  u64 region_index(int level, u64 gfn) const;
  u64 nr_regions(int level) const;
  bool fully_inside(int level, u64 region_gfn) const;
  bool head_misaligned(int level) const;
  bool tail_misaligned(int level) const;
  bool hva_incongruent(int level) const;
  // hugepage_has_attrs(): uniform attributes over the region starting at region_gfn.
  bool region_uniform(int level, u64 region_gfn, const UniformAttrsOracle& uniform) const;
  void recompute(int level, u64 region_gfn, const UniformAttrsOracle& uniform);
  void init_span(int level, u64 first, u64 count, const UniformAttrsOracle& uniform);

  u64 base_gfn_;
  u64 npages_;
  u64 userspace_addr_;
  std::set<u64> mixed_[2];  // region indexes, [0] = 2M, [1] = 1G
  u64 tail_gfn_;  // what the tail rule checks: base_gfn + npages unless a test's LpageRules say otherwise
};

}  // namespace kvmsim::model
