// TdpMmu: the compact PageTable (page_table.h holds the contract: stats, operations, base
// invariants), the default storage of every VM's TDP roots.
// A table whose 512 entries are equal (all non-present, or all the same leaf) and that carries
// no NX state is kept as one byte in its parent (spte_bit::kUniformTable) instead of a table
// object; it is materialised only when an operation makes it non-uniform. Range operations
// (map_range, zaps, splits, A/D clearing) act on a uniform table in O(1). So a range mapped
// uniformly costs O(runs), not O(pages): 1 TiB of 4K leaves is 2^19 bytes in 2^10 level-2
// tables. Observable behaviour (every leaf, stats, results) is that of the per-SPTE reference
// TdpMmuRef (tdp_mmu_ref.h), which shares no code with this file.
// Invariants beyond the contract's (check_invariants() verifies them too): every tracked table
// is materialised; a uniform entry holds 0 or a leaf and has no child object.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "model/mmu/page_table.h"
#include "model/mmu/spte.h"
#include "model/types.h"

namespace kvmsim::model {

class TdpMmu final : public PageTable {
 public:
  explicit TdpMmu(int root_level = 4, int max_huge_level = 3, bool nx_huge_pages = false);
  ~TdpMmu() override;
  TdpMmu(TdpMmu&&) noexcept;
  TdpMmu& operator=(TdpMmu&&) noexcept;
  TdpMmu(const TdpMmu&) = delete;
  TdpMmu& operator=(const TdpMmu&) = delete;

  // ---- PageTable (page_table.h) ----
  PageTableImpl impl() const override { return PageTableImpl::compact; }
  int root_level() const override { return root_level_; }
  int max_huge_level() const override { return max_huge_level_; }
  bool nx_huge_pages() const override { return nx_huge_pages_; }
  void set_nx_huge_pages(bool on) override { nx_huge_pages_ = on; }
  u64 max_gfn_exclusive() const override;
  MapResult map(u64 gfn, int goal_level, const SpteAttrs& attrs, const MapFaultInfo& f) override;
  u64 map_range(u64 start, u64 end, int level, const SpteAttrs& attrs, const MapFaultInfo& f) override;
  Mapping lookup(u64 gfn) const override;
  void for_each_leaf(u64 start, u64 end, const LeafVisitor& fn) const override;
  void for_each_leaf_run(u64 start, u64 end, const LeafRunVisitor& fn) const override;
  u64 zap_gfn_range(u64 start, u64 end) override;
  void zap_all() override;
  u64 split_huge_pages(u64 start, u64 end, int target_level) override;
  u64 write_protect_range(u64 start, u64 end) override;
  u64 clear_dirty(u64 start, u64 end) override;
  bool mark_accessed(u64 gfn, bool write) override;
  u64 recover_huge_pages(u64 start, u64 end, const MaxLevelFn& max_level) override;
  u64 zap_collapsible(u64 start, u64 end, const MaxLevelFn& max_level) override;
  u64 nx_recover(u64 max_to_zap = UINT64_MAX, const GfnPredicate& dirty_logged = {}) override;
  u64 pages(int level) const override;
  u64 nx_lpage_splits() const override { return tracked_.size(); }
  void add_stats(Stats& out) const override;
  // pt_bytes: the table objects and child arrays this tree holds; a uniform entry holds none.
  // kernel_pt_bytes: a uniform entry stands for one 4 KiB table page.
  u64 pt_bytes() const override;
  u64 kernel_pt_bytes() const override;
  void check_invariants() const override;

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
