// The TDP page fault path shared by guest accesses (KVM_RUN) and KVM_PRE_FAULT_MEMORY:
// kvm_tdp_page_fault() -> kvm_mmu_faultin_pfn() -> kvm_mmu_hugepage_adjust() -> kvm_tdp_mmu_map()
// (docs/semantics/tdp-mmu.md §1-§4). Implemented as Vm::page_fault() in kvm_mmu_fault.cpp.
// Order of checks (as in mmu.c): private/shared mismatch against the gfn's attribute ->
// memory fault; no memslot -> private: memory fault, shared: EMULATE (MMIO); pfn from
// guest_memfd (private fault or GMEM_ONLY slot; no file -> memory fault) or a host GUP of the
// hva (write to a READONLY slot -> EMULATE, host failure -> EFAULT); then level selection and
// the map. A leaf that ends up writable in a dirty-logged slot marks the gfn dirty (make_spte).
// The private bit of a *guest access* is the vCPU's view: the gfn's current attribute (a
// guest access to a PRIVATE gfn is a private fault). Tests can ask for a mismatching fault by
// calling Mmu::page_fault() directly.
// This header holds only the fault's input and result (struct kvm_page_fault and the RET_PF_*
// outcome) so that mmu.h can declare the fault path without the fault path including mmu.h
// back; the path itself is Mmu::page_fault() in kvm_mmu_fault.cpp.
// Invariant: plain data; FaultResult::level and decision are meaningful only for fixed/spurious.
#pragma once

#include "model/mmu/hugepage_adjust.h"
#include "model/types.h"

namespace kvmsim::model {

struct PageFault {
  u64 gpa = 0;
  bool write = false;
  bool exec = false;
  bool is_private = false;  // error code PFERR_PRIVATE_ACCESS
  bool prefetch = false;    // pre-fault: a read that never sets Accessed, never CoWs
  int max_level = 0;        // fault->max_level when below KVM_MAX_HUGEPAGE_LEVEL; 0: no cap
  // RET_PF_RETRY goes back to the caller (Kind::retry) instead of faulting again: the RFC's
  // kvm_mmu_map_page() turns it into -EAGAIN; KVM_RUN and pre-fault fault again.
  bool retry_to_caller = false;
  // The address space whose memslots and root the fault uses: 1 for a vCPU in SMM
  // (kvm_arch_vcpu_memslots_id(), role.smm; docs/semantics/smm.md §2).
  u16 as_id = 0;
};

struct FaultResult {
  // RET_PF_FIXED / RET_PF_SPURIOUS / RET_PF_EMULATE, -EFAULT with KVM_EXIT_MEMORY_FAULT
  // filled in, or another -errno.
  // retry: RET_PF_RETRY, only when PageFault::retry_to_caller.
  // memory_error: the private-fd v5 proposal's KVM_EXIT_MEMORY_ERROR, KVM_RUN failing with EPERM.
  enum class Kind { fixed, spurious, emulate, memory_fault, error, retry, memory_error };
  Kind kind = Kind::fixed;
  int err = 0;    // memory_fault: EFAULT; error: the errno
  int level = 0;  // fixed/spurious: the level of the leaf at the goal (what pre-fault reports)
  u64 flags = 0;  // memory_fault: KVM_MEMORY_EXIT_FLAG_PRIVATE iff the fault was private
  u64 gpa = 0;    // memory_fault: page-aligned gpa
  u64 size = 0;   // memory_fault: 4096
  HugepageDecision decision;  // fixed/spurious: the level decision that was mapped
};

}  // namespace kvmsim::model
