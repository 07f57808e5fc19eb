// The data side of a guest access (docs/semantics/memory-contents.md §5): after the MMU has mapped
// the GPA, the load or store reaches the page KVM mapped: the guest_memfd folio for a private gfn or
// a GMEM_ONLY slot (kvm_gmem_get_pfn()), else the host page at the slot's userspace address
// (hva_to_pfn(), the same page the VMM sees).
#include <algorithm>

#include "model/core_assert.h"
#include "model/vm/vm.h"

namespace kvmsim::model {

HostMemory::Location Vm::guest_location(u64 gpa, bool write, u16 as_id) {
  const u64 gfn = gpa >> 12;
  const Memslot* slot = slots_.at(as_id).by_gfn(gfn);
  KVMSIM_ASSERT(slot, "guest data access to gpa %llx without a memslot", (unsigned long long)gpa);
  const bool is_private = has_private_mem_ && (attributes_.get(gfn) & uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE);
  if (is_private || slot->gmem_only) {
    KVMSIM_ASSERT(slot->gmem && slot->gmem->file_open, "gmem-backed access at gpa %llx", (unsigned long long)gpa);
    return {slot->gmem->file_id, slot->gmem->offset + (gpa - (slot->base_gfn << 12))};
  }
  return host_.locate(slot->hva_of(gfn) + (gpa & 0xfff), write);
}

AccessOutcome Vm::access_value(u32 vcpu_id, u64 gpa, AccessKind kind, u64 value, u16 as_id) {
  KVMSIM_ASSERT(kind != AccessKind::exec, "exec carries no value");
  const bool write = kind == AccessKind::write;
  if (gpa + 8 < gpa) return access(vcpu_id, gpa, kind, as_id);  // no memslot reaches the top of the space
  const u64 end = gpa + 8;
  // An access that straddles a page faults on both pages, in order; the first exit wins.
  for (u64 pos = gpa; pos < end; pos = (pos & ~0xfffull) + 0x1000) {
    AccessOutcome o = access(vcpu_id, pos, kind, as_id);
    if (o.kind != AccessOutcome::Kind::ok) return o;
  }
  AccessOutcome out;
  for (u64 pos = gpa; pos < end;) {
    const u64 next = std::min<u64>(end, (pos & ~0xfffull) + 0x1000);
    const unsigned n = static_cast<unsigned>(next - pos);
    const HostMemory::Location l = guest_location(pos, write, as_id);
    if (write) host_.contents().store(l.object, l.offset, value >> (8 * (pos - gpa)), n);
    else {
      out.value |= host_.contents().load(l.object, l.offset, n) << (8 * (pos - gpa));
      out.unspecified |= host_.contents().unspecified(l.object, l.offset, n);
    }
    pos = next;
  }
  return out;
}

}  // namespace kvmsim::model
