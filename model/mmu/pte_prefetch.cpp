// The legacy (shadow) MMU's PTE prefetch (mmu.c direct_pte_prefetch / kvm_mmu_prefetch_sptes),
// for profiles with `direct_pte_prefetch`: after a fault installs a 4K leaf, KVM walks the aligned
// group of PTE_PREFETCH_NUM (8) SPTEs around it and maps each run of non-present entries from
// host pages that are already present and writable (get_user_pages_fast_only(FOLL_WRITE): nothing
// is faulted in). The TDP MMU has no such prefetch. Stops for good at the first run that maps
// nothing, exactly as __direct_pte_prefetch does.
#include "model/core_assert.h"
#include "model/mmu/mmu.h"

namespace kvmsim::model {

using namespace uapi;

namespace {
constexpr u64 kPtePrefetchNum = 8;
}

// kvm_mmu_prefetch_sptes for [start, end): false when nothing could be prefetched.
bool Mmu::prefetch_sptes(u64 start, u64 end, u16 as_id) {
  // gfn_to_memslot_dirty_bitmap(): no slot, or a dirty-logged one (prefetched SPTEs are writable
  // and would escape the log), stops the prefetch.
  const Memslot* slot = ctx_.slots.at(as_id).by_gfn(start);
  if (!slot || (slot->flags & KVM_MEM_LOG_DIRTY_PAGES)) return false;
  // kvm_prefetch_pages(): a write hva lookup fails on READONLY slots; a run crossing the end of
  // the slot maps nothing at all.
  if (slot->flags & KVM_MEM_READONLY) return false;
  if (slot->base_gfn + slot->npages - start < end - start) return false;
  u64 n = 0;
  while (start + n < end && ctx_.host.gup_fast_writable(slot->hva_of(start + n))) n++;
  if (n == 0) return false;
  SpteAttrs attrs;
  attrs.executable = true;  // direct SPs are ACC_ALL
  attrs.writable = true;    // pinned with FOLL_WRITE
  attrs.dirty = true;
  attrs.accessed = false;  // prefetched SPTEs are not accessed
  for (u64 i = 0; i < n; i++) {
    const MapResult m = roots_.at(as_id)->map(start + i, 1, attrs, MapFaultInfo{1, false, true});
    KVMSIM_ASSERT(m.level == 1 && !m.spurious, "prefetch of gfn %llx mapped level %d spurious=%d",
                  (unsigned long long)(start + i), m.level, m.spurious);
  }
  return true;
}

void Mmu::direct_pte_prefetch(u64 gfn, u16 as_id) {
  const u64 group = gfn & ~(kPtePrefetchNum - 1);
  u64 run = 0;
  bool in_run = false;
  for (u64 g = group; g < group + kPtePrefetchNum; g++) {
    if (g == gfn || roots_.at(as_id)->lookup(g).level != 0) {
      if (!in_run) continue;
      if (!prefetch_sptes(run, g, as_id)) return;
      in_run = false;
    } else if (!in_run) {
      run = g;
      in_run = true;
    }
  }
  if (in_run) prefetch_sptes(run, group + kPtePrefetchNum, as_id);
}

}  // namespace kvmsim::model
