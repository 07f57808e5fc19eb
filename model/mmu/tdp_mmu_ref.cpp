// Reference TDP MMU page table, one SPTE per entry: walks, splits, zaps and stats (page_table.h
// holds the contract, tdp_mmu_ref.h says why this file stays simple and separate).
#include "model/mmu/tdp_mmu_ref.h"

#include <algorithm>
#include <array>
#include <string>

namespace kvmsim::model {

// One page table page (struct kvm_mmu_page + its spt). Child pointers exist only for levels
// that can hold non-leaf entries, and are allocated on the first link, so the 4K-level tables
// that dominate a large guest cost 512 bytes each.
struct TdpMmuRef::Table {
  int level = 1;      // level of the SPTEs this table holds
  u64 base_gfn = 0;   // first gfn covered
  Table* parent = nullptr;
  int parent_index = 0;
  bool nx_huge_page_disallowed = false;
  u64 nx_track_seq = 0;  // nonzero while tracked as a possible NX huge page
  std::array<spte_t, kSptesPerPage> spte{};
  std::unique_ptr<std::unique_ptr<Table>[]> child;

  u64 entry_gfn(int i) const { return base_gfn + static_cast<u64>(i) * pages_per_hpage(level); }
  Table* child_at(int i) const { return child ? child[i].get() : nullptr; }
};

namespace {

using Table = TdpMmuRef::Table;

// Index range [i0, i1) of entries of `t` intersecting [start, end).
std::pair<int, int> index_range(const Table& t, u64 start, u64 end) {
  const u64 size = pages_per_hpage(t.level);
  const u64 span = size * kSptesPerPage;
  const u64 lo = std::max(start, t.base_gfn);
  const u64 hi = std::min(end, t.base_gfn + span);
  if (lo >= hi) return {0, 0};
  const int i0 = static_cast<int>((lo - t.base_gfn) / size);
  const int i1 = static_cast<int>((hi - t.base_gfn + size - 1) / size);
  return {i0, i1};
}

// Pre-order walk over entries intersecting [start, end) at levels >= min_level (the
// for_each_tdp_pte_min_level iterator). `fn(table, index)` may rewrite the entry; the walk
// descends into whatever the entry points to afterwards, so a split is followed into its
// children and a zapped/collapsed table is not.
template <class Fn>
void walk_range(Table& t, u64 start, u64 end, int min_level, Fn&& fn) {
  auto [i0, i1] = index_range(t, start, end);
  for (int i = i0; i < i1; ++i) {
    fn(t, i);
    if (is_nonleaf_spte(t.spte[i]) && t.level - 1 >= min_level)
      walk_range(*t.child[i], start, end, min_level, fn);
  }
}

template <class Fn>
void walk_leaves_const(const Table& t, u64 start, u64 end, Fn&& fn) {
  auto [i0, i1] = index_range(t, start, end);
  for (int i = i0; i < i1; ++i) {
    const spte_t s = t.spte[i];
    if (is_nonleaf_spte(s))
      walk_leaves_const(*t.child[i], start, end, fn);
    else if (is_last_spte(s))
      fn(t.entry_gfn(i), t.level, s);
  }
}

// First present leaf beneath a table, in gfn order (tdp_mmu_make_huge_spte's search).
const spte_t* first_present_leaf(const Table& t) {
  for (int i = 0; i < kSptesPerPage; ++i) {
    const spte_t& s = t.spte[i];
    if (is_last_spte(s)) return &s;
    if (is_nonleaf_spte(s)) {
      if (const spte_t* r = first_present_leaf(*t.child[i])) return r;
    }
  }
  return nullptr;
}

std::string where(const Table& t, int i) {
  return "level " + std::to_string(t.level) + " entry " + std::to_string(i) + " gfn " +
         hex(t.entry_gfn(i));
}

}  // namespace

TdpMmuRef::TdpMmuRef(int root_level, int max_huge_level, bool nx_huge_pages)
    : root_level_(root_level), max_huge_level_(max_huge_level), nx_huge_pages_(nx_huge_pages) {
  KVMSIM_ASSERT_CTX(root_level == 4 || root_level == 5, "root_level " + std::to_string(root_level));
  KVMSIM_ASSERT_CTX(max_huge_level >= 1 && max_huge_level <= 3,
                    "max_huge_level " + std::to_string(max_huge_level));
  root_ = std::make_unique<Table>();
  root_->level = root_level;
}

TdpMmuRef::~TdpMmuRef() = default;
TdpMmuRef::TdpMmuRef(TdpMmuRef&&) noexcept = default;
TdpMmuRef& TdpMmuRef::operator=(TdpMmuRef&&) noexcept = default;

u64 TdpMmuRef::max_gfn_exclusive() const { return pages_per_hpage(root_level_) * kSptesPerPage; }

u64 TdpMmuRef::pages(int level) const {
  KVMSIM_ASSERT_CTX(level >= 1 && level <= 3, "level " + std::to_string(level));
  return pages_[level];
}

void TdpMmuRef::add_stats(Stats& out) const {
  out["pages_4k"] += pages_[1];
  out["pages_2m"] += pages_[2];
  out["pages_1g"] += pages_[3];
  out["nx_lpage_splits"] += nx_lpage_splits();
}

void TdpMmuRef::account_leaf(int level, i64 delta) {
  KVMSIM_ASSERT_CTX(level >= 1 && level <= max_huge_level_,
                    "leaf at level " + std::to_string(level) + " above max huge level " +
                        std::to_string(max_huge_level_));
  KVMSIM_ASSERT_CTX(delta >= 0 || pages_[level] >= static_cast<u64>(-delta),
                    "pages[" + std::to_string(level) + "] underflow");
  pages_[level] = static_cast<u64>(static_cast<i64>(pages_[level]) + delta);
}

void TdpMmuRef::track_possible_nx_huge_page(Table& sp) {
  if (sp.nx_track_seq) return;  // already on the list: counted once
  sp.nx_track_seq = next_track_seq_++;
  tracked_.emplace(sp.nx_track_seq, &sp);
}

void TdpMmuRef::untrack_possible_nx_huge_page(Table& sp) {
  if (!sp.nx_track_seq) return;
  tracked_.erase(sp.nx_track_seq);
  sp.nx_track_seq = 0;
}

// handle_removed_pt(): every present leaf beneath is a leaf->non-present transition; the
// table leaves the possible-NX list (tdp_mmu_unlink_sp).
void TdpMmuRef::free_table(std::unique_ptr<Table> t) {
  for (int i = 0; i < kSptesPerPage; ++i) {
    const spte_t s = t->spte[i];
    if (is_last_spte(s))
      account_leaf(t->level, -1);
    else if (is_nonleaf_spte(s))
      free_table(std::move(t->child[i]));
  }
  t->nx_huge_page_disallowed = false;
  untrack_possible_nx_huge_page(*t);
}

void TdpMmuRef::set_spte(Table& t, int i, spte_t new_spte) {
  KVMSIM_ASSERT_CTX(!is_nonleaf_spte(new_spte), "set_spte cannot link tables: " + where(t, i));
  const spte_t old = t.spte[i];
  if (is_last_spte(old)) account_leaf(t.level, -1);
  if (is_nonleaf_spte(old)) free_table(std::move(t.child[i]));
  t.spte[i] = new_spte;
  if (is_last_spte(new_spte)) account_leaf(t.level, +1);
}

Table* TdpMmuRef::link_new_table(Table& t, int i) {
  KVMSIM_ASSERT_CTX(t.level > 1 && !is_shadow_present_pte(t.spte[i]), "link over " + where(t, i));
  if (!t.child) t.child = std::make_unique<std::unique_ptr<Table>[]>(kSptesPerPage);
  auto sp = std::make_unique<Table>();
  sp->level = t.level - 1;
  sp->base_gfn = t.entry_gfn(i);
  sp->parent = &t;
  sp->parent_index = i;
  Table* raw = sp.get();
  t.child[i] = std::move(sp);
  t.spte[i] = kNonLeafSpte;
  return raw;
}

// tdp_mmu_split_huge_page(): the huge leaf becomes a table of 512 children built by
// make_small_spte(); -1 at L for the old leaf, +512 at L-1 for the children.
Table* TdpMmuRef::split_huge_page(Table& t, int i) {
  const spte_t huge = t.spte[i];
  KVMSIM_ASSERT_CTX(is_last_spte(huge) && t.level > 1, "split of non-huge " + where(t, i));
  const spte_t small = make_small_spte(huge, t.level - 1, nx_huge_pages_);
  account_leaf(t.level, -1);
  t.spte[i] = kNonPresentSpte;
  Table* sp = link_new_table(t, i);
  sp->spte.fill(small);
  account_leaf(sp->level, kSptesPerPage);
  return sp;
}

MapResult TdpMmuRef::map(u64 gfn, int goal_level, const SpteAttrs& attrs, const MapFaultInfo& f) {
  KVMSIM_ASSERT_CTX(gfn < max_gfn_exclusive(), "gfn " + hex(gfn) + " beyond the root");
  KVMSIM_ASSERT_CTX(goal_level >= 1 && goal_level <= max_huge_level_,
                    "goal_level " + std::to_string(goal_level));
  int goal = goal_level;
  Table* t = root_.get();
  for (int level = root_level_;; --level) {
    const int i = spte_index(gfn, level);
    const spte_t old = t->spte[i];

    // disallowed_hugepage_adjust(): a table created by an NX split sits where the huge page
    // would go; map one level lower instead of replacing it (else the next exec faults again).
    if (nx_huge_pages_ && level == goal && level > 1 && is_nonleaf_spte(old) &&
        t->child[i]->nx_huge_page_disallowed)
      --goal;

    if (level == goal) {
      // tdp_mmu_map_handle_target_level(): a prefetch (pre-fault) never overwrites a present
      // leaf at the goal (spurious); a table there is still replaced by the huge leaf (v6.13+
      // "is_last_spte" fix). Non-prefetch faults reach here only when the leaf denies them.
      if (f.prefetch && is_last_spte(old)) return MapResult{level, true};
      const spte_t new_spte = make_leaf_spte(attrs, level, nx_huge_pages_);
      if (new_spte == old) return MapResult{level, true};
      set_spte(*t, i, new_spte);  // replaces a leaf, or frees a table (fault-time recovery)
      return MapResult{level, false};
    }

    if (is_nonleaf_spte(old)) {
      t = t->child[i].get();
      continue;
    }

    Table* sp = is_last_spte(old) ? split_huge_page(*t, i) : link_new_table(*t, i);
    sp->nx_huge_page_disallowed = f.huge_page_disallowed;
    if (f.huge_page_disallowed && f.req_level >= level) track_possible_nx_huge_page(*sp);
    t = sp;
  }
}

// The specification of the bulk form, literally: one map() per goal-level entry, in order.
u64 TdpMmuRef::map_range(u64 start, u64 end, int level, const SpteAttrs& attrs, const MapFaultInfo& f) {
  const u64 step = pages_per_hpage(level);
  KVMSIM_ASSERT_CTX(level >= 1 && level <= max_huge_level_, "level " + std::to_string(level));
  KVMSIM_ASSERT_CTX(start % step == 0 && end % step == 0 && start <= end && end <= max_gfn_exclusive(),
                    "map_range [" + hex(start) + ", " + hex(end) + ") at level " + std::to_string(level));
  KVMSIM_ASSERT_CTX(!f.huge_page_disallowed, "map_range with huge_page_disallowed");
  u64 fixed = 0;
  for (u64 gfn = start; gfn < end; gfn += step) fixed += !map(gfn, level, attrs, f).spurious;
  return fixed;
}

Mapping TdpMmuRef::lookup(u64 gfn) const {
  if (gfn >= max_gfn_exclusive()) return Mapping{};
  const Table* t = root_.get();
  for (;;) {
    const int i = spte_index(gfn, t->level);
    const spte_t s = t->spte[i];
    if (is_nonleaf_spte(s)) {
      t = t->child[i].get();
      continue;
    }
    if (!is_last_spte(s)) return Mapping{};
    const SpteAttrs a = spte_attrs(s);
    return Mapping{t->level, t->entry_gfn(i) << 12, a.writable, a.executable,
                   a.is_private, a.accessed, a.dirty};
  }
}

void TdpMmuRef::for_each_leaf(u64 start, u64 end, const LeafVisitor& fn) const {
  walk_leaves_const(*root_, start, end,
                    [&](u64 gfn, int level, spte_t s) { fn(gfn, level, spte_attrs(s)); });
}

void TdpMmuRef::for_each_leaf_run(u64 start, u64 end, const LeafRunVisitor& fn) const {
  // The reference stores every SPTE: each leaf is its own run.
  walk_leaves_const(*root_, start, end,
                    [&](u64 gfn, int level, spte_t s) { fn(gfn, 1, level, spte_attrs(s)); });
}

u64 TdpMmuRef::zap_gfn_range(u64 start, u64 end) {
  u64 zapped = 0;
  walk_range(*root_, start, end, 1, [&](Table& t, int i) {
    if (!is_last_spte(t.spte[i])) return;
    set_spte(t, i, kNonPresentSpte);
    ++zapped;
  });
  return zapped;
}

void TdpMmuRef::zap_all() {
  for (int i = 0; i < kSptesPerPage; ++i)
    if (is_shadow_present_pte(root_->spte[i])) set_spte(*root_, i, kNonPresentSpte);
}

u64 TdpMmuRef::split_huge_pages(u64 start, u64 end, int target_level) {
  KVMSIM_ASSERT_CTX(target_level >= 1, "target_level " + std::to_string(target_level));
  u64 splits = 0;
  walk_range(*root_, start, end, target_level + 1, [&](Table& t, int i) {
    if (!is_last_spte(t.spte[i]) || t.level <= target_level) return;
    split_huge_page(t, i);
    ++splits;
  });
  return splits;
}

u64 TdpMmuRef::write_protect_range(u64 start, u64 end) {
  u64 changed = 0;
  walk_range(*root_, start, end, 1, [&](Table& t, int i) {
    spte_t& s = t.spte[i];
    if (!is_last_spte(s) || !(s & spte_bit::kWritable)) return;
    s &= static_cast<spte_t>(~spte_bit::kWritable);  // leaf -> leaf: no stat change
    ++changed;
  });
  return changed;
}

u64 TdpMmuRef::clear_dirty(u64 start, u64 end) {
  u64 changed = 0;
  walk_range(*root_, start, end, 1, [&](Table& t, int i) {
    spte_t& s = t.spte[i];
    if (!is_last_spte(s) || !(s & spte_bit::kDirty)) return;
    s &= static_cast<spte_t>(~spte_bit::kDirty);
    ++changed;
  });
  return changed;
}

bool TdpMmuRef::mark_accessed(u64 gfn, bool write) {
  if (gfn >= max_gfn_exclusive()) return false;
  Table* t = root_.get();
  for (;;) {
    const int i = spte_index(gfn, t->level);
    spte_t& s = t->spte[i];
    if (is_nonleaf_spte(s)) {
      t = t->child[i].get();
      continue;
    }
    if (!is_last_spte(s)) return false;
    if (write && !(s & spte_bit::kWritable)) return false;
    s |= spte_bit::kAccessed;
    if (write) s |= spte_bit::kDirty;
    return true;
  }
}

u64 TdpMmuRef::recover_huge_pages(u64 start, u64 end, const MaxLevelFn& max_level) {
  u64 recovered = 0;
  walk_range(*root_, start, end, 2, [&](Table& t, int i) {
    if (t.level > max_huge_level_ || !is_nonleaf_spte(t.spte[i])) return;
    const u64 gfn = t.entry_gfn(i);
    // A region only partially inside the range cannot be made huge (and asking lpage_info
    // about it would read outside the slot).
    if (gfn < start || gfn >= end) return;
    if (max_level(gfn, t.level) < t.level) return;
    const spte_t* small = first_present_leaf(*t.child[i]);
    if (!small) return;  // nothing to derive the huge leaf from: leave the table
    set_spte(t, i, make_huge_spte(*small, t.level, nx_huge_pages_));
    ++recovered;
  });
  return recovered;
}

u64 TdpMmuRef::zap_collapsible(u64 start, u64 end, const MaxLevelFn& max_level) {
  u64 zapped = 0;
  walk_range(*root_, start, end, 2, [&](Table& t, int i) {
    if (t.level > max_huge_level_ || !is_nonleaf_spte(t.spte[i])) return;
    const u64 gfn = t.entry_gfn(i);
    if (gfn < start || gfn >= end) return;
    if (max_level(gfn, t.level) < t.level) return;
    set_spte(t, i, kNonPresentSpte);  // the table and its leaves go; the next fault maps huge
    ++zapped;
  });
  return zapped;
}

u64 TdpMmuRef::nx_recover(u64 max_to_zap, const GfnPredicate& dirty_logged) {
  u64 handled = 0;
  while (handled < max_to_zap && !tracked_.empty()) {
    Table* sp = tracked_.begin()->second;
    // unaccount_nx_huge_page(): off the list, and no longer forces faults below it.
    sp->nx_huge_page_disallowed = false;
    untrack_possible_nx_huge_page(*sp);
    ++handled;
    // Dirty-logged slots would fault the pages back at 4K; they recover when logging stops.
    if (dirty_logged && dirty_logged(sp->base_gfn)) continue;
    Table* parent = sp->parent;
    KVMSIM_ASSERT_CTX(parent && parent->child_at(sp->parent_index) == sp,
                      "tracked table not linked at gfn " + hex(sp->base_gfn));
    set_spte(*parent, sp->parent_index, kNonPresentSpte);
  }
  return handled;
}

namespace {

void count_tables(const Table& t, u64& tables, u64& child_arrays) {
  ++tables;
  if (!t.child) return;
  ++child_arrays;
  for (int i = 0; i < kSptesPerPage; ++i)
    if (const Table* c = t.child_at(i)) count_tables(*c, tables, child_arrays);
}

}  // namespace

u64 TdpMmuRef::pt_bytes() const {
  u64 tables = 0, child_arrays = 0;
  count_tables(*root_, tables, child_arrays);
  return tables * sizeof(Table) + child_arrays * kSptesPerPage * sizeof(std::unique_ptr<Table>);
}

u64 TdpMmuRef::kernel_pt_bytes() const {
  u64 tables = 0, child_arrays = 0;
  count_tables(*root_, tables, child_arrays);
  return tables * 4096;
}

void TdpMmuRef::check_table(const Table& t, u64 counts[4], u64& tracked) const {
  if (t.nx_track_seq) {
    ++tracked;
    KVMSIM_ASSERT_CTX(t.nx_huge_page_disallowed,
                      "tracked table at gfn " + hex(t.base_gfn) + " not nx_huge_page_disallowed");
    auto it = tracked_.find(t.nx_track_seq);
    KVMSIM_ASSERT_CTX(it != tracked_.end() && it->second == &t,
                      "tracked table at gfn " + hex(t.base_gfn) + " missing from the list");
  }
  for (int i = 0; i < kSptesPerPage; ++i) {
    const spte_t s = t.spte[i];
    const Table* c = t.child_at(i);
    if (is_nonleaf_spte(s)) {
      KVMSIM_ASSERT_CTX(t.level > 1 && c, "non-leaf without table: " + where(t, i));
      KVMSIM_ASSERT_CTX(c->level == t.level - 1 && c->base_gfn == t.entry_gfn(i) &&
                            c->parent == &t && c->parent_index == i,
                        "child table misplaced: " + where(t, i));
      check_table(*c, counts, tracked);
      continue;
    }
    KVMSIM_ASSERT_CTX(!c, "table linked under a non-table entry: " + where(t, i));
    if (is_last_spte(s)) {
      KVMSIM_ASSERT_CTX(t.level <= max_huge_level_, "leaf above max huge level: " + where(t, i));
      ++counts[t.level];
    } else {
      KVMSIM_ASSERT_CTX(s == kNonPresentSpte, "stray bits in non-present SPTE: " + where(t, i));
    }
  }
}

void TdpMmuRef::check_invariants() const {
  u64 counts[4] = {0, 0, 0, 0};
  u64 tracked = 0;
  KVMSIM_ASSERT_CTX(root_ && root_->level == root_level_ && root_->base_gfn == 0, "bad root");
  check_table(*root_, counts, tracked);
  for (int level = 1; level <= 3; ++level)
    KVMSIM_ASSERT_CTX(counts[level] == pages_[level],
                      "pages[" + std::to_string(level) + "] = " + std::to_string(pages_[level]) +
                          " but the tree holds " + std::to_string(counts[level]) + " leaves");
  KVMSIM_ASSERT_CTX(tracked == tracked_.size(),
                    "nx_lpage_splits = " + std::to_string(tracked_.size()) + " but " +
                        std::to_string(tracked) + " reachable tables are tracked");
}

}  // namespace kvmsim::model
