// Huge-page level selection for one TDP fault: kvm_mmu_hugepage_adjust() +
// kvm_mmu_max_mapping_level() (mmu.c, v6.18+), docs/semantics/tdp-mmu.md §4 steps 1-7, as a pure
// function. Besides KVM's outputs (goal_level, req_level, huge_page_disallowed) it returns the
// ordered list of limits that applied, each naming the rule, the level it caps to and the
// values involved, so `kvmsim explain` can say why a fault mapped at 4K.
// The NX walk-time adjustment (step 8) happens in PageTable::map(), not here.
// Invariant: pure — the decision is a function of HugepageAdjustInput alone; 1 <= goal_level <=
// req_level <= max_huge_level, and limits are filled only when `explain` is set.
#pragma once

#include <string>
#include <vector>

#include "model/memslots/lpage_info.h"
#include "model/types.h"

namespace kvmsim::model {

struct HugepageAdjustInput {
  u64 gfn = 0;
  bool exec = false;
  bool write = false;
  bool is_private = false;    // the fault is private (error code PRIVATE)
  bool gmem_backed = false;   // pfn comes from guest_memfd (private fault, or gmem-only slot)
  int gmem_max_level = 1;     // level allowed by the guest_memfd folio order (4K today)
  // fault->max_level as the caller initialised it: KVM_MAX_HUGEPAGE_LEVEL for guest faults and
  // pre-fault; the RFC's KVM_MAP_MEMORY derives it from the request's alignment and size.
  int fault_max_level = 3;
  bool slot_dirty_logged = false;
  const LpageInfo* lpage = nullptr;  // the slot's lpage_info; nullptr: no slot
  int max_huge_level = 3;     // profile: 3 with 1G hardware pages, else 2
  int host_level = 1;         // level of the VMM's host mapping of the hva (non-gmem faults)
  std::string host_detail;    // how the host maps it, for the explanation ("anon_nohuge")
  bool nx_huge_pages = false; // NX huge page workaround on for this VM
  bool pfn_error = false;     // error/no-slot pfn: MMIO or failed fault, never huge
  bool explain = true;        // fill HugepageDecision::limits; off on the fault path (no strings)
};

struct LevelLimit {
  std::string rule;    // short stable name, e.g. "dirty_logging"
  int level = 1;       // the level this rule caps the mapping to
  std::string detail;  // human text with the values
};

struct HugepageDecision {
  int goal_level = 1;
  int req_level = 1;
  bool huge_page_disallowed = false;
  std::vector<LevelLimit> limits;  // in the order KVM applies them
};

HugepageDecision hugepage_adjust(const HugepageAdjustInput& in);

}  // namespace kvmsim::model
