// The VM side of guest_memfd (virt/kvm/guest_memfd.c): KVM_CREATE_GUEST_MEMFD, the zaps a
// punched hole implies (kvm_gmem_invalidate_begin) and the release of the file, which unbinds its
// slots. The file itself (size, bindings, fallocate checks) is GuestMemfd in model/gmem/.
#include <algorithm>
#include <cerrno>

#include "model/core_assert.h"
#include "model/gmem/guest_memfd.h"
#include "model/vm/vm.h"

namespace kvmsim::model {

using namespace uapi;

Ret Vm::create_guest_memfd(const kvm_create_guest_memfd& g, u64 file_id) {
  const u64 supported = has_private_mem_ ? profile_.gmem_flags_private_vm : profile_.gmem_flags_shared_vm;
  if (Ret r = check_create_guest_memfd(g, supported); !r.is_ok()) return r;
  gmem_.emplace(file_id, GuestMemfd(file_id, g.size, g.flags));
  return Ret::ok(static_cast<i64>(file_id));
}

Ret Vm::gmem_fallocate(u64 file_id, int mode, u64 offset, u64 len) {
  auto it = gmem_.find(file_id);
  KVMSIM_ASSERT(it != gmem_.end(), "fallocate on released gmem %llu", (unsigned long long)file_id);
  bool punched = false;
  Ret r = it->second.fallocate(mode, offset, len, &punched);
  if (!r.is_ok() || !punched) return r;
  it->second.unprepare(offset >> 12, (offset + len) >> 12);  // the punched folios are freed
  gmem_invalidate(it->second, offset, offset + len);
  return r;
}

void Vm::gmem_invalidate(const GuestMemfd& f, u64 offset, u64 end) {
  for (const GmemBindingRef& b : f.bindings_in(offset, end)) {
    const Memslot* s = slots_[b.as_id].find(b.slot_id);
    KVMSIM_ASSERT(s, "binding to missing slot %u", b.slot_id);
    const u64 s_off = std::max(offset, b.offset), e_off = std::min(end, b.end);
    mmu_.zap_gfn_range(b.as_id, s->base_gfn + ((s_off - b.offset) >> 12), s->base_gfn + ((e_off - b.offset) >> 12));
  }
}

void Vm::gmem_release(u64 file_id) {
  auto it = gmem_.find(file_id);
  KVMSIM_ASSERT(it != gmem_.end(), "double release of gmem %llu", (unsigned long long)file_id);
  // kvm_gmem_release: zap every binding, and the slots lose their file.
  for (const GmemBindingRef& b : it->second.bindings()) {
    Memslot* s = slots_[b.as_id].find(b.slot_id);
    KVMSIM_ASSERT(s && s->gmem, "binding to missing slot %u", b.slot_id);
    mmu_.zap_gfn_range(b.as_id, s->base_gfn, s->end_gfn());
    s->gmem->file_open = false;
  }
  gmem_.erase(it);
  host_.contents().drop(file_id);  // the inode and its folios go with the last reference
}

}  // namespace kvmsim::model
