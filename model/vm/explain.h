// explain(): why the TDP leaf covering a GPA has the level it has — what `kvmsim explain FILE
// --gpa X` prints. It reports the leaf (level, GPA range, permissions), then recomputes the level
// decision a read fault on that gfn would make *now*, without mutating anything (the host level
// is peeked, never faulted in), listing every factor KVM weighs with its values: profile max
// level, guest_memfd order, dirty logging, slot head/tail alignment, gpa/hva congruence, mixed
// attributes (per 1G and 2M region), host backing, and the NX huge page mitigation.
// When the present leaf differs from today's decision, it says so: leaves keep the level of the
// fault that made them (e.g. mapped before dirty logging was enabled, or split by an exec fault).
// Invariant: explaining never changes the Kvm (the host level is peeked, nothing is faulted).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/mmu/hugepage_adjust.h"
#include "model/types.h"

namespace kvmsim::model {

class Kvm;
class Vm;

// One consideration of the level decision. `cap` is the largest level it allows (3 = no limit).
struct LevelFactor {
  std::string rule;    // stable name: profile, guest_memfd, dirty_logging, slot_head_misaligned,
                       // slot_tail_misaligned, hva_incongruent, mixed_attributes, host_level, nx_huge_pages
  int cap = 3;         // 0: no mapping at all (the fault fails)
  std::string detail;  // values involved
};

struct Explanation {
  u64 gpa = 0;
  bool has_slot = false;
  u32 slot_id = 0;
  u64 slot_gpa = 0, slot_size = 0, slot_hva = 0;
  u32 slot_flags = 0;
  bool is_private = false;   // the gfn's attribute (a vCPU access would be a private fault)
  u64 attributes = 0;
  Mapping leaf;              // level 0: none
  std::vector<LevelFactor> factors;  // every factor, in KVM's order
  // What a read fault now does: "map" (decision applies), "memory_fault" (a private gfn without a
  // memslot, or a gfn served by guest_memfd whose slot has none or whose file is closed: no pfn, so
  // KVM_EXIT_MEMORY_FAULT / EFAULT, never a leaf), "mmio" (a shared gfn without a memslot).
  std::string outcome = "map";
  HugepageDecision decision;         // for a read fault now (outcome "map" only)
  // The rule that decided decision.goal_level (outcome "map" only): the first limit that brought the
  // level down to it, else the hardware limit of the profile (rule "hardware"). Its detail names the
  // profile when the rule is the profile's (hardware pages, host THP / huge zero page policy).
  LevelLimit decided_by;
  std::string summary;               // one-line verdict
};

// Pure: explains gpa in address space 0 of `vm`.
Explanation explain_gpa(const Vm& vm, u64 gpa);
std::string render(const Explanation& e);
// A memslot's KVM_MEM_* flags by name, "KVM_MEM_LOG_DIRTY_PAGES|KVM_MEM_READONLY", or "0".
std::string memslot_flags_text(u32 flags);
// The CLI entry: "no such VM" text when vm_fd is not a VM.
std::string explain(const Kvm& kvm, int vm_fd, u64 gpa);

}  // namespace kvmsim::model
