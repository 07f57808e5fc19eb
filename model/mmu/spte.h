// SPTE: one entry of a TDP page table, reduced to the state the simulator observes. KVM packs a
// pfn, permission and A/D bits into a u64; we keep only the bits that decide statistics,
// mappings and faults, packed into one byte so a 4K-level table costs 512 bytes.
// Invariants: a non-present SPTE is 0; a present non-leaf SPTE carries only kPresent (its
// permissions live in the leaves, as TDP non-leaf entries are always RWX); leaf bits are
// meaningful only together with kPresent|kLeaf.
#pragma once

#include "model/core_assert.h"
#include "model/types.h"

namespace kvmsim::model {

// Entries per page table (pages_per_hpage(), the gfns one entry covers, is in types.h).
inline constexpr int kSptesPerPage = 512;
inline constexpr int spte_index(u64 gfn, int level) {
  return static_cast<int>((gfn >> (9 * (level - 1))) & (kSptesPerPage - 1));
}

// The permission/state part of a leaf, as a caller asks for it and as lookup reports it.
struct SpteAttrs {
  bool writable = false;
  bool executable = false;
  bool is_private = false;
  bool accessed = false;
  bool dirty = false;
  bool operator==(const SpteAttrs&) const = default;
};

using spte_t = u8;

namespace spte_bit {
inline constexpr spte_t kPresent = 1u << 0;
inline constexpr spte_t kLeaf = 1u << 1;  // PT_PAGE_SIZE at 2M/1G; always set on 4K leaves here
inline constexpr spte_t kWritable = 1u << 2;
inline constexpr spte_t kExec = 1u << 3;
inline constexpr spte_t kPrivate = 1u << 4;
inline constexpr spte_t kAccessed = 1u << 5;
inline constexpr spte_t kDirty = 1u << 6;
// Compact tables only (TdpMmu, never TdpMmuRef): this entry links a child table that is not
// materialised because its 512 entries are all equal; the other bits are that common child
// entry (0 = all non-present, or a leaf at the child level). KVM has no such entry: it is a
// storage form of a present non-leaf SPTE whose table is uniform.
inline constexpr spte_t kUniformTable = 1u << 7;
}  // namespace spte_bit

inline constexpr spte_t kNonPresentSpte = 0;
inline constexpr spte_t kNonLeafSpte = spte_bit::kPresent;

// A uniform-table entry (kUniformTable) is present and not a leaf, but it is not a *materialised*
// non-leaf either: is_nonleaf_spte() means "has a child table object".
inline bool is_uniform_table(spte_t s) { return s & spte_bit::kUniformTable; }
inline spte_t uniform_child_spte(spte_t s) { return static_cast<spte_t>(s & ~spte_bit::kUniformTable); }
inline spte_t make_uniform_table(spte_t child) { return static_cast<spte_t>(child | spte_bit::kUniformTable); }
inline bool is_shadow_present_pte(spte_t s) { return s & (spte_bit::kPresent | spte_bit::kUniformTable); }
inline bool is_last_spte(spte_t s) {
  return (s & (spte_bit::kPresent | spte_bit::kLeaf | spte_bit::kUniformTable)) ==
         (spte_bit::kPresent | spte_bit::kLeaf);
}
inline bool is_nonleaf_spte(spte_t s) {
  return (s & (spte_bit::kPresent | spte_bit::kLeaf | spte_bit::kUniformTable)) == spte_bit::kPresent;
}

inline SpteAttrs spte_attrs(spte_t s) {
  return SpteAttrs{(s & spte_bit::kWritable) != 0, (s & spte_bit::kExec) != 0,
                   (s & spte_bit::kPrivate) != 0, (s & spte_bit::kAccessed) != 0,
                   (s & spte_bit::kDirty) != 0};
}

// make_spte(): a leaf at `level`. With the NX huge page mitigation on, huge leaves are never
// executable (an exec fault then goes through the 4K path and splits them).
inline spte_t make_leaf_spte(const SpteAttrs& a, int level, bool nx_huge_pages) {
  spte_t s = spte_bit::kPresent | spte_bit::kLeaf;
  if (a.writable) s |= spte_bit::kWritable;
  if (a.executable && !(level > 1 && nx_huge_pages)) s |= spte_bit::kExec;
  if (a.is_private) s |= spte_bit::kPrivate;
  if (a.accessed) s |= spte_bit::kAccessed;
  if (a.dirty) s |= spte_bit::kDirty;
  return s;
}

// make_small_spte(): a child of a split huge leaf. Children inherit everything; 4K children
// become executable when the NX mitigation is on, as TDP page roles always allow exec and the
// mitigation no longer applies at 4K.
inline spte_t make_small_spte(spte_t huge, int child_level, bool nx_huge_pages) {
  spte_t s = huge;
  if (child_level == 1 && nx_huge_pages) s |= spte_bit::kExec;
  return s;
}

// make_huge_spte(): a huge leaf derived from one of its former small leaves (in-place
// recovery). Not executable under the NX mitigation.
inline spte_t make_huge_spte(spte_t small, int level, bool nx_huge_pages) {
  spte_t s = small | spte_bit::kLeaf;
  if (level > 1 && nx_huge_pages) s &= static_cast<spte_t>(~spte_bit::kExec);
  return s;
}

}  // namespace kvmsim::model
