// TdpMmuRef: the reference page table. The same contract as TdpMmu (tdp_mmu.h), stored the
// straightforward way KVM stores it: one table object per page-table page, one SPTE per entry,
// every operation entry by entry. It is the executable specification the compact default is
// checked against (model/test/tdp_mmu_equivalence_test.cpp, backend `model-ref`): keep it
// simple rather than fast, and never give it the compact storage (spte_bit::kUniformTable).
// One TDP root (the direct page table of one address space), modelled on
// arch/x86/kvm/mmu/tdp_mmu.c. A 4- or 5-level radix tree of SPTEs over gfns, with KVM's
// statistics kept exactly as handle_changed_spte() keeps them:
//  * pages_4k/2m/1g = present *leaf* SPTEs per level. Every leaf-ness transition counts +1/-1;
//    freeing a page table decrements every present leaf beneath it; splitting a leaf at L is
//    -1 at L and +512 at L-1; replacing a table by a huge leaf is +1 and minus the leaves freed.
//  * nx_lpage_splits = page tables tracked as "possible NX huge pages" (created by a fault
//    that wanted a huge page but was denied one by the NX mitigation).
// Page-table pages themselves are never counted. Empty tables may stay after leaf zaps.
// Invariants (check_invariants() verifies them and aborts with context): the counters equal a
// recount of the tree; no leaf above max_huge_level; every tracked table is reachable and
// nx_huge_page_disallowed. The model is pure: no clocks, no randomness, deterministic order.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "model/mmu/spte.h"
#include "model/mmu/tdp_mmu_types.h"
#include "model/types.h"

namespace kvmsim::model {

class TdpMmuRef {
 public:
  // root_level: 4 or 5. max_huge_level: 2 (no 1G pages) or 3. nx_huge_pages: the iTLB
  // multihit mitigation for this VM (module param on and not disabled for the VM).
  explicit TdpMmuRef(int root_level = 4, int max_huge_level = 3, bool nx_huge_pages = false);
  ~TdpMmuRef();
  TdpMmuRef(TdpMmuRef&&) noexcept;
  TdpMmuRef& operator=(TdpMmuRef&&) noexcept;
  TdpMmuRef(const TdpMmuRef&) = delete;
  TdpMmuRef& operator=(const TdpMmuRef&) = delete;

  int root_level() const { return root_level_; }
  int max_huge_level() const { return max_huge_level_; }
  bool nx_huge_pages() const { return nx_huge_pages_; }
  // KVM zaps all roots when the mitigation changes; the caller does that (zap_all()).
  void set_nx_huge_pages(bool on) { nx_huge_pages_ = on; }
  // First gfn the root cannot map (2^36 with 4 levels, 2^45 with 5).
  u64 max_gfn_exclusive() const;

  // kvm_tdp_mmu_map(): walk from the root to goal_level (after disallowed_hugepage_adjust),
  // splitting huge leaves above the goal and creating missing tables, then install the leaf.
  MapResult map(u64 gfn, int goal_level, const SpteAttrs& attrs, const MapFaultInfo& f);

  // The leaf covering gfn (level 0 if none). Mapping::gpa is the leaf's first byte.
  Mapping lookup(u64 gfn) const;
  // Present leaves intersecting [start, end), in gfn order; `gfn` is the leaf's first gfn.
  void for_each_leaf(u64 start, u64 end, const LeafVisitor& fn) const;

  // Zap every leaf intersecting [start, end) (a partially covered huge leaf goes entirely).
  // Tables stay. Returns the number of leaves zapped.
  u64 zap_gfn_range(u64 start, u64 end);
  // Drop everything, tables included (fast zap / VM teardown).
  void zap_all();
  // Eager split: every huge leaf intersecting [start, end) above target_level is split,
  // recursively, down to target_level. Returns the number of splits.
  u64 split_huge_pages(u64 start, u64 end, int target_level);
  // Clear W (resp. D) on every leaf intersecting [start, end). Return leaves changed.
  u64 write_protect_range(u64 start, u64 end);
  u64 clear_dirty(u64 start, u64 end);
  // Hardware A/D update by a guest access to a present leaf (no fault). False if no leaf
  // or a write to a non-writable leaf (that access faults instead).
  bool mark_accessed(u64 gfn, bool write);

  // 6.13+ in-place recovery: every table entry at 2M/1G whose gfn lies in [start, end), whose
  // region allows that level and whose table has a present leaf becomes a huge leaf derived
  // from the first present leaf beneath. Returns the number of huge leaves created.
  u64 recover_huge_pages(u64 start, u64 end, const MaxLevelFn& max_level);
  // Pre-6.13: the same table entries are zapped (table and leaves freed) instead.
  u64 zap_collapsible(u64 start, u64 end, const MaxLevelFn& max_level);
  // NX recovery worker: untrack up to max_to_zap tracked tables (oldest first) and zap them,
  // except tables whose gfn is in a dirty-logged slot (only untracked). Returns tables handled.
  u64 nx_recover(u64 max_to_zap = UINT64_MAX, const GfnPredicate& dirty_logged = {});

  u64 pages(int level) const;  // present leaves at level (1..3)
  u64 nx_lpage_splits() const { return tracked_.size(); }
  // Adds pages_4k, pages_2m, pages_1g, nx_lpage_splits to `out` (summing over roots).
  void add_stats(Stats& out) const;

  // Bytes of page-table objects this tree holds (counted by walking it) and the bytes the
  // kernel would hold for the same tree: 4 KiB per table page.
  u64 pt_bytes() const;
  u64 kernel_pt_bytes() const;

  // Aborts with context if a counter differs from a recount or the tree is malformed.
  void check_invariants() const;

  struct Table;  // one page of 512 SPTEs (defined in tdp_mmu.cpp)

 private:
  void account_leaf(int level, i64 delta);
  void set_spte(Table& t, int i, spte_t new_spte);  // handle_changed_spte for non-link changes
  void free_table(std::unique_ptr<Table> t);        // handle_removed_pt
  Table* link_new_table(Table& t, int i);           // non-present -> empty child table
  Table* split_huge_page(Table& t, int i);          // huge leaf -> table of small leaves
  void track_possible_nx_huge_page(Table& sp);
  void untrack_possible_nx_huge_page(Table& sp);
  void check_table(const Table& t, u64 counts[4], u64& tracked) const;

  int root_level_;
  int max_huge_level_;
  bool nx_huge_pages_;
  std::unique_ptr<Table> root_;
  u64 pages_[4] = {0, 0, 0, 0};  // index = level; [0] unused
  u64 next_track_seq_ = 1;
  std::map<u64, Table*> tracked_;  // possible NX huge pages, by tracking order (FIFO)
};

}  // namespace kvmsim::model
