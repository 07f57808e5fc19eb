// Level selection for a TDP fault (see hugepage_adjust.h).
#include "model/mmu/hugepage_adjust.h"

#include <algorithm>

#include "model/mmu/spte.h"

namespace kvmsim::model {

namespace {
constexpr int kMaxHugepageLevel = 3;  // KVM_MAX_HUGEPAGE_LEVEL on x86
}  // namespace

HugepageDecision hugepage_adjust(const HugepageAdjustInput& in) {
  HugepageDecision d;
  // The texts are built only when explaining: the fault path needs the levels alone.
  auto limit = [&](const char* rule, int level, auto&& detail) {
    if (in.explain) d.limits.push_back(LevelLimit{rule, level, detail()});
  };

  // Step 1: captured first, so req_level can still record what NX took away.
  d.huge_page_disallowed = in.exec && in.nx_huge_pages;

  // fault->max_level starts at what the caller asked for (KVM_PAGE_FAULT_INIT's _max_level).
  int max_level = kMaxHugepageLevel;
  if (in.fault_max_level < max_level) {
    max_level = std::max(1, in.fault_max_level);
    limit("request", max_level, [&] {
      return std::string("the request allows at most ") + level_name(max_level) + " (alignment and size)";
    });
  }

  // Step 2: guest_memfd caps the level by the folio order it returned (order 0 today).
  if (in.gmem_backed && in.gmem_max_level < max_level) {
    max_level = std::max(1, in.gmem_max_level);
    limit("guest_memfd", max_level, [&] {
      return max_level == 1 ? std::string("guest_memfd maps 4K only")
                            : std::string("guest_memfd folio allows at most ") + level_name(max_level);
    });
  }

  // Step 3.
  if (max_level == 1) return d;
  if (in.pfn_error || !in.lpage) {
    limit("no_pfn", 1, [&] { return std::string(in.lpage ? "pfn error: nothing to map huge" : "no memslot: MMIO, never huge"); });
    return d;
  }

  // Step 4: dirty-logged slots are tracked at 4K granularity.
  if (in.slot_dirty_logged) {
    limit("dirty_logging", 1, [] { return std::string("dirty logging"); });
    return d;
  }

  // Step 5: hardware cap, then lpage_info of the slot, level by level.
  int req = std::min(max_level, in.max_huge_level);
  if (req < max_level)
    limit("profile", req, [&] { return std::string("profile: no ") + level_name(req + 1) + " pages"; });
  while (req > 1 && in.lpage->disallowed(req, in.gfn)) {
    if (in.explain)
      for (const LpageReason& r : in.lpage->reasons(req, in.gfn))
        limit(lpage_rule_name(r.rule), req - 1, [&] { return r.detail; });
    --req;
  }

  // Step 6: the host mapping level of the hva (guest_memfd faults were capped in step 2).
  if (req > 1 && !in.gmem_backed && in.host_level < req) {
    req = std::max(1, in.host_level);
    limit("host_level", req, [&] {
      return std::string("host backing ") + level_name(req) +
             (in.host_detail.empty() ? "" : " (" + in.host_detail + ")");
    });
  }
  d.req_level = req;

  // Step 7.
  if (req == 1) return d;
  if (d.huge_page_disallowed) {
    limit("nx_huge_pages", 1, [] { return std::string("NX huge pages: exec fault"); });
    return d;
  }
  d.goal_level = req;
  return d;
}

}  // namespace kvmsim::model
