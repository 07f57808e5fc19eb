// PageTable: one TDP root (the direct page table of one address space), modelled on
// arch/x86/kvm/mmu/tdp_mmu.c. This is the contract, written once; two implementations keep it:
//  * TdpMmu (tdp_mmu.h), the default: compact storage, range operations in O(runs);
//  * TdpMmuRef (tdp_mmu_ref.h), the reference: one table object per page-table page, entry by
//    entry. It shares no implementation with TdpMmu: it is the oracle TdpMmu is checked against
//    (model/test/tdp_mmu_equivalence_test.cpp, backend `model-ref`).
// Which one a VM uses is PageTableImpl, chosen by the caller and never by a profile: the same
// profile must run on both. make_page_table() (page_table_factory.h) builds either.
//
// A 4- or 5-level radix tree of SPTEs over gfns, with KVM's statistics kept exactly as
// handle_changed_spte() keeps them:
//  * pages_4k/2m/1g = present *leaf* SPTEs per level. Every leaf-ness transition counts +1/-1;
//    freeing a page table decrements every present leaf beneath it; splitting a leaf at L is
//    -1 at L and +512 at L-1; replacing a table by a huge leaf is +1 and minus the leaves freed.
//  * nx_lpage_splits = page tables tracked as "possible NX huge pages" (created by a fault
//    that wanted a huge page but was denied one by the NX mitigation).
// Page-table pages themselves are never counted. Empty tables may stay after leaf zaps.
// Invariants (check_invariants() verifies them and aborts with context): the counters equal a
// recount of the tree; no leaf above max_huge_level; every tracked table is reachable and
// nx_huge_page_disallowed. The model is pure: no clocks, no randomness, deterministic order.
//
// Dispatch is one virtual call per operation; the per-SPTE loops stay inside each
// implementation (both are `final`, so their internal calls are direct).
#pragma once

#include <functional>

#include "model/mmu/spte.h"
#include "model/types.h"

namespace kvmsim::model {

// Which storage a page table uses. Not a profile field: the same profile must run on both.
enum class PageTableImpl { compact, reference };

// What kvm_tdp_mmu_map() reads from struct kvm_page_fault besides gfn and goal_level.
struct MapFaultInfo {
  int req_level = 1;                  // the level the fault could have used without NX
  bool huge_page_disallowed = false;  // exec fault with the NX mitigation on
  bool prefetch = false;              // pre-fault: a present leaf at the goal is left alone
                                      // (spurious); the caller clears `accessed`
};

struct MapResult {
  int level = 0;          // level of the installed (or already present) leaf
  bool spurious = false;  // an identical leaf was already there: nothing changed
};

// Present-leaf visitor: `gfn` is the leaf's first gfn.
using LeafVisitor = std::function<void(u64 gfn, int level, const SpteAttrs& attrs)>;
// Present-leaf run visitor: `count` consecutive leaves at `level` from `gfn`, all with `attrs`.
using LeafRunVisitor = std::function<void(u64 gfn, u64 count, int level, const SpteAttrs& attrs)>;
// max mapping level allowed for the region of `level` starting at `gfn`
// (kvm_mmu_max_mapping_level: lpage_info + host level + gmem cap).
using MaxLevelFn = std::function<int(u64 gfn, int level)>;
using GfnPredicate = std::function<bool(u64 gfn)>;

class PageTable {
 public:
  virtual ~PageTable() = default;

  virtual PageTableImpl impl() const = 0;
  // Fixed at construction: 4 or 5 levels; 2 (no 1G pages) or 3.
  virtual int root_level() const = 0;
  virtual int max_huge_level() const = 0;
  // The iTLB multihit mitigation for this VM (module param on and not disabled for the VM).
  virtual bool nx_huge_pages() const = 0;
  // KVM zaps all roots when the mitigation changes; the caller does that (zap_all()).
  virtual void set_nx_huge_pages(bool on) = 0;
  // First gfn the root cannot map (2^36 with 4 levels, 2^45 with 5).
  virtual u64 max_gfn_exclusive() const = 0;

  // kvm_tdp_mmu_map(): walk from the root to goal_level (after disallowed_hugepage_adjust),
  // splitting huge leaves above the goal and creating missing tables, then install the leaf.
  virtual MapResult map(u64 gfn, int goal_level, const SpteAttrs& attrs, const MapFaultInfo& f) = 0;
  // Bulk form: exactly map(gfn, level, attrs, f) for every gfn = start, start + 512^(level-1),
  // ... < end, in that order (TdpMmu: O(runs) on uniform ranges). start and end are aligned to
  // `level`; f.huge_page_disallowed must be false (such faults track tables one by one).
  // Returns the number of non-spurious map() calls it stands for.
  virtual u64 map_range(u64 start, u64 end, int level, const SpteAttrs& attrs, const MapFaultInfo& f) = 0;

  // The leaf covering gfn (level 0 if none). Mapping::gpa is the leaf's first byte.
  virtual Mapping lookup(u64 gfn) const = 0;
  // Present leaves intersecting [start, end), in gfn order; `gfn` is the leaf's first gfn.
  virtual void for_each_leaf(u64 start, u64 end, const LeafVisitor& fn) const = 0;
  // The same leaves grouped in runs (not necessarily maximal: model/mmu/leaf_runs.h coalesces), so
  // a snapshot of a uniformly mapped range costs O(table entries), not O(leaves).
  virtual void for_each_leaf_run(u64 start, u64 end, const LeafRunVisitor& fn) const = 0;

  // Zap every leaf intersecting [start, end) (a partially covered huge leaf goes entirely).
  // Tables stay. Returns the number of leaves zapped.
  virtual u64 zap_gfn_range(u64 start, u64 end) = 0;
  // Drop everything, tables included (fast zap / VM teardown).
  virtual void zap_all() = 0;
  // Eager split: every huge leaf intersecting [start, end) above target_level is split,
  // recursively, down to target_level. Returns the number of splits.
  virtual u64 split_huge_pages(u64 start, u64 end, int target_level) = 0;
  // Clear W (resp. D) on every leaf intersecting [start, end). Return leaves changed.
  virtual u64 write_protect_range(u64 start, u64 end) = 0;
  virtual u64 clear_dirty(u64 start, u64 end) = 0;
  // Hardware A/D update by a guest access to a present leaf (no fault). False if no leaf
  // or a write to a non-writable leaf (that access faults instead).
  virtual bool mark_accessed(u64 gfn, bool write) = 0;

  // 6.13+ in-place recovery: every table entry at 2M/1G whose gfn lies in [start, end), whose
  // region allows that level and whose table has a present leaf becomes a huge leaf derived
  // from the first present leaf beneath. Returns the number of huge leaves created.
  virtual u64 recover_huge_pages(u64 start, u64 end, const MaxLevelFn& max_level) = 0;
  // Pre-6.13: the same table entries are zapped (table and leaves freed) instead.
  virtual u64 zap_collapsible(u64 start, u64 end, const MaxLevelFn& max_level) = 0;
  // NX recovery worker: untrack up to max_to_zap tracked tables (oldest first) and zap them,
  // except tables whose gfn is in a dirty-logged slot (only untracked). Returns tables handled.
  virtual u64 nx_recover(u64 max_to_zap = UINT64_MAX, const GfnPredicate& dirty_logged = {}) = 0;

  virtual u64 pages(int level) const = 0;  // present leaves at level (1..3)
  virtual u64 nx_lpage_splits() const = 0;
  // Adds pages_4k, pages_2m, pages_1g, nx_lpage_splits to `out` (summing over roots).
  virtual void add_stats(Stats& out) const = 0;
  // Bytes of page-table objects this tree holds (counted by walking it), and what the kernel
  // holds for the same tree (4 KiB per table page). O(tree).
  virtual u64 pt_bytes() const = 0;
  virtual u64 kernel_pt_bytes() const = 0;

  // Aborts with context if a counter differs from a recount or the tree is malformed.
  virtual void check_invariants() const = 0;
};

}  // namespace kvmsim::model
