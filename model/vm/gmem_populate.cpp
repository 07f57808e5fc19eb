// KVM_GUEST_MEMFD_POPULATE as posted in "[PATCH 0/4] KVM: guest_memfd: add KVM_GUEST_MEMFD_POPULATE ioctl"
// (Nikita Kalyazin, 2024-10-24; docs/semantics/gmem-populate.md), bugs included:
//  * [PATCH 2/4] kvm_gmem_guest_memfd_populate(): gpa and size are shifted down to pages (no alignment
//    check, `flags` never read) and handed to the base's kvm_gmem_populate() without taking slots_lock,
//    which that function asserts (lockdep) — reported as a `kernel-bug:` line;
//  * kvm_gmem_populate() (virt/kvm/guest_memfd.c, 6.12): one page per iteration, EEXIST on a prepared folio,
//    EINVAL unless the gfn is PRIVATE, the pages done if any else the error;
//  * [PATCH 1/4] kvm_gmem_post_populate_generic(): copy_from_user() from `from` (failure: EINVAL), or zeroes.
#include <algorithm>
#include <cerrno>

#include "model/core_assert.h"
#include "model/vm/vm.h"

namespace kvmsim::model {

using namespace uapi;

Ret Vm::gmem_populate(const kvm_guest_memfd_populate& p, std::vector<HostRange>* host_invalidated,
                      std::string* kernel_bug) {
  if (kernel_bug)
    *kernel_bug = "kernel-bug: [PATCH 2/4] kvm_gmem_guest_memfd_populate(): kvm_gmem_populate() called without "
                  "kvm->slots_lock (lockdep_assert_held)";
  const u64 start_gfn = p.gpa >> 12;
  // A long in the kernel; kvm_gmem_populate()'s `npages < 0` check cannot fire after the shift.
  i64 npages = static_cast<i64>(p.size >> 12);
  // kvm_slot_can_be_private(): a guest_memfd slot (of address space 0: private VMs have one).
  const Memslot* slot = slots_[0].by_gfn(start_gfn);
  if (!slot || !(slot->flags & KVM_MEM_GUEST_MEMFD)) return Ret::fail(EINVAL);
  if (!slot->gmem->file_open) return Ret::fail(EFAULT);  // kvm_gmem_get_file()
  GuestMemfd& file = gmem_.at(slot->gmem->file_id);
  npages = std::min<i64>(npages, static_cast<i64>(slot->end_gfn() - start_gfn));
  int ret = 0;
  i64 i = 0;
  for (; i < npages; ++i) {
    const u64 gfn = start_gfn + static_cast<u64>(i);
    if (inject(FaultSite::pre_fault_signal)) {  // signal_pending()
      ret = EINTR;
      break;
    }
    const u64 index = (gfn - slot->base_gfn) + (slot->gmem->offset >> 12);
    if (file.prepared(index)) {
      ret = EEXIST;
      break;
    }
    if (!(attributes_.get(gfn) & KVM_MEMORY_ATTRIBUTE_PRIVATE)) {
      ret = EINVAL;
      break;
    }
    if (p.from) {
      // copy_from_user() of one page: every byte must be readable by the VMM.
      HostFault h = host_.fault_in(p.from + static_cast<u64>(i) * kPageSize, false);
      host_invalidated->insert(host_invalidated->end(), h.invalidated.begin(), h.invalidated.end());
      const u64 last = p.from + static_cast<u64>(i) * kPageSize + kPageSize - 1;
      HostFault t = h.ok() && (last >> 12) != ((p.from + static_cast<u64>(i) * kPageSize) >> 12)
                        ? host_.fault_in(last, false)
                        : h;
      host_invalidated->insert(host_invalidated->end(), t.invalidated.begin(), t.invalidated.end());
      if (!h.ok() || !t.ok()) {
        ret = EINVAL;
        break;
      }
    }
    file.set_prepared(index);
  }
  if (ret && i == 0) return Ret::fail(ret);
  return Ret::ok(i);
}

}  // namespace kvmsim::model
