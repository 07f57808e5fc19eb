// KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG (docs/semantics/dirty-log.md, docs/semantics/host-kvm-pvm.md §5). Without
// manual protect, GET fetches-and-clears and re-write-protects the reported pages; with
// KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, GET only copies and CLEAR clears (and re-protects).
#include <cerrno>

#include "model/vm/vm.h"

namespace kvmsim::model {

using namespace uapi;

Ret Vm::get_dirty_log(u32 slot_arg, std::vector<u64>& bitmap) {
  if (!use_dirty_bitmap()) return Ret::fail(ENXIO);
  const u32 as_id = slot_arg >> 16;
  const u16 id = static_cast<u16>(slot_arg);
  if (as_id >= nr_as_ || id >= KVM_USER_MEM_SLOTS) return Ret::fail(EINVAL);
  Memslot* s = slots_[as_id].find(id);
  if (!s || !s->has_dirty_bitmap) return Ret::fail(ENOENT);
  bitmap = s->dirty_bitmap;
  if (manual_protect_ & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) return Ret::ok();
  for (std::size_t w = 0; w < s->dirty_bitmap.size(); ++w) {
    if (!s->dirty_bitmap[w]) continue;
    // Re-protect each run of reported pages so the next write is logged again.
    const u64 mask = s->dirty_bitmap[w];
    for (u64 b = 0; b < 64;) {
      if (!(mask >> b & 1)) { ++b; continue; }
      u64 e = b;
      while (e < 64 && (mask >> e & 1)) ++e;
      mmu_.write_protect(*s, s->base_gfn + w * 64 + b, s->base_gfn + w * 64 + e);
      b = e;
    }
    s->dirty_bitmap[w] = 0;
  }
  return Ret::ok();
}

Ret Vm::clear_dirty_log(u32 slot_arg, u64 first_page, u32 num_pages, const std::vector<u64>& bitmap) {
  if (!use_dirty_bitmap()) return Ret::fail(ENXIO);
  const u32 as_id = slot_arg >> 16;
  const u16 id = static_cast<u16>(slot_arg);
  if (as_id >= nr_as_ || id >= KVM_USER_MEM_SLOTS) return Ret::fail(EINVAL);
  if (first_page & 63) return Ret::fail(EINVAL);
  Memslot* s = slots_[as_id].find(id);
  if (!s || !s->has_dirty_bitmap) return Ret::fail(ENOENT);
  if (first_page > s->npages || num_pages > s->npages - first_page ||
      (num_pages < s->npages - first_page && (num_pages & 63)))
    return Ret::fail(EINVAL);
  // copy_from_user of ALIGN(num_pages, 64) bits.
  if (bitmap.size() * 64 < ((static_cast<u64>(num_pages) + 63) & ~63ull)) return Ret::fail(EFAULT);
  for (u64 i = 0; i < num_pages; ++i) {
    if (!(bitmap[i / 64] >> (i % 64) & 1)) continue;
    const u64 rel = first_page + i;
    u64& word = s->dirty_bitmap[rel / 64];
    const u64 bit = 1ull << (rel % 64);
    if (word & bit) {
      word &= ~bit;
      mmu_.write_protect(*s, s->base_gfn + rel, s->base_gfn + rel + 1);
    }
  }
  return Ret::ok();
}

}  // namespace kvmsim::model
