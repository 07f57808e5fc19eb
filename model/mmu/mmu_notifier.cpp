// The uAPI events that change the TDP page table without a fault (docs/semantics/tdp-mmu.md §5):
// zaps (memslot delete/move, attribute changes, guest_memfd punch/close, host MMU notifier),
// mixed-attribute updates, NX recovery, and the observations (stats, mapping). The dirty-logging
// changes (slot flags, write-protection) are in dirty_log.cpp. Every event is also recorded in
// Mmu::events() when an observer asked for it, so tests can see exactly what was asked.
#include <algorithm>

#include "model/mmu/mmu.h"

namespace kvmsim::model {

using namespace uapi;

void Mmu::zap_gfn_range(u16 as_id, u64 start, u64 end) {
  if (start >= end) return;
  record(MmuEvent{MmuEvent::Kind::zap_range, as_id, start, end});
  // kvm_tdp_mmu_unmap_gfn_range: leaves only; a partially covered huge leaf goes entirely.
  counters_.leaves_zapped += roots_.at(as_id)->zap_gfn_range(start, end);
}

void Mmu::zap_all() {
  record(MmuEvent{MmuEvent::Kind::zap_all, 0, 0, 0});
  // kvm_mmu_zap_all_fast: every root of every address space is invalidated and freed.
  for (auto& m : roots_) {
    for (int level = 1; level <= 3; ++level) counters_.leaves_zapped += m->pages(level);
    m->zap_all();
  }
}

void Mmu::host_invalidated(const std::vector<HostRange>& ranges) {
  // kvm_mmu_notifier_invalidate_range_start: every slot of every address space whose hva range
  // intersects, translated to the covered gfns (partial pages round outwards).
  for (const HostRange& h : ranges) {
    for (u32 as = 0; as < nr_address_spaces(); ++as) {
      for (const Memslot* s : ctx_.slots[as].by_id()) {
        const u64 hs = std::max(h.start, s->userspace_addr);
        const u64 he = std::min(h.end, s->hva_end());
        if (hs >= he) continue;
        const u64 start = s->base_gfn + ((hs - s->userspace_addr) >> 12);
        const u64 end = s->base_gfn + ((he - s->userspace_addr + kPageSize - 1) >> 12);
        zap_gfn_range(s->as_id, start, end);
      }
    }
  }
}

void Mmu::post_set_memory_attributes(u64 start, u64 end) {
  record(MmuEvent{MmuEvent::Kind::attributes_changed, 0, start, end});
  // kvm_arch_post_set_memory_attributes: recompute MIXED for the regions the change touched.
  if (!ctx_.has_private_mem) return;
  auto uniform = [this](u64 s, u64 e, u64* a) { return ctx_.attributes.uniform(s, e, a); };
  for (u32 as = 0; as < nr_address_spaces(); ++as)
    for (const Memslot* s : ctx_.slots[as].overlapping(start, end))
      ctx_.slots[as].find(s->id)->lpage_info->update_mixed(start, end, uniform);
}

u64 Mmu::recover_nx_huge_pages(u64 max) {
  // Tables in dirty-logged slots are only untracked (a huge page would be split again).
  const u64 n = roots_[0]->nx_recover(max, [this](u64 gfn) {
    const Memslot* s = ctx_.slots[0].by_gfn(gfn);
    return s && (s->flags & KVM_MEM_LOG_DIRTY_PAGES);
  });
  counters_.nx_recovered += n;
  return n;
}

Stats Mmu::stats() const {
  Stats out{{"pages_4k", 0}, {"pages_2m", 0}, {"pages_1g", 0}, {"nx_lpage_splits", 0}};
  for (const auto& m : roots_) m->add_stats(out);
  return out;
}

Mapping Mmu::mapping(u64 gpa, u16 as_id) const { return roots_.at(as_id)->lookup(gpa >> 12); }

}  // namespace kvmsim::model
