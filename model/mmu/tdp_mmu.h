// TdpMmu: one TDP root (the direct page table of one address space), modelled on
// arch/x86/kvm/mmu/tdp_mmu.c. A 4- or 5-level radix tree of SPTEs over gfns, with KVM's
// statistics kept exactly as handle_changed_spte() keeps them:
//  * pages_4k/2m/1g = present *leaf* SPTEs per level. Every leaf-ness transition counts +1/-1;
//    freeing a page table decrements every present leaf beneath it; splitting a leaf at L is
//    -1 at L and +512 at L-1; replacing a table by a huge leaf is +1 and minus the leaves freed.
//  * nx_lpage_splits = page tables tracked as "possible NX huge pages" (created by a fault
//    that wanted a huge page but was denied one by the NX mitigation).
// Page-table pages themselves are never counted. Empty tables may stay after leaf zaps.
//
// Storage is compact (the default): a table whose 512 entries are equal (all non-present, or
// all the same leaf) and that carries no NX state is kept as one byte in its parent
// (spte_bit::kUniformTable) instead of a table object; it is materialised only when an
// operation makes it non-uniform. Range operations (map_range, zaps, splits, A/D clearing) act
// on a uniform table in O(1). So a range mapped uniformly costs O(runs), not O(pages): 1 TiB of
// 4K leaves is 2^19 bytes in 2^10 level-2 tables. Observable behaviour (every leaf, stats,
// results) is that of the per-SPTE reference TdpMmuRef (tdp_mmu_ref.h); constructing with
// PageTableImpl::reference runs that reference instead, so one profile runs on both (backend
// `model-ref`; equivalence property in model/test/tdp_mmu_equivalence_test.cpp).
// Invariants (check_invariants() verifies them and aborts with context): the counters equal a
// recount of the tree; no leaf above max_huge_level; every tracked table is reachable,
// materialised and nx_huge_page_disallowed; a uniform entry holds 0 or a leaf and has no child
// object. The model is pure: no clocks, no randomness, deterministic order.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "model/mmu/spte.h"
#include "model/mmu/tdp_mmu_ref.h"
#include "model/mmu/tdp_mmu_types.h"
#include "model/types.h"

namespace kvmsim::model {

// Which storage a TdpMmu uses. Not a profile field: the same profile must run on both.
enum class PageTableImpl { compact, reference };

class TdpMmu {
 public:
  using LeafVisitor = model::LeafVisitor;
  using MaxLevelFn = model::MaxLevelFn;
  using GfnPredicate = model::GfnPredicate;

  // root_level: 4 or 5. max_huge_level: 2 (no 1G pages) or 3. nx_huge_pages: the iTLB
  // multihit mitigation for this VM (module param on and not disabled for the VM).
  explicit TdpMmu(int root_level = 4, int max_huge_level = 3, bool nx_huge_pages = false,
                  PageTableImpl impl = PageTableImpl::compact);
  ~TdpMmu();
  TdpMmu(TdpMmu&&) noexcept;
  TdpMmu& operator=(TdpMmu&&) noexcept;
  TdpMmu(const TdpMmu&) = delete;
  TdpMmu& operator=(const TdpMmu&) = delete;

  PageTableImpl impl() const { return ref_ ? PageTableImpl::reference : PageTableImpl::compact; }
  int root_level() const { return root_level_; }
  int max_huge_level() const { return max_huge_level_; }
  bool nx_huge_pages() const { return nx_huge_pages_; }
  // KVM zaps all roots when the mitigation changes; the caller does that (zap_all()).
  void set_nx_huge_pages(bool on);
  // First gfn the root cannot map (2^36 with 4 levels, 2^45 with 5).
  u64 max_gfn_exclusive() const;

  // kvm_tdp_mmu_map(): walk from the root to goal_level (after disallowed_hugepage_adjust),
  // splitting huge leaves above the goal and creating missing tables, then install the leaf.
  MapResult map(u64 gfn, int goal_level, const SpteAttrs& attrs, const MapFaultInfo& f);
  // Bulk form: exactly map(gfn, level, attrs, f) for every gfn = start, start + 512^(level-1),
  // ... < end, in that order, but O(runs) on uniform ranges. start and end are aligned to
  // `level`; f.huge_page_disallowed must be false (such faults track tables one by one).
  // Returns the number of non-spurious map() calls it stands for.
  u64 map_range(u64 start, u64 end, int level, const SpteAttrs& attrs, const MapFaultInfo& f);

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
  u64 nx_lpage_splits() const;
  // Adds pages_4k, pages_2m, pages_1g, nx_lpage_splits to `out` (summing over roots).
  void add_stats(Stats& out) const;
  // Bytes of page-table objects this MMU holds, and what the kernel holds for the same tree
  // (4 KiB per table page; a uniform entry stands for one such page). O(tree).
  u64 pt_bytes() const;
  u64 kernel_pt_bytes() const;

  // Aborts with context if a counter differs from a recount or the tree is malformed.
  void check_invariants() const;

  struct Table;  // one page of 512 SPTEs (defined in tdp_mmu.cpp)

 private:
  void account_leaf(int level, i64 delta);
  void account_entry(int level, spte_t s, i64 sign);  // the leaves an entry stands for
  void set_spte(Table& t, int i, spte_t new_spte);  // handle_changed_spte for non-link changes
  void free_table(std::unique_ptr<Table> t);        // handle_removed_pt
  Table* link_new_table(Table& t, int i);           // non-present -> empty child table
  Table* materialize(Table& t, int i);              // uniform entry -> real child table
  Table* split_huge_page(Table& t, int i);          // huge leaf -> table of small leaves
  void split_to_uniform(Table& t, int i);           // the same, kept uniform
  void try_compress(Table& t);                      // real uniform table -> uniform entry
  void track_possible_nx_huge_page(Table& sp);
  void untrack_possible_nx_huge_page(Table& sp);
  u64 map_range_in(Table& t, u64 start, u64 end, int level, spte_t leaf, const SpteAttrs& attrs,
                   const MapFaultInfo& f);
  u64 zap_range_in(Table& t, u64 start, u64 end);
  u64 split_range_in(Table& t, u64 start, u64 end, int target_level);
  u64 clear_bit_in(Table& t, u64 start, u64 end, spte_t bit);
  template <class Fn>
  u64 collapse_in(Table& t, u64 start, u64 end, const MaxLevelFn& max_level, Fn&& act);
  void check_table(const Table& t, u64 counts[4], u64& tracked) const;
  Table* cached_table(u64 gfn) const;
  void remember_walk(const Table* t) const;

  int root_level_;
  int max_huge_level_;
  bool nx_huge_pages_;
  std::unique_ptr<TdpMmuRef> ref_;  // set: PageTableImpl::reference, every call goes there
  std::unique_ptr<Table> root_;
  u64 pages_[4] = {0, 0, 0, 0};  // index = level; [0] unused
  u64 next_track_seq_ = 1;
  std::map<u64, Table*> tracked_;  // possible NX huge pages, by tracking order (FIFO)
  // Walk cache (a performance hint, never observable): consecutive accesses to one 2M region
  // skip the walk from the root. Const lookups update it, so a TdpMmu is not safe to share
  // between threads even read-only (the model is single-threaded by design).
  u64 table_gen_ = 0;
  mutable Table* walk_cache_ = nullptr;
  mutable u64 walk_cache_gen_ = 0;
};

}  // namespace kvmsim::model
