// The uAPI events that change the TDP page table without a fault (docs/semantics/tdp-mmu.md §5):
// zaps (memslot delete/move, attribute changes, guest_memfd punch/close, host MMU notifier),
// dirty-logging flag changes (eager split + write-protect, huge page recovery), dirty-log
// write-protection, mixed-attribute updates, NX recovery, and the observations (stats, mapping).
// Every event is also recorded in mmu_events() so tests can see exactly what was asked.
#include <algorithm>

#include "model/vm/vm.h"

namespace kvmsim::model {

using namespace uapi;

void Vm::zap_gfn_range(u16 as_id, u64 start, u64 end) {
  if (start >= end) return;
  events_.push_back(MmuEvent{MmuEvent::Kind::zap_range, as_id, start, end});
  // kvm_tdp_mmu_unmap_gfn_range: leaves only; a partially covered huge leaf goes entirely.
  mmu_.at(as_id)->zap_gfn_range(start, end);
}

void Vm::zap_all() {
  events_.push_back(MmuEvent{MmuEvent::Kind::zap_all, 0, 0, 0});
  // kvm_mmu_zap_all_fast: every root of every address space is invalidated and freed.
  for (auto& m : mmu_) m->zap_all();
}

void Vm::flags_changed(const Memslot& old, const Memslot& now) {
  // kvm_mmu_slot_apply_flags.
  const bool was = old.flags & KVM_MEM_LOG_DIRTY_PAGES, is = now.flags & KVM_MEM_LOG_DIRTY_PAGES;
  if (was == is) return;
  events_.push_back(MmuEvent{is ? MmuEvent::Kind::dirty_log_on : MmuEvent::Kind::dirty_log_off, now.as_id,
                             now.base_gfn, now.end_gfn()});
  PageTable& mmu = *mmu_.at(now.as_id);
  // Nothing more for a READONLY slot, either way: it can never be written, so nothing needs 4K
  // tracking or recovering (found by kvmsim fuzz: traces/regressions/readonly_dirty_log_off_keeps_4k.trace).
  if (now.flags & KVM_MEM_READONLY) return;
  if (!is) {
    // Writes no longer need 4K tracking: rebuild huge pages where the slot allows them.
    auto max_level = [this, &now](u64 gfn, int) { return max_mapping_level(now, gfn); };
    if (profile_.dirty_log_disable_recovers_in_place) mmu.recover_huge_pages(now.base_gfn, now.end_gfn(), max_level);
    else mmu.zap_collapsible(now.base_gfn, now.end_gfn(), max_level);
    return;
  }
  // Manual protect with INITIALLY_SET: every page already reads dirty; KVM_CLEAR_DIRTY_LOG
  // splits and protects chunk by chunk (write_protect below).
  if ((manual_protect_ & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) && (manual_protect_ & KVM_DIRTY_LOG_INITIALLY_SET))
    return;
  if (profile_.eager_page_split) mmu.split_huge_pages(now.base_gfn, now.end_gfn(), 1);
  // kvm_mmu_slot_remove_write_access(PG_LEVEL_4K): no PML, so every leaf loses W.
  mmu.write_protect_range(now.base_gfn, now.end_gfn());
}

void Vm::write_protect(const Memslot& slot, u64 start, u64 end) {
  // kvm_arch_mmu_enable_log_dirty_pt_masked for pages just reported (GET) or cleared (CLEAR).
  events_.push_back(MmuEvent{MmuEvent::Kind::write_protect, slot.as_id, start, end});
  PageTable& mmu = *mmu_.at(slot.as_id);
  if ((manual_protect_ & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) && (manual_protect_ & KVM_DIRTY_LOG_INITIALLY_SET)) {
    // Huge leaves may still cover these pages: with eager split they are split to 4K, else
    // they are write-protected whole (write_protect_range covers intersecting huge leaves).
    // Callers pass runs inside one 64-page word and a huge leaf is larger than a word, so
    // per-run handling equals KVM's per-word [first set bit, last set bit] split.
    if (profile_.eager_page_split) mmu.split_huge_pages(start, end, 1);
  }
  mmu.write_protect_range(start, end);
}

void Vm::post_set_memory_attributes(u64 start, u64 end) {
  events_.push_back(MmuEvent{MmuEvent::Kind::attributes_changed, 0, start, end});
  // kvm_arch_post_set_memory_attributes: recompute MIXED for the regions the change touched.
  if (!has_private_mem_) return;
  auto uniform = [this](u64 s, u64 e, u64* a) { return attributes_.uniform(s, e, a); };
  for (u32 as = 0; as < nr_as_; ++as)
    for (const Memslot* s : slots_[as].overlapping(start, end))
      slots_[as].find(s->id)->lpage_info->update_mixed(start, end, uniform);
}

u64 Vm::recover_nx_huge_pages(u64 max) {
  // Tables in dirty-logged slots are only untracked (a huge page would be split again).
  return mmu_[0]->nx_recover(max, [this](u64 gfn) {
    const Memslot* s = slots_[0].by_gfn(gfn);
    return s && (s->flags & KVM_MEM_LOG_DIRTY_PAGES);
  });
}

Stats Vm::stats() const {
  Stats out{{"pages_4k", 0}, {"pages_2m", 0}, {"pages_1g", 0}, {"nx_lpage_splits", 0}};
  for (const auto& m : mmu_) m->add_stats(out);
  return out;
}

Mapping Vm::mapping(u64 gpa) const { return mmu_[0]->lookup(gpa >> 12); }

}  // namespace kvmsim::model
