// Types shared by the two page-table implementations (TdpMmu, the compact default, and
// TdpMmuRef, the per-SPTE reference): what kvm_tdp_mmu_map() reads from the fault, what it
// reports, and the callbacks the range operations take. Plain data, no invariants beyond the
// field comments.
#pragma once

#include <functional>

#include "model/mmu/spte.h"
#include "model/types.h"

namespace kvmsim::model {

// What kvm_tdp_mmu_map() reads from struct kvm_page_fault besides gfn and goal_level.
struct MapFaultInfo {
  int req_level = 1;                  // the level the fault could have used without NX
  bool huge_page_disallowed = false;  // exec fault with the NX mitigation on
  bool prefetch = false;              // pre-fault: a present leaf at the goal is left alone
                                      // (spurious); the caller clears `accessed`
};

struct MapResult {
  int level = 0;          // level of the installed (or already present) leaf
  bool spurious = false;  // an identical leaf was already there: nothing changed
};

// Present-leaf visitor: `gfn` is the leaf's first gfn.
using LeafVisitor = std::function<void(u64 gfn, int level, const SpteAttrs& attrs)>;
// max mapping level allowed for the region of `level` starting at `gfn`
// (kvm_mmu_max_mapping_level: lpage_info + host level + gmem cap).
using MaxLevelFn = std::function<int(u64 gfn, int level)>;
using GfnPredicate = std::function<bool(u64 gfn)>;

}  // namespace kvmsim::model
