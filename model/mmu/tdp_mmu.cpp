// TDP MMU page table: walks, splits, zaps and stats on compact storage (page_table.h holds the
// contract, tdp_mmu.h the storage; tdp_mmu_ref.cpp is the per-SPTE reference every function here
// must agree with, and shares nothing with this file).
#include "model/mmu/tdp_mmu.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>

namespace kvmsim::model {

// One materialised page table page (struct kvm_mmu_page + its spt). Child pointers exist only
// for levels that can hold non-leaf entries, and are allocated on the first link. An entry may
// instead be a uniform table (spte_bit::kUniformTable): no child object, see tdp_mmu.h.
struct TdpMmu::Table {
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

using Table = TdpMmu::Table;

// Index range [i0, i1) of the entries at `level` of a table starting at `base` intersecting
// [start, end).
std::pair<int, int> index_range(int level, u64 base, u64 start, u64 end) {
  const u64 size = pages_per_hpage(level);
  const u64 span = size * kSptesPerPage;
  const u64 lo = std::max(start, base);
  const u64 hi = std::min(end, base + span);
  if (lo >= hi) return {0, 0};
  const int i0 = static_cast<int>((lo - base) / size);
  const int i1 = static_cast<int>((hi - base + size - 1) / size);
  return {i0, i1};
}
std::pair<int, int> index_range(const Table& t, u64 start, u64 end) {
  return index_range(t.level, t.base_gfn, start, end);
}

// Does [start, end) cover the whole child table of entry i?
bool covers_child(const Table& t, int i, u64 start, u64 end) {
  const u64 b = t.entry_gfn(i);
  return start <= b && b + pages_per_hpage(t.level) <= end;
}

template <class Fn>
void walk_leaves_const(const Table& t, u64 start, u64 end, Fn&& fn) {
  auto [i0, i1] = index_range(t, start, end);
  for (int i = i0; i < i1; ++i) {
    const spte_t s = t.spte[i];
    if (is_nonleaf_spte(s)) {
      walk_leaves_const(*t.child[i], start, end, fn);
    } else if (is_uniform_table(s)) {
      const spte_t v = uniform_child_spte(s);
      if (!is_last_spte(v)) continue;
      const int cl = t.level - 1;
      const u64 cb = t.entry_gfn(i);
      auto [j0, j1] = index_range(cl, cb, start, end);
      for (int j = j0; j < j1; ++j) fn(cb + static_cast<u64>(j) * pages_per_hpage(cl), cl, v);
    } else if (is_last_spte(s)) {
      fn(t.entry_gfn(i), t.level, s);
    }
  }
}

// walk_leaves_const, but a uniform entry is one run of its (clipped) leaves.
template <class Fn>
void walk_leaf_runs_const(const Table& t, u64 start, u64 end, Fn&& fn) {
  auto [i0, i1] = index_range(t, start, end);
  for (int i = i0; i < i1; ++i) {
    const spte_t s = t.spte[i];
    if (is_nonleaf_spte(s)) {
      walk_leaf_runs_const(*t.child[i], start, end, fn);
    } else if (is_uniform_table(s)) {
      const spte_t v = uniform_child_spte(s);
      if (!is_last_spte(v)) continue;
      const int cl = t.level - 1;
      const u64 cb = t.entry_gfn(i);
      auto [j0, j1] = index_range(cl, cb, start, end);
      if (j0 < j1) fn(cb + static_cast<u64>(j0) * pages_per_hpage(cl), static_cast<u64>(j1 - j0), cl, v);
    } else if (is_last_spte(s)) {
      fn(t.entry_gfn(i), 1, t.level, s);
    }
  }
}

// First present leaf beneath a table entry, in gfn order (tdp_mmu_make_huge_spte's search).
std::optional<spte_t> first_present_leaf(const Table& t) {
  for (int i = 0; i < kSptesPerPage; ++i) {
    const spte_t s = t.spte[i];
    if (is_last_spte(s)) return s;
    if (is_uniform_table(s) && is_last_spte(uniform_child_spte(s))) return uniform_child_spte(s);
    if (is_nonleaf_spte(s)) {
      if (auto r = first_present_leaf(*t.child[i])) return r;
    }
  }
  return std::nullopt;
}
std::optional<spte_t> first_present_leaf_of(const Table& t, int i) {
  const spte_t s = t.spte[i];
  if (is_uniform_table(s)) {
    const spte_t v = uniform_child_spte(s);
    return is_last_spte(v) ? std::optional<spte_t>(v) : std::nullopt;
  }
  return first_present_leaf(*t.child[i]);
}

std::string where(const Table& t, int i) {
  return "level " + std::to_string(t.level) + " entry " + std::to_string(i) + " gfn " +
         hex(t.entry_gfn(i));
}

void count_tables(const Table& t, u64& tables, u64& child_arrays, u64& uniform) {
  ++tables;
  for (int i = 0; i < kSptesPerPage; ++i) uniform += is_uniform_table(t.spte[i]);
  if (!t.child) return;
  ++child_arrays;
  for (int i = 0; i < kSptesPerPage; ++i)
    if (const Table* c = t.child_at(i)) count_tables(*c, tables, child_arrays, uniform);
}

}  // namespace

TdpMmu::TdpMmu(int root_level, int max_huge_level, bool nx_huge_pages)
    : root_level_(root_level), max_huge_level_(max_huge_level), nx_huge_pages_(nx_huge_pages) {
  KVMSIM_ASSERT_CTX(root_level == 4 || root_level == 5, "root_level " + std::to_string(root_level));
  KVMSIM_ASSERT_CTX(max_huge_level >= 1 && max_huge_level <= 3,
                    "max_huge_level " + std::to_string(max_huge_level));
  root_ = std::make_unique<Table>();
  root_->level = root_level;
}

TdpMmu::~TdpMmu() = default;
TdpMmu::TdpMmu(TdpMmu&&) noexcept = default;
TdpMmu& TdpMmu::operator=(TdpMmu&&) noexcept = default;

u64 TdpMmu::max_gfn_exclusive() const { return pages_per_hpage(root_level_) * kSptesPerPage; }

u64 TdpMmu::pages(int level) const {
  KVMSIM_ASSERT_CTX(level >= 1 && level <= 3, "level " + std::to_string(level));
  return pages_[level];
}

void TdpMmu::add_stats(Stats& out) const {
  out["pages_4k"] += pages_[1];
  out["pages_2m"] += pages_[2];
  out["pages_1g"] += pages_[3];
  out["nx_lpage_splits"] += nx_lpage_splits();
}

u64 TdpMmu::pt_bytes() const {
  u64 tables = 0, child_arrays = 0, uniform = 0;
  count_tables(*root_, tables, child_arrays, uniform);
  return tables * sizeof(Table) + child_arrays * kSptesPerPage * sizeof(std::unique_ptr<Table>);
}

u64 TdpMmu::kernel_pt_bytes() const {
  u64 tables = 0, child_arrays = 0, uniform = 0;
  count_tables(*root_, tables, child_arrays, uniform);
  return (tables + uniform) * 4096;
}

// The walk cache: the table the last walk ended in, valid until a table is freed (every free
// bumps table_gen_; tables never move, and a linked table's ancestors only change by freeing it).
TdpMmu::Table* TdpMmu::cached_table(u64 gfn) const {
  if (!walk_cache_ || walk_cache_gen_ != table_gen_) return nullptr;
  const u64 span = pages_per_hpage(walk_cache_->level) * kSptesPerPage;
  return gfn - walk_cache_->base_gfn < span ? walk_cache_ : nullptr;  // unsigned: gfn < base misses
}

void TdpMmu::remember_walk(const Table* t) const {
  walk_cache_ = const_cast<Table*>(t);
  walk_cache_gen_ = table_gen_;
}

void TdpMmu::account_leaf(int level, i64 delta) {
  KVMSIM_ASSERT_CTX(level >= 1 && level <= max_huge_level_,
                    "leaf at level " + std::to_string(level) + " above max huge level " +
                        std::to_string(max_huge_level_));
  KVMSIM_ASSERT_CTX(delta >= 0 || pages_[level] >= static_cast<u64>(-delta),
                    "pages[" + std::to_string(level) + "] underflow");
  pages_[level] = static_cast<u64>(static_cast<i64>(pages_[level]) + delta);
}

// The leaves a (non-table-object) entry at `level` stands for: itself, or 512 below it.
void TdpMmu::account_entry(int level, spte_t s, i64 sign) {
  if (is_last_spte(s))
    account_leaf(level, sign);
  else if (is_uniform_table(s) && is_last_spte(uniform_child_spte(s)))
    account_leaf(level - 1, sign * kSptesPerPage);
}

void TdpMmu::track_possible_nx_huge_page(Table& sp) {
  if (sp.nx_track_seq) return;  // already on the list: counted once
  sp.nx_track_seq = next_track_seq_++;
  tracked_.emplace(sp.nx_track_seq, &sp);
}

void TdpMmu::untrack_possible_nx_huge_page(Table& sp) {
  if (!sp.nx_track_seq) return;
  tracked_.erase(sp.nx_track_seq);
  sp.nx_track_seq = 0;
}

// handle_removed_pt(): every present leaf beneath is a leaf->non-present transition; the
// table leaves the possible-NX list (tdp_mmu_unlink_sp).
void TdpMmu::free_table(std::unique_ptr<Table> t) {
  ++table_gen_;  // the walk cache may point into this subtree
  for (int i = 0; i < kSptesPerPage; ++i) {
    const spte_t s = t->spte[i];
    if (is_nonleaf_spte(s))
      free_table(std::move(t->child[i]));
    else
      account_entry(t->level, s, -1);
  }
  t->nx_huge_page_disallowed = false;
  untrack_possible_nx_huge_page(*t);
}

void TdpMmu::set_spte(Table& t, int i, spte_t new_spte) {
  KVMSIM_ASSERT_CTX(!is_nonleaf_spte(new_spte), "set_spte cannot link tables: " + where(t, i));
  KVMSIM_ASSERT_CTX(!is_uniform_table(new_spte) || t.level > 1, "uniform 4K entry: " + where(t, i));
  const spte_t old = t.spte[i];
  if (is_nonleaf_spte(old))
    free_table(std::move(t.child[i]));
  else
    account_entry(t.level, old, -1);
  t.spte[i] = new_spte;
  account_entry(t.level, new_spte, +1);
}

Table* TdpMmu::link_new_table(Table& t, int i) {
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

// The uniform entry becomes the table it stands for (same leaves, no NX state): stats unchanged.
Table* TdpMmu::materialize(Table& t, int i) {
  const spte_t v = uniform_child_spte(t.spte[i]);
  KVMSIM_ASSERT_CTX(is_uniform_table(t.spte[i]), "materialize of non-uniform " + where(t, i));
  t.spte[i] = kNonPresentSpte;
  Table* sp = link_new_table(t, i);
  sp->spte.fill(v);
  return sp;
}

// A materialised table with equal entries (non-present or one leaf) and no NX state is exactly
// what a uniform entry stands for: fold it back into its parent. Stats unchanged.
void TdpMmu::try_compress(Table& t) {
  if (!t.parent || t.nx_huge_page_disallowed || t.nx_track_seq) return;
  const spte_t v = t.spte[0];
  if (v != kNonPresentSpte && !is_last_spte(v)) return;
  for (int i = 1; i < kSptesPerPage; ++i)
    if (t.spte[i] != v) return;
  Table& parent = *t.parent;
  const int pi = t.parent_index;
  ++table_gen_;
  parent.child[pi].reset();  // `t` is gone from here on
  parent.spte[pi] = make_uniform_table(v);
}

// tdp_mmu_split_huge_page(): the huge leaf becomes a table of 512 children built by
// make_small_spte(); -1 at L for the old leaf, +512 at L-1 for the children.
Table* TdpMmu::split_huge_page(Table& t, int i) {
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

// The same split when no NX state goes on the new table (eager split, bulk map): the 512 equal
// children stay one uniform entry.
void TdpMmu::split_to_uniform(Table& t, int i) {
  const spte_t huge = t.spte[i];
  KVMSIM_ASSERT_CTX(is_last_spte(huge) && t.level > 1, "split of non-huge " + where(t, i));
  set_spte(t, i, make_uniform_table(make_small_spte(huge, t.level - 1, nx_huge_pages_)));
}

MapResult TdpMmu::map(u64 gfn, int goal_level, const SpteAttrs& attrs, const MapFaultInfo& f) {
  KVMSIM_ASSERT_CTX(gfn < max_gfn_exclusive(), "gfn " + hex(gfn) + " beyond the root");
  KVMSIM_ASSERT_CTX(goal_level >= 1 && goal_level <= max_huge_level_,
                    "goal_level " + std::to_string(goal_level));
  int goal = goal_level;
  // Start where the last walk ended when that table covers gfn and the goal is not above it:
  // every entry on the path down to it is a link, so the walk from the root would only descend.
  Table* t = root_.get();
  int start = root_level_;
  if (Table* c = cached_table(gfn); c && goal <= c->level) {
    t = c;
    start = c->level;
  }
  for (int level = start;; --level) {
    const int i = spte_index(gfn, level);
    const spte_t old = t->spte[i];

    // disallowed_hugepage_adjust(): a table created by an NX split sits where the huge page
    // would go; map one level lower instead of replacing it (else the next exec faults again).
    // (A uniform entry never carries NX state.)
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
      remember_walk(t);
      if (t->spte[0] == new_spte && t->spte[kSptesPerPage - 1] == new_spte) try_compress(*t);
      return MapResult{level, false};
    }

    if (is_uniform_table(old)) {
      // An existing (uniform) table: descend without NX bookkeeping, as into any table. When
      // the goal is the next level and the result would be spurious, nothing changes at all.
      const spte_t v = uniform_child_spte(old);
      if (level - 1 == goal &&
          ((f.prefetch && is_last_spte(v)) || make_leaf_spte(attrs, goal, nx_huge_pages_) == v))
        return MapResult{goal, true};
      t = materialize(*t, i);
      continue;
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

u64 TdpMmu::map_range(u64 start, u64 end, int level, const SpteAttrs& attrs, const MapFaultInfo& f) {
  const u64 step = pages_per_hpage(level);
  KVMSIM_ASSERT_CTX(level >= 1 && level <= max_huge_level_, "level " + std::to_string(level));
  KVMSIM_ASSERT_CTX(start % step == 0 && end % step == 0 && start <= end && end <= max_gfn_exclusive(),
                    "map_range [" + hex(start) + ", " + hex(end) + ") at level " + std::to_string(level));
  KVMSIM_ASSERT_CTX(!f.huge_page_disallowed, "map_range with huge_page_disallowed");
  return map_range_in(*root_, start, end, level, make_leaf_spte(attrs, level, nx_huge_pages_), attrs, f);
}

// map() for every goal-level entry in [start, end) beneath `t`. Above the goal, the per-gfn
// walk would split a huge leaf (no NX state: huge_page_disallowed is false) or link an empty
// table on its first gfn and descend; both are kept uniform here until something differs.
u64 TdpMmu::map_range_in(Table& t, u64 start, u64 end, int level, spte_t leaf, const SpteAttrs& attrs,
                         const MapFaultInfo& f) {
  u64 fixed = 0;
  auto [i0, i1] = index_range(t, start, end);
  for (int i = i0; i < i1; ++i) {
    spte_t s = t.spte[i];
    if (t.level == level) {
      if (nx_huge_pages_ && level > 1 && is_nonleaf_spte(s) && t.child[i]->nx_huge_page_disallowed) {
        fixed += !map(t.entry_gfn(i), level, attrs, f).spurious;  // disallowed_hugepage_adjust
        continue;
      }
      if ((f.prefetch && is_last_spte(s)) || s == leaf) continue;
      set_spte(t, i, leaf);
      ++fixed;
      continue;
    }
    if (is_last_spte(s)) {
      split_to_uniform(t, i);
      s = t.spte[i];
    } else if (s == kNonPresentSpte) {
      t.spte[i] = s = make_uniform_table(kNonPresentSpte);
    }
    if (is_uniform_table(s)) {
      const spte_t v = uniform_child_spte(s);
      if (t.level - 1 == level && covers_child(t, i, start, end)) {
        if ((f.prefetch && is_last_spte(v)) || v == leaf) continue;
        set_spte(t, i, make_uniform_table(leaf));
        fixed += kSptesPerPage;
        continue;
      }
      materialize(t, i);
    }
    fixed += map_range_in(*t.child[i], start, end, level, leaf, attrs, f);
  }
  return fixed;
}

Mapping TdpMmu::lookup(u64 gfn) const {
  if (gfn >= max_gfn_exclusive()) return Mapping{};
  const Table* t = cached_table(gfn);
  if (!t) t = root_.get();
  for (;;) {
    const int i = spte_index(gfn, t->level);
    const spte_t s = t->spte[i];
    if (is_nonleaf_spte(s)) {
      t = t->child[i].get();
      continue;
    }
    remember_walk(t);
    int level = t->level;
    spte_t leaf = s;
    if (is_uniform_table(s)) {
      level = t->level - 1;
      leaf = uniform_child_spte(s);
    }
    if (!is_last_spte(leaf)) return Mapping{};
    const SpteAttrs a = spte_attrs(leaf);
    return Mapping{level, gfn_round_for_level(gfn, level) << 12, a.writable, a.executable,
                   a.is_private, a.accessed, a.dirty};
  }
}

void TdpMmu::for_each_leaf(u64 start, u64 end, const LeafVisitor& fn) const {
  walk_leaves_const(*root_, start, end,
                    [&](u64 gfn, int level, spte_t s) { fn(gfn, level, spte_attrs(s)); });
}

void TdpMmu::for_each_leaf_run(u64 start, u64 end, const LeafRunVisitor& fn) const {
  walk_leaf_runs_const(*root_, start, end,
                       [&](u64 gfn, u64 count, int level, spte_t s) { fn(gfn, count, level, spte_attrs(s)); });
}

u64 TdpMmu::zap_range_in(Table& t, u64 start, u64 end) {
  u64 zapped = 0;
  auto [i0, i1] = index_range(t, start, end);
  for (int i = i0; i < i1; ++i) {
    const spte_t s = t.spte[i];
    if (is_last_spte(s)) {
      set_spte(t, i, kNonPresentSpte);
      ++zapped;
    } else if (is_uniform_table(s)) {
      if (!is_last_spte(uniform_child_spte(s))) continue;
      if (covers_child(t, i, start, end)) {
        set_spte(t, i, make_uniform_table(kNonPresentSpte));  // the (empty) table stays
        zapped += kSptesPerPage;
      } else {
        zapped += zap_range_in(*materialize(t, i), start, end);
      }
    } else if (is_nonleaf_spte(s)) {
      zapped += zap_range_in(*t.child[i], start, end);
    }
  }
  return zapped;
}

u64 TdpMmu::zap_gfn_range(u64 start, u64 end) {
  return zap_range_in(*root_, start, end);
}

void TdpMmu::zap_all() {
  // Memslot deletion zaps everything on DEFAULT VMs, so this runs once per deleted slot: scan
  // the root 8 entries at a time (non-present entries are 0) instead of entry by entry.
  for (int w = 0; w < kSptesPerPage; w += 8) {
    u64 word;
    std::memcpy(&word, &root_->spte[w], sizeof word);
    if (!word) continue;
    for (int i = w; i < w + 8; ++i)
      if (is_shadow_present_pte(root_->spte[i])) set_spte(*root_, i, kNonPresentSpte);
  }
}

// The reference walks entries at levels > target in pre-order, splitting every huge leaf and
// following the split into its children; a uniform child of leaves above the target is
// materialised so each of its leaves is split (and counted) the same way.
u64 TdpMmu::split_range_in(Table& t, u64 start, u64 end, int target_level) {
  u64 splits = 0;
  auto [i0, i1] = index_range(t, start, end);
  for (int i = i0; i < i1; ++i) {
    spte_t s = t.spte[i];
    if (is_last_spte(s)) {
      split_to_uniform(t, i);
      ++splits;
      s = t.spte[i];
    }
    if (t.level - 1 <= target_level) continue;  // children are at or below the target
    if (is_uniform_table(s)) {
      if (!is_last_spte(uniform_child_spte(s))) continue;
      materialize(t, i);
      s = t.spte[i];
    }
    if (is_nonleaf_spte(s)) splits += split_range_in(*t.child[i], start, end, target_level);
  }
  return splits;
}

u64 TdpMmu::split_huge_pages(u64 start, u64 end, int target_level) {
  KVMSIM_ASSERT_CTX(target_level >= 1, "target_level " + std::to_string(target_level));
  if (root_level_ <= target_level) return 0;
  return split_range_in(*root_, start, end, target_level);
}

// Clears `bit` on every leaf intersecting [start, end): leaf -> leaf, no stat change.
u64 TdpMmu::clear_bit_in(Table& t, u64 start, u64 end, spte_t bit) {
  u64 changed = 0;
  auto [i0, i1] = index_range(t, start, end);
  for (int i = i0; i < i1; ++i) {
    spte_t& s = t.spte[i];
    if (is_last_spte(s)) {
      if (!(s & bit)) continue;
      s &= static_cast<spte_t>(~bit);
      ++changed;
    } else if (is_uniform_table(s)) {
      const spte_t v = uniform_child_spte(s);
      if (!is_last_spte(v) || !(v & bit)) continue;
      if (covers_child(t, i, start, end)) {
        s = make_uniform_table(static_cast<spte_t>(v & ~bit));
        changed += kSptesPerPage;
      } else {
        changed += clear_bit_in(*materialize(t, i), start, end, bit);
      }
    } else if (is_nonleaf_spte(s)) {
      changed += clear_bit_in(*t.child[i], start, end, bit);
    }
  }
  return changed;
}

u64 TdpMmu::write_protect_range(u64 start, u64 end) {
  return clear_bit_in(*root_, start, end, spte_bit::kWritable);
}

u64 TdpMmu::clear_dirty(u64 start, u64 end) {
  return clear_bit_in(*root_, start, end, spte_bit::kDirty);
}

bool TdpMmu::mark_accessed(u64 gfn, bool write) {
  if (gfn >= max_gfn_exclusive()) return false;
  Table* t = cached_table(gfn);
  if (!t) t = root_.get();
  for (;;) {
    const int i = spte_index(gfn, t->level);
    spte_t s = t->spte[i];
    if (is_nonleaf_spte(s)) {
      t = t->child[i].get();
      continue;
    }
    if (is_uniform_table(s)) {
      const spte_t v = uniform_child_spte(s);
      if (!is_last_spte(v)) return false;
      if (write && !(v & spte_bit::kWritable)) return false;
      const spte_t nv = static_cast<spte_t>(v | spte_bit::kAccessed | (write ? spte_bit::kDirty : 0));
      if (nv == v) return true;  // already set everywhere in the uniform table
      t = materialize(*t, i);
      continue;
    }
    if (!is_last_spte(s)) return false;
    if (write && !(s & spte_bit::kWritable)) return false;
    const spte_t nv = static_cast<spte_t>(s | spte_bit::kAccessed | (write ? spte_bit::kDirty : 0));
    t->spte[i] = nv;
    if (nv != s && t->spte[0] == nv && t->spte[kSptesPerPage - 1] == nv) try_compress(*t);
    return true;
  }
}

// The reference's min-level-2 walk for recover_huge_pages / zap_collapsible: `act(t, i)` is
// called on every table entry (materialised or uniform) at 2M/1G with gfn in [start, end) and a
// region allowing that level; it returns true when it replaced the entry. A uniform table has
// no tables beneath, so the walk never needs to enter one.
template <class Fn>
u64 TdpMmu::collapse_in(Table& t, u64 start, u64 end, const MaxLevelFn& max_level, Fn&& act) {
  u64 done = 0;
  auto [i0, i1] = index_range(t, start, end);
  for (int i = i0; i < i1; ++i) {
    const spte_t s = t.spte[i];
    if (!is_nonleaf_spte(s) && !is_uniform_table(s)) continue;
    if (t.level <= max_huge_level_) {
      const u64 gfn = t.entry_gfn(i);
      // A region only partially inside the range cannot be made huge (and asking lpage_info
      // about it would read outside the slot).
      if (gfn >= start && gfn < end && max_level(gfn, t.level) >= t.level && act(t, i)) {
        ++done;
        continue;
      }
    }
    if (is_nonleaf_spte(t.spte[i]) && t.level - 1 >= 2)
      done += collapse_in(*t.child[i], start, end, max_level, act);
  }
  return done;
}

u64 TdpMmu::recover_huge_pages(u64 start, u64 end, const MaxLevelFn& max_level) {
  return collapse_in(*root_, start, end, max_level, [&](Table& t, int i) {
    const std::optional<spte_t> small = first_present_leaf_of(t, i);
    if (!small) return false;  // nothing to derive the huge leaf from: leave the table
    set_spte(t, i, make_huge_spte(*small, t.level, nx_huge_pages_));
    return true;
  });
}

u64 TdpMmu::zap_collapsible(u64 start, u64 end, const MaxLevelFn& max_level) {
  return collapse_in(*root_, start, end, max_level, [&](Table& t, int i) {
    set_spte(t, i, kNonPresentSpte);  // the table and its leaves go; the next fault maps huge
    return true;
  });
}

u64 TdpMmu::nx_recover(u64 max_to_zap, const GfnPredicate& dirty_logged) {
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

void TdpMmu::check_table(const Table& t, u64 counts[4], u64& tracked) const {
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
    if (is_uniform_table(s)) {
      const spte_t v = uniform_child_spte(s);
      KVMSIM_ASSERT_CTX(t.level > 1, "uniform entry in a 4K table: " + where(t, i));
      KVMSIM_ASSERT_CTX(v == kNonPresentSpte || is_last_spte(v), "uniform entry of a non-leaf: " + where(t, i));
      if (is_last_spte(v)) {
        KVMSIM_ASSERT_CTX(t.level - 1 <= max_huge_level_, "uniform leaves above max huge level: " + where(t, i));
        counts[t.level - 1] += kSptesPerPage;
      }
    } else if (is_last_spte(s)) {
      KVMSIM_ASSERT_CTX(t.level <= max_huge_level_, "leaf above max huge level: " + where(t, i));
      ++counts[t.level];
    } else {
      KVMSIM_ASSERT_CTX(s == kNonPresentSpte, "stray bits in non-present SPTE: " + where(t, i));
    }
  }
}

void TdpMmu::check_invariants() const {
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
