// TdpMmuRef: the reference PageTable (page_table.h holds the contract), stored the
// straightforward way KVM stores it: one table object per page-table page, one SPTE per entry,
// every operation entry by entry (map_range is literally a loop of map()). It is the executable
// specification the compact default TdpMmu is checked against (model/test/
// tdp_mmu_equivalence_test.cpp, backend `model-ref`): keep it simple rather than fast, share no
// code with tdp_mmu.cpp, and never give it the compact storage (spte_bit::kUniformTable).
// Invariants: those of the contract; every entry is a plain SPTE (no uniform entries).
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "model/mmu/page_table.h"
#include "model/mmu/spte.h"
#include "model/types.h"

namespace kvmsim::model {

class TdpMmuRef final : public PageTable {
 public:
  explicit TdpMmuRef(int root_level = 4, int max_huge_level = 3, bool nx_huge_pages = false);
  ~TdpMmuRef() override;
  TdpMmuRef(TdpMmuRef&&) noexcept;
  TdpMmuRef& operator=(TdpMmuRef&&) noexcept;
  TdpMmuRef(const TdpMmuRef&) = delete;
  TdpMmuRef& operator=(const TdpMmuRef&) = delete;

  // ---- PageTable (page_table.h) ----
  PageTableImpl impl() const override { return PageTableImpl::reference; }
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
  u64 pt_bytes() const override;
  u64 kernel_pt_bytes() const override;
  void check_invariants() const override;

  struct Table;  // one page of 512 SPTEs (defined in tdp_mmu_ref.cpp)

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
