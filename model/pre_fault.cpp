// KVM_PRE_FAULT_MEMORY, x86 arch step (kvm_arch_vcpu_pre_fault_memory, kvm-semantics.md §5):
// one prefetch read fault at gpa; progress = the rest of the page at the level that was mapped.
// The generic loop (progress hides later errors, struct written back) is Vm::pre_fault_memory.
#include <algorithm>
#include <cerrno>

#include "model/vm.h"

namespace kvmsim::model {

using namespace uapi;

Ret Vm::pre_fault_step(u64 gpa, u64 size) {
  // a. SNP/TDX before finalize and other vendor types.
  if (!pre_fault_allowed_) return Ret::fail(EOPNOTSUPP);
  // b. (TDX shared-bit alias: no TDX VMs in the model.)
  // c. loading the MMU root: this host's shadow MMU fails it with ENOSPC until the VM has had a
  // memslot (measured; conformance/KNOWN_DIFFERENCES.md). Upstream TDP loads a root regardless.
  if (profile_.prefault_no_memslot_errno && !ever_had_memslot_) return Ret::fail(profile_.prefault_no_memslot_errno);
  // e. the vCPU MMU does not use the TDP fault handler (shadow paging).
  if (!profile_.tdp) return Ret::fail(EOPNOTSUPP);
  // d. "guest final" read; PRIVATE iff the VM has private memory and the gfn is PRIVATE.
  PageFault f;
  f.gpa = gpa;
  f.prefetch = true;
  f.is_private = has_private_mem_ && (attributes_.get(gpa >> 12) & KVM_MEMORY_ATTRIBUTE_PRIVATE);
  // f/g. A slot being deleted or moved (KVM_MEMSLOT_INVALID) cannot be observed by a
  // single-threaded trace; fault injection stands in for the racing ioctl. A prefetch fault
  // answers -EAGAIN rather than retrying (the pre-fault ABI gives no progress guarantee).
  if (slots_[0].by_gfn(gpa >> 12) && inject(FaultSite::pre_fault_invalid_slot) &&
      profile_.prefault_eagain_on_invalid_slot)
    return Ret::fail(EAGAIN);
  const FaultResult r = page_fault(f);
  switch (r.kind) {
    case FaultResult::Kind::fixed:
    case FaultResult::Kind::spurious: {
      // h. the rest of the page containing gpa at the mapped level.
      const u64 end = (gpa & ~(level_size(r.level) - 1)) + level_size(r.level);
      return Ret::ok(static_cast<i64>(std::min(size, end - gpa)));
    }
    case FaultResult::Kind::emulate:
      return Ret::fail(ENOENT);  // no memslot: MMIO
    case FaultResult::Kind::memory_fault:
      return Ret::fail(EFAULT);
    case FaultResult::Kind::error:
      break;
  }
  return Ret::fail(r.err);
}

}  // namespace kvmsim::model
