// lpage_info rules and mixed-attribute tracking (see lpage_info.h).
#include "model/memslots/lpage_info.h"

#include <algorithm>

#include "model/core_assert.h"

namespace kvmsim::model {

const char* lpage_rule_name(LpageReason::Rule r) {
  switch (r) {
    case LpageReason::Rule::head_misaligned: return "slot_head_misaligned";
    case LpageReason::Rule::tail_misaligned: return "slot_tail_misaligned";
    case LpageReason::Rule::hva_incongruent: return "hva_incongruent";
    case LpageReason::Rule::mixed_attributes: return "mixed_attributes";
  }
  return "?";
}

namespace {
void check_level(int level) {
  KVMSIM_ASSERT_CTX(level == 2 || level == 3, "lpage_info level " + std::to_string(level));
}
}  // namespace

LpageInfo::LpageInfo(u64 base_gfn, u64 npages, u64 userspace_addr, const LpageRules* rules)
    : base_gfn_(base_gfn),
      npages_(npages),
      userspace_addr_(userspace_addr),
      tail_gfn_(rules ? rules->tail_gfn(base_gfn, npages) : base_gfn + npages) {
  KVMSIM_ASSERT_CTX(npages > 0, "empty slot at gfn " + hex(base_gfn));
}

u64 LpageInfo::region_index(int level, u64 gfn) const {
  const int shift = 9 * (level - 1);
  return (gfn >> shift) - (base_gfn_ >> shift);
}

u64 LpageInfo::nr_regions(int level) const {
  return region_index(level, base_gfn_ + npages_ - 1) + 1;
}

bool LpageInfo::fully_inside(int level, u64 region_gfn) const {
  return region_gfn >= base_gfn_ && region_gfn + pages_per_hpage(level) <= base_gfn_ + npages_;
}

bool LpageInfo::head_misaligned(int level) const {
  return base_gfn_ & (pages_per_hpage(level) - 1);
}
bool LpageInfo::tail_misaligned(int level) const {
  return tail_gfn_ & (pages_per_hpage(level) - 1);
}
bool LpageInfo::hva_incongruent(int level) const {
  return (base_gfn_ ^ (userspace_addr_ >> 12)) & (pages_per_hpage(level) - 1);
}

bool LpageInfo::disallowed(int level, u64 gfn) const {
  check_level(level);
  KVMSIM_ASSERT_CTX(gfn >= base_gfn_ && gfn - base_gfn_ < npages_,
                    "gfn " + hex(gfn) + " outside slot at " + hex(base_gfn_));
  const u64 idx = region_index(level, gfn);
  if (hva_incongruent(level)) return true;
  if (idx == 0 && head_misaligned(level)) return true;
  if (idx == nr_regions(level) - 1 && tail_misaligned(level)) return true;
  return mixed_[level - 2].count(idx) != 0;
}

std::vector<LpageReason> LpageInfo::reasons(int level, u64 gfn) const {
  check_level(level);
  KVMSIM_ASSERT_CTX(gfn >= base_gfn_ && gfn - base_gfn_ < npages_,
                    "gfn " + hex(gfn) + " outside slot at " + hex(base_gfn_));
  const std::string lname = level_name(level);
  const u64 idx = region_index(level, gfn);
  std::vector<LpageReason> out;
  if (idx == 0 && head_misaligned(level))
    out.push_back({LpageReason::Rule::head_misaligned, level,
                   "slot base gfn " + hex(base_gfn_) + " not " + lname + " aligned"});
  if (idx == nr_regions(level) - 1 && tail_misaligned(level))
    out.push_back({LpageReason::Rule::tail_misaligned, level,
                   "slot end gfn " + hex(base_gfn_ + npages_) + " not " + lname + " aligned"});
  if (hva_incongruent(level))
    out.push_back({LpageReason::Rule::hva_incongruent, level,
                   "hva " + hex(userspace_addr_) + " not congruent with gpa " +
                       hex(base_gfn_ << 12) + " modulo " + lname});
  if (mixed_[level - 2].count(idx))
    out.push_back({LpageReason::Rule::mixed_attributes, level,
                   "mixed attributes in " + lname + " region " +
                       hex(gfn_round_for_level(gfn, level) << 12)});
  return out;
}

bool LpageInfo::mixed(int level, u64 gfn) const {
  check_level(level);
  return mixed_[level - 2].count(region_index(level, gfn)) != 0;
}

void LpageInfo::set_mixed(int level, u64 gfn, bool is_mixed) {
  check_level(level);
  const u64 region = gfn_round_for_level(gfn, level);
  KVMSIM_ASSERT_CTX(fully_inside(level, region),
                    "mixed flag for " + std::string(level_name(level)) + " region " + hex(region) +
                        " not fully inside slot [" + hex(base_gfn_) + ", " +
                        hex(base_gfn_ + npages_) + ")");
  if (is_mixed)
    mixed_[level - 2].insert(region_index(level, region));
  else
    mixed_[level - 2].erase(region_index(level, region));
}

u64 LpageInfo::nr_mixed(int level) const {
  check_level(level);
  return mixed_[level - 2].size();
}

bool LpageInfo::region_uniform(int level, u64 region_gfn, const UniformAttrsOracle& uniform) const {
  const u64 n = pages_per_hpage(level);
  u64 attrs = 0;
  if (level == 2) return uniform(region_gfn, region_gfn + n, &attrs);
  // 1G: every 2M sub-region must be non-mixed and carry the first gfn's attributes. (KVM's
  // post-set path compares with the new attributes instead; the region straddles the changed
  // range, so both say "uniform" exactly when the whole region is uniform.)
  u64 first = 0;
  if (!uniform(region_gfn, region_gfn + 1, &first)) return false;
  const u64 sub = pages_per_hpage(level - 1);
  for (u64 g = region_gfn; g < region_gfn + n; g += sub) {
    if (mixed(level - 1, g)) return false;
    if (!uniform(g, g + 1, &attrs) || attrs != first) return false;
  }
  return true;
}

void LpageInfo::recompute(int level, u64 region_gfn, const UniformAttrsOracle& uniform) {
  set_mixed(level, region_gfn, !region_uniform(level, region_gfn, uniform));
}

// Regions [first, first + count) (region gfns, all fully inside the slot). A uniform span
// makes every region in it non-mixed, which is what the per-region rule yields; only
// non-uniform spans are subdivided, so a uniform 8 TiB slot costs one oracle call per level.
void LpageInfo::init_span(int level, u64 first, u64 count, const UniformAttrsOracle& uniform) {
  const u64 n = pages_per_hpage(level);
  u64 attrs = 0;
  if (count == 0) return;
  if (count > 1 && uniform(first, first + count * n, &attrs)) {
    auto& set = mixed_[level - 2];
    set.erase(set.lower_bound(region_index(level, first)),
              set.lower_bound(region_index(level, first) + count));
    return;
  }
  if (count == 1) {
    recompute(level, first, uniform);
    return;
  }
  init_span(level, first, count / 2, uniform);
  init_span(level, first + (count / 2) * n, count - count / 2, uniform);
}

void LpageInfo::init_mixed(const UniformAttrsOracle& uniform) {
  // 2M first: the 1G rule reads the 2M flags.
  for (int level = 2; level <= 3; ++level) {
    const u64 n = pages_per_hpage(level);
    u64 start = gfn_round_for_level(base_gfn_, level);
    const u64 end = gfn_round_for_level(base_gfn_ + npages_, level);
    if (start < base_gfn_) start += n;
    if (start < end) init_span(level, start, (end - start) / n, uniform);
  }
}

void LpageInfo::update_mixed(u64 start, u64 end, const UniformAttrsOracle& uniform) {
  // kvm_handle_gfn_range hands the arch hook the intersection with the slot.
  start = std::max(start, base_gfn_);
  end = std::min(end, base_gfn_ + npages_);
  if (start >= end) return;
  for (int level = 2; level <= 3; ++level) {
    const u64 n = pages_per_hpage(level);
    u64 gfn = gfn_round_for_level(start, level);
    // Head region straddling the range: recompute if the slot covers it entirely.
    if (gfn != start || gfn + n > end) {
      if (fully_inside(level, gfn)) recompute(level, gfn, uniform);
      gfn += n;
    }
    // Regions entirely inside the range now hold only the attributes just set.
    if (gfn + n <= end) {
      const u64 count = (end - gfn) / n;
      auto& set = mixed_[level - 2];
      set.erase(set.lower_bound(region_index(level, gfn)),
                set.lower_bound(region_index(level, gfn) + count));
      gfn += count * n;
    }
    // Tail region straddling the range, only if the slot covers it entirely: an unaligned
    // slot end once made KVM index past its lpage_info array here.
    if (gfn < end && fully_inside(level, gfn)) recompute(level, gfn, uniform);
  }
}

}  // namespace kvmsim::model
