// The proposed guest_memfd ioctl KVM_SET_MEMORY_ATTRIBUTES2 of the in-place conversion series
// (docs/semantics/gmem-conversion.md §2-§4): virt/kvm/guest_memfd.c kvm_gmem_set_attributes() and
// __kvm_gmem_set_attributes() as posted in v8 ([PATCH v8 13-18/46]), plus RFC v5's content-mode checks
// when the profile knows mode flags. The PRIVATE attribute then lives in the file (GuestMemfd::attributes)
// and faults read it through kvm_gmem_is_private() (Vm::gmem_is_private).
#include <algorithm>
#include <cerrno>

#include "model/core_assert.h"
#include "model/vm/vm.h"

namespace kvmsim::model {

using namespace uapi;

bool Vm::gmem_is_private(u64 gfn) const {
  // [PATCH v8 09/46] kvm_gmem_is_private(): no memslot, or no guest_memfd behind it, is never private.
  const Memslot* s = slots_[0].by_gfn(gfn);
  if (!s || !s->gmem || !s->gmem->file_open) return false;
  auto it = gmem_.find(s->gmem->file_id);
  KVMSIM_ASSERT(it != gmem_.end(), "slot %u bound to a vanished file", s->id);
  const u64 index = (gfn - s->base_gfn) + (s->gmem->offset >> 12);
  return it->second.attributes().get(index) & KVM_MEMORY_ATTRIBUTE_PRIVATE;
}

// What the file's pages hold after the conversion of [start, end) (docs/semantics/gmem-conversion.md §5):
// RFC v5's ZERO zeroes every allocated page of the range (an unallocated one reads 0 anyway), PRESERVE
// keeps them; without a mode the series promises nothing, so every page whose attributes change holds
// unspecified bytes until someone writes them. Pages already in the requested state are not converted.
void Vm::apply_conversion_contents(u64 file_id, const MemoryAttributes& before, u64 start, u64 end, u64 attrs,
                                   u64 flags) {
  PageContents& c = host_.contents();
  if (flags & KVM_SET_MEMORY_ATTRIBUTES2_ZERO) return c.zero(file_id, start << 12, end << 12);
  if (flags & KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE) return;
  for (u64 i = start; i < end;) {
    const u64 run_end = before.run_end(i, end);
    if (before.get(i) != attrs) c.mark_unspecified(file_id, i << 12, run_end << 12);
    i = run_end;
  }
}

Ret Vm::gmem_set_attributes(u64 file_id, kvm_memory_attributes2& a, bool* written_back,
                            std::vector<HostRange>* host_invalidated) {
  *written_back = false;
  auto it = gmem_.find(file_id);
  KVMSIM_ASSERT(it != gmem_.end(), "ioctl on released gmem %llu", (unsigned long long)file_id);
  GuestMemfd& f = it->second;
  const GmemConversion& gc = profile_.gmem_conversion;
  constexpr u64 kZero = KVM_SET_MEMORY_ATTRIBUTES2_ZERO, kPreserve = KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE;

  // kvm_gmem_set_attributes(), in the posted order; none of these writes the struct back.
  if (a.flags & ~gc.mode_flags) return Ret::fail(EINVAL);                     // v8: flags != 0
  if ((a.flags & kZero) && (a.flags & kPreserve)) return Ret::fail(EINVAL);  // RFC v5: both modes
  for (u64 w : a.reserved)
    if (w) return Ret::fail(EINVAL);
  if (!has_private_mem_) return Ret::fail(EINVAL);  // !kvm_arch_has_private_mem(f->kvm)
  if (a.attributes & ~KVM_MEMORY_ATTRIBUTE_PRIVATE) return Ret::fail(EINVAL);
  if (a.size == 0 || a.offset + a.size < a.offset) return Ret::fail(EINVAL);
  if ((a.offset | a.size) & (kPageSize - 1)) return Ret::fail(EINVAL);
  if (a.offset >= f.size() || a.offset + a.size > f.size()) return Ret::fail(EINVAL);

  // __kvm_gmem_set_attributes(), under the invalidate lock. An error from here on copies the whole
  // struct back with error_offset set.
  const u64 start = a.offset >> 12, end = (a.offset + a.size) >> 12;
  const bool to_private = a.attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE;
  auto fail_at = [&](int err, u64 index) {
    a.error_offset = index << 12;
    *written_back = true;
    return Ret::fail(err);
  };
  // RFC v5 kvm_gmem_content_mode_is_supported(): ZERO never to private; otherwise the VM type's table.
  if (a.flags) {
    auto m = gc.modes.find(type_);
    const u64 supported = m == gc.modes.end() ? 0 : to_private ? m->second.to_private : m->second.to_shared;
    if ((a.flags == kZero && to_private) || !(supported & a.flags)) return fail_at(EOPNOTSUPP, start);
  }
  // [PATCH v8 16/46]: nothing to do if the whole range already has the attributes, pinned pages or not.
  if (f.attributes().range_has(start, end, a.attributes)) return Ret::ok();
  // kvm_gmem_mas_preallocate(): the maple tree allocation (the `alloc` injection site).
  if (inject(FaultSite::alloc)) return fail_at(ENOMEM, start);
  if (to_private) {
    // [PATCH v8 14/46]: host mappings go first (unmap_mapping_pages), even when the check below fails.
    auto h = host_.unmap_file_pages(file_id, a.offset, a.size);
    host_invalidated->insert(host_invalidated->end(), h.begin(), h.end());
    // kvm_gmem_is_safe_for_conversion(): every folio of the range must hold only the page cache's and
    // filemap_get_folios()'s references (after one lru_add_drain_all(), which the model never needs).
    if (auto busy = host_.first_pinned_file_page(file_id, a.offset, a.offset + a.size))
      return fail_at(EAGAIN, *busy >> 12);
  }
  // Point of no return. kvm_gmem_invalidate_start(): every binding's gfns in the range are zapped.
  gmem_invalidate(f, a.offset, a.offset + a.size);
  apply_conversion_contents(file_id, f.attributes(), start, end, a.attributes, a.flags);
  f.set_attributes(start, end, a.attributes);
  host_.set_gmem_private(file_id, a.offset, a.offset + a.size, to_private);
  return Ret::ok();
}

}  // namespace kvmsim::model
