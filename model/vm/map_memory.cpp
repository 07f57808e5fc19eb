// KVM_MAP_MEMORY as posted in "[RFC PATCH 0/8] KVM: Prepopulate guest memory API" (v1, 2024-03),
// docs/semantics/proposals.md §1. The proposal that became KVM_PRE_FAULT_MEMORY (model/vm/vm.cpp, model/mmu/pre_fault.cpp);
// modelled exactly as posted, bugs included, so profiles can be compared (kvmsim compare).
//  * the generic loop: kvm_vcpu_map_memory() (virt/kvm/kvm_main.c, patch 2);
//  * the x86 step: kvm_arch_vcpu_map_memory() (arch/x86/kvm/x86.c, patches 6 and 7) around
//    kvm_mmu_map_page() (arch/x86/kvm/mmu/mmu.c, patch 5).
// Unlike pre-fault, the step is a real (not prefetch) fault with the request's access bits, its
// max level comes from the request, and every fault is one step (no bulk path).
#include <cerrno>

#include "model/core_assert.h"
#include "model/vm/vm.h"

namespace kvmsim::model {

using namespace uapi;

namespace {

// Patch 6: the largest level whose page both starts at base_gfn and fits in nr_pages.
int request_max_level(const kvm_memory_mapping& m) {
  for (int level = 3; level > 1; --level) {
    const u64 pages = pages_per_hpage(level);
    if (m.base_gfn % pages == 0 && m.nr_pages >= pages) return level;
  }
  return 1;
}

}  // namespace

Ret Vm::map_memory_step(kvm_memory_mapping& m) {
  // Patch 6, error code. PRIVATE: the 6.8 base has no PFERR_PRIVATE_ACCESS, so the posted #else
  // branch is the one compiled; it reads `return -OPNOTSUPP` (a typo the review points out), which
  // we model as the -EOPNOTSUPP it means.
  if (m.flags & KVM_MEMORY_MAPPING_FLAG_PRIVATE) return Ret::fail(EOPNOTSUPP);
  PageFault f;
  f.gpa = m.base_gfn << 12;
  f.write = m.flags & KVM_MEMORY_MAPPING_FLAG_WRITE;
  f.exec = m.flags & KVM_MEMORY_MAPPING_FLAG_EXEC;
  // FLAG_USER sets PFERR_USER_MASK, which a TDP fault never reads.
  f.max_level = request_max_level(m);
  // Patch 3, KVM_PAGE_FAULT_INIT: is_private = kvm_mem_is_private(gfn), whatever the flags say.
  f.is_private = has_private_mem_ && (attributes_.get(m.base_gfn) & KVM_MEMORY_ATTRIBUTE_PRIVATE);
  f.retry_to_caller = true;
  // Patch 7, kvm_pre_mmu_map_page(): DEFAULT and SW_PROTECTED VMs take no source; any other VM
  // type needs the vendor hook, which no posted vendor code provides.
  if (type_ == KVM_X86_DEFAULT_VM || type_ == KVM_X86_SW_PROTECTED_VM) {
    if (m.source) return Ret::fail(EINVAL);
  } else {
    return Ret::fail(EOPNOTSUPP);
  }
  // Patch 5, kvm_mmu_map_page(). The initialiser sets pfn = KVM_PFN_ERR_FAULT, so any fault that
  // fails before (or in) faultin leaves an error pfn and the is_error_noslot_pfn() test answers
  // -EFAULT first: no slot (MMIO emulation), a memory fault, a failed GUP, a failed cache top-up.
  const FaultResult r = mmu_.page_fault(f);
  switch (r.kind) {
    case FaultResult::Kind::fixed:
    case FaultResult::Kind::spurious:
      break;
    case FaultResult::Kind::retry:
      return Ret::fail(EAGAIN);
    case FaultResult::Kind::emulate:
    case FaultResult::Kind::memory_fault:
    case FaultResult::Kind::memory_error:
    case FaultResult::Kind::error:
      return Ret::fail(EFAULT);
  }
  // Patch 6: advance by the goal level the fault chose (never above max_level, so never past
  // nr_pages). Patch 7's post hook does nothing on DEFAULT/SW_PROTECTED VMs.
  const int goal = r.decision.goal_level;
  if (m.source) m.source += level_size(goal);
  m.base_gfn += pages_per_hpage(goal);
  m.nr_pages -= pages_per_hpage(goal);
  return Ret::ok();
}

Ret Vm::map_memory(u32 vcpu_id, kvm_memory_mapping& m, std::string* kernel_bug) {
  KVMSIM_ASSERT(has_vcpu(vcpu_id), "vcpu %u", vcpu_id);
  // Patch 2, kvm_vcpu_map_memory(), in its order.
  constexpr u64 kKnown = KVM_MEMORY_MAPPING_FLAG_WRITE | KVM_MEMORY_MAPPING_FLAG_EXEC |
                         KVM_MEMORY_MAPPING_FLAG_USER | KVM_MEMORY_MAPPING_FLAG_PRIVATE;
  if (m.flags & ~kKnown) return Ret::fail(EINVAL);
  if ((m.flags & KVM_MEMORY_MAPPING_FLAG_PRIVATE) && !has_private_mem_) return Ret::fail(EINVAL);
  if ((m.source & (kPageSize - 1)) || !m.nr_pages || m.base_gfn + m.nr_pages <= m.base_gfn)
    return Ret::fail(EINVAL);
  // vcpu_load(); srcu_read_lock(); kvm_arch_vcpu_pre_map_memory() = kvm_mmu_reload(). The model's
  // vCPU keeps no root state, so every call consults the alloc site once here (a root load tops up
  // the MMU caches). The posted error path returns without srcu_read_unlock() and vcpu_put().
  if (inject(FaultSite::alloc)) {
    if (kernel_bug)
      *kernel_bug =
          "kernel-bug: [RFC PATCH 2/8] kvm_vcpu_map_memory(): kvm_arch_vcpu_pre_map_memory() failed and the "
          "ioctl returned with kvm->srcu read-locked and without vcpu_put()";
    return Ret::fail(ENOMEM);
  }
  bool added = false;
  Ret r = Ret::ok();
  while (m.nr_pages) {
    // signal_pending(): -ERESTARTSYS, which userspace sees as EINTR (a handler without SA_RESTART;
    // a trace injects it with `inject(signal, pending)`).
    if (inject(FaultSite::pre_fault_signal)) {
      r = Ret::fail(EINTR);
      break;
    }
    r = map_memory_step(m);
    if (!r.is_ok()) break;
    added = true;
  }
  // After any progress a remaining range is -EAGAIN, whatever the step's error was.
  if (added && m.nr_pages > 0) return Ret::fail(EAGAIN);
  return r;
}

}  // namespace kvmsim::model
