// The private-fd v5 proposal's memfile notifier (docs/semantics/proposals.md §2): when pages of a
// private file are allocated (fallocate) or removed (hole punch, truncate), shmem calls every
// notifier registered on the file, and KVM's handler (patch 11/13 kvm_memfile_notifier_handler())
// zaps the guest mappings of the slot. The model zaps exactly the gfn range the posted handler
// computes, and reports where it differs from the slot's pages of the file.
#include <algorithm>
#include <cstdio>
#include <string>

#include "model/vm/vm.h"

namespace kvmsim::model {

void Vm::report_kernel_bug(const std::string& what) {
  if (!kernel_bug_.empty()) kernel_bug_ += '\n';
  kernel_bug_ += "kernel-bug: " + what;
}

std::string Vm::take_kernel_bug() {
  std::string s = std::move(kernel_bug_);
  kernel_bug_.clear();
  const std::string m = mmu_.take_kernel_bug();
  if (!m.empty()) s += (s.empty() ? "" : "\n") + m;
  return s;
}

void Vm::private_fd_notify(u64 file_id, u64 start, u64 end) {
  for (auto [it, last] = freed_notifiers_.equal_range(file_id); it != last; ++it)
    report_kernel_bug("[PATCH v5 10/13] use-after-free: the notifier of the old slot " + std::to_string(it->second) +
                      ", kfree()d by kvm_commit_memory_region() on MOVE/FLAGS_ONLY without "
                      "memfile_unregister_notifier(), is still on the private file's notifier list");
  for (u32 as = 0; as < nr_as_; ++as) {
    for (const Memslot* slot : slots_[as].by_id()) {
      if (!slot->private_fd || !slot->private_fd->registered || !slot->private_fd->file ||
          slot->private_fd->file->file_id != file_id)
        continue;
      // kvm_memfile_notifier_handler(), as posted: file page numbers minus the offset's pages are
      // taken for gfns, clamped to the slot (u64 arithmetic, as pgoff_t).
      const u64 off = slot->private_fd->offset >> 12;
      u64 zs = std::max(start - off, slot->base_gfn);
      u64 ze = std::min(end - off, slot->end_gfn());
      // What the slot maps of the file: pages [off, off + npages) at base_gfn.
      const u64 fs = std::max(start, off), fe = std::min(end, off + slot->npages);
      const bool any = fs < fe;
      const u64 cs = any ? slot->base_gfn + (fs - off) : 0, ce = any ? slot->base_gfn + (fe - off) : 0;
      const bool zapped = zs < ze;
      if (zapped) mmu_.zap_gfn_range(static_cast<u16>(as), zs, ze);
      if ((zapped || any) && !(zapped && any && zs == cs && ze == ce))
        report_kernel_bug("[PATCH v5 11/13] kvm_memfile_notifier_handler(): file pages [" + hex(start) + ", " +
                          hex(end) + ") of slot " + std::to_string(slot->id) + " zap gfns " +
                          (zapped ? "[" + hex(zs) + ", " + hex(ze) + ")" : "nothing") + " instead of " +
                          (any ? "[" + hex(cs) + ", " + hex(ce) + ")" : "nothing") +
                          " (page offsets in the file are used as gfns)");
    }
  }
}

}  // namespace kvmsim::model
