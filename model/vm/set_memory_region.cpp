// KVM_SET_USER_MEMORY_REGION / KVM_SET_USER_MEMORY_REGION2 (docs/semantics/memslots.md §2-§3):
// every check in kernel order, then create / delete / move / flags-only / no-op.
#include <cerrno>

#include "model/core_assert.h"
#include "model/vm/vm.h"

namespace kvmsim::model {

using namespace uapi;

namespace {
enum class Change { create, remove, move, flags_only };
}

Ret Vm::bind_gmem(Memslot& slot, const GmemRef& ref) {
  // kvm_gmem_bind (docs/semantics/guest-memfd.md §4).
  if (ref.kind == GmemRef::Kind::bad_fd) return Ret::fail(EBADF);
  if (ref.kind == GmemRef::Kind::not_gmem || ref.owner != this) return Ret::fail(EINVAL);
  auto it = gmem_.find(ref.file_id);
  KVMSIM_ASSERT(it != gmem_.end(), "open gmem file %llu not in its VM", (unsigned long long)ref.file_id);
  GuestMemfd& f = it->second;
  const u64 offset = slot.gmem->offset;
  const u64 end = offset + (slot.npages << 12);
  if (static_cast<i64>(offset) < 0 || end > f.size() || end < offset) return Ret::fail(EINVAL);
  if (f.overlaps(offset, end)) return Ret::fail(profile_.gmem_binding_overlap_errno);
  f.bind(GmemBindingRef{offset, end, slot.as_id, slot.id});
  slot.gmem->file_id = f.file_id();
  slot.gmem_only = f.mmap_capable();
  return Ret::ok();
}

void Vm::unbind_gmem(const Memslot& slot) {
  if (!slot.gmem || !slot.gmem->file_open) return;
  auto it = gmem_.find(slot.gmem->file_id);
  KVMSIM_ASSERT(it != gmem_.end(), "slot %u bound to a vanished file", slot.id);
  it->second.unbind(slot.as_id, slot.id);
}

Ret Vm::set_user_memory_region(const kvm_userspace_memory_region2& mem, bool v2, const GmemRef& gmem_ref,
                               const PrivateFdRef& private_fd) {
  // private-fd v5: on KVM_SET_USER_MEMORY_REGION, bit 2 is KVM_MEM_PRIVATE (upstream's GUEST_MEMFD bit
  // only exists on REGION2), docs/semantics/proposals.md §2.
  const bool is_private_fd = !v2 && profile_.has_private_fd_memslot && (mem.flags & KVM_MEM_PRIVATE);
  const bool is_gmem = (mem.flags & KVM_MEM_GUEST_MEMFD) && !is_private_fd;
  // 2. v1 knows only LOG_DIRTY_PAGES and READONLY.
  if (!v2 && (mem.flags & ~(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY | (is_private_fd ? KVM_MEM_PRIVATE : 0))))
    return Ret::fail(EINVAL);
  // 3. user slot id.
  if ((mem.slot & 0xffff) >= KVM_USER_MEM_SLOTS) return Ret::fail(EINVAL);
  // 4. check_memory_region_flags.
  u32 valid = KVM_MEM_LOG_DIRTY_PAGES;
  if (profile_.has_guest_memfd && (!profile_.gmem_slot_needs_private_mem || has_private_mem_))
    valid |= KVM_MEM_GUEST_MEMFD;
  if (is_gmem) valid &= ~KVM_MEM_LOG_DIRTY_PAGES;
  // kvm_arch_has_readonly_mem: VMs without protected state (all types modelled here).
  if (!is_gmem) valid |= KVM_MEM_READONLY;
  if (is_private_fd) valid |= KVM_MEM_PRIVATE;  // v5 patch 12/13, check_memory_region_flags()
  if (mem.flags & ~valid) return Ret::fail(EINVAL);
  // 5.
  const u16 as_id = static_cast<u16>(mem.slot >> 16);
  const u16 id = static_cast<u16>(mem.slot);
  // 6-8. alignment and access_ok (checked for deletes too).
  if (mem.memory_size & (kPageSize - 1)) return Ret::fail(EINVAL);
  if (mem.guest_phys_addr & (kPageSize - 1)) return Ret::fail(EINVAL);
  if ((mem.userspace_addr & (kPageSize - 1)) || !host_.access_ok(mem.userspace_addr, mem.memory_size))
    return Ret::fail(EINVAL);
  // 9.
  if (is_gmem &&
      ((mem.guest_memfd_offset & (kPageSize - 1)) || mem.guest_memfd_offset + mem.memory_size < mem.guest_memfd_offset))
    return Ret::fail(EINVAL);
  // 10-12.
  if (as_id >= nr_as_ || id >= KVM_MEM_SLOTS_NUM) return Ret::fail(EINVAL);
  if (mem.guest_phys_addr + mem.memory_size < mem.guest_phys_addr) return Ret::fail(EINVAL);
  if ((mem.memory_size >> 12) > KVM_MEM_MAX_NR_PAGES) return Ret::fail(EINVAL);
  // 13.
  MemslotSet& set = slots_[as_id];
  const Memslot* old = set.find(id);
  const u64 base_gfn = mem.guest_phys_addr >> 12;
  const u64 npages = mem.memory_size >> 12;

  // 14. delete.
  if (mem.memory_size == 0) {
    if (!old) return Ret::fail(EINVAL);
    invalidate_slot(*old);
    unbind_gmem(*old);
    if (old->private_fd && !old->private_fd->registered)
      // kvm_free_memslot() -> memfile_unregister_notifier() on a notifier that was never added.
      report_kernel_bug("[PATCH v5 10/13] kvm_free_memslot(): slot " + std::to_string(id) +
                        " was moved or had its flags changed, so its memfile notifier was never registered "
                        "(only a CREATE registers); list_del_rcu() of its zeroed list_head dereferences NULL");
    set.erase(id);
    return Ret::ok();
  }

  // 15. classify.
  Change change;
  if (!old) {
    change = Change::create;
  } else {
    if (is_gmem) return Ret::fail(EINVAL);
    // Toggling bit 2 is refused upstream (GUEST_MEMFD); v5 lets KVM_MEM_PRIVATE change like any flag.
    const u32 fixed = KVM_MEM_READONLY | (profile_.has_private_fd_memslot ? 0 : KVM_MEM_GUEST_MEMFD);
    if (mem.userspace_addr != old->userspace_addr || npages != old->npages || ((mem.flags ^ old->flags) & fixed))
      return Ret::fail(EINVAL);
    if (base_gfn != old->base_gfn) change = Change::move;
    else if (mem.flags != old->flags) change = Change::flags_only;
    else return Ret::ok();
  }

  // 15b. private-fd v5 patch 10/13: fdget(private_fd) once the call is known to change something.
  if (is_private_fd && private_fd.kind == PrivateFdRef::Kind::bad_fd) return Ret::fail(EINVAL);

  // 16. overlap with other slots of the same address space.
  if ((change == Change::create || change == Change::move) &&
      set.overlaps(base_gfn, base_gfn + npages, old ? std::optional<u16>(id) : std::nullopt))
    return Ret::fail(EEXIST);

  // 17. the new slot; a guest_memfd slot binds now.
  Memslot slot;
  slot.id = id;
  slot.as_id = as_id;
  slot.base_gfn = base_gfn;
  slot.npages = npages;
  slot.userspace_addr = mem.userspace_addr;
  slot.flags = mem.flags;
  if (is_gmem) {
    slot.gmem = GmemBinding{0, mem.guest_memfd_offset, true};
    if (Ret r = bind_gmem(slot, gmem_ref); !r.is_ok()) return r;
  }
  if (is_private_fd) {
    slot.private_fd = PrivateFdBinding{private_fd.file, private_fd.offset, false};
    // kvm_memfile_register(), CREATE only: a file that is not shmem has no notifier list (EINVAL).
    if (change == Change::create) {
      if (!private_fd.file) return Ret::fail(EINVAL);
      slot.private_fd->registered = true;
    }
  }
  // The posted error path after a failed prepare: kvm_memfile_unregister() fput()s the file and
  // __kvm_set_memory_region() fput()s it again (review of v5 10/13).
  auto private_fd_prepare_failed = [&] {
    if (slot.private_fd && slot.private_fd->registered)
      report_kernel_bug("[PATCH v5 10/13] kvm_set_memslot(): kvm_prepare_memory_region() failed for private slot " +
                        std::to_string(id) + "; kvm_memfile_unregister() and __kvm_set_memory_region() both fput() "
                        "the private file (one reference put twice)");
  };

  // lpage_info: MOVE recomputes it (new base gfn), FLAGS_ONLY keeps the old arrays.
  if (change == Change::flags_only) slot.lpage_info = old->lpage_info;
  else mmu_.init_lpage_info(slot);

  // 18. DELETE/MOVE zap before prepare: a later failure leaves the mappings zapped.
  if (change == Change::move) invalidate_slot(*old);

  // 19. prepare: dirty bitmap (the old one is kept), then the arch checks.
  if (slot.flags & KVM_MEM_LOG_DIRTY_PAGES) {
    if (old && old->has_dirty_bitmap) {
      slot.dirty_bitmap = old->dirty_bitmap;
      slot.has_dirty_bitmap = true;
    } else if (use_dirty_bitmap()) {
      const bool all_set = (manual_protect_ & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) &&
                           (manual_protect_ & KVM_DIRTY_LOG_INITIALLY_SET);
      slot.dirty_bitmap.assign((npages + 63) / 64, 0);
      if (all_set) {
        for (u64 i = 0; i < npages; ++i) slot.dirty_bitmap[i / 64] |= 1ull << (i % 64);
      }
      slot.has_dirty_bitmap = true;
    }
  }
  if ((change == Change::create || change == Change::move) && base_gfn + npages - 1 > profile_.max_gfn) {
    if (slot.gmem) unbind_gmem(slot);
    private_fd_prepare_failed();
    return Ret::fail(EINVAL);
  }
  // kvm_alloc_memslot_metadata (rmaps, lpage_info) can fail; fault injection stands in for it.
  if ((change == Change::create || change == Change::move) && inject(FaultSite::alloc)) {
    if (slot.gmem) unbind_gmem(slot);
    private_fd_prepare_failed();
    return Ret::fail(ENOMEM);
  }

  // 20. commit.
  if (change == Change::create) {
    set.insert(std::move(slot));
    ever_had_memslot_ = true;
    return Ret::ok();
  }
  Memslot prev = set.erase(id);
  // kvm_commit_memory_region() kfree()s the old slot of a MOVE/FLAGS_ONLY without unregistering its
  // notifier, which stays on the private file's list (v5 10/13).
  if (prev.private_fd && prev.private_fd->registered && prev.private_fd->file)
    freed_notifiers_.emplace(prev.private_fd->file->file_id, id);
  slot.gmem = prev.gmem;  // modify never carries GUEST_MEMFD: only non-gmem slots get here
  slot.gmem_only = prev.gmem_only;
  set.insert(std::move(slot));
  if (change == Change::flags_only) mmu_.slot_flags_changed(prev, *set.find(id));
  return Ret::ok();
}

}  // namespace kvmsim::model
