// The MMU side of dirty logging: kvm_mmu_slot_apply_flags() when KVM_MEM_LOG_DIRTY_PAGES is
// turned on or off (eager split + write-protect, or huge page recovery), and the write-protection
// of pages the GET/CLEAR ioctls just reported or cleared. The bitmaps and those ioctls are generic
// KVM (kvm_main.c) and live with the Vm (model/vm/dirty_log.cpp); this file only changes SPTEs.
#include "model/mmu/mmu.h"

namespace kvmsim::model {

using namespace uapi;

void Mmu::slot_flags_changed(const Memslot& old, const Memslot& now) {
  // kvm_mmu_slot_apply_flags.
  const bool was = old.flags & KVM_MEM_LOG_DIRTY_PAGES, is = now.flags & KVM_MEM_LOG_DIRTY_PAGES;
  if (was == is) return;
  record(MmuEvent{is ? MmuEvent::Kind::dirty_log_on : MmuEvent::Kind::dirty_log_off, now.as_id,
                             now.base_gfn, now.end_gfn()});
  PageTable& root = *roots_.at(now.as_id);
  // Nothing more for a READONLY slot, either way: it can never be written, so nothing needs 4K
  // tracking or recovering (found by kvmsim fuzz: traces/regressions/readonly_dirty_log_off_keeps_4k.trace).
  if (now.flags & KVM_MEM_READONLY) return;
  if (!is) {
    // Writes no longer need 4K tracking: rebuild huge pages where the slot allows them.
    auto max_level = [this, &now](u64 gfn, int) { return max_mapping_level(now, gfn); };
    if (ctx_.profile.dirty_log_disable_recovers_in_place)
      counters_.huge_recovered += root.recover_huge_pages(now.base_gfn, now.end_gfn(), max_level);
    else
      counters_.collapsible_zapped += root.zap_collapsible(now.base_gfn, now.end_gfn(), max_level);
    return;
  }
  // Manual protect with INITIALLY_SET: every page already reads dirty; KVM_CLEAR_DIRTY_LOG
  // splits and protects chunk by chunk (write_protect below).
  if (manual_protect_initially_set())
    return;
  if (ctx_.profile.eager_page_split) counters_.eager_splits += root.split_huge_pages(now.base_gfn, now.end_gfn(), 1);
  // kvm_mmu_slot_remove_write_access(PG_LEVEL_4K): no PML, so every leaf loses W.
  root.write_protect_range(now.base_gfn, now.end_gfn());
}

void Mmu::write_protect(const Memslot& slot, u64 start, u64 end) {
  // kvm_arch_mmu_enable_log_dirty_pt_masked for pages just reported (GET) or cleared (CLEAR).
  record(MmuEvent{MmuEvent::Kind::write_protect, slot.as_id, start, end});
  PageTable& root = *roots_.at(slot.as_id);
  if (manual_protect_initially_set()) {
    // Huge leaves may still cover these pages: with eager split they are split to 4K, else
    // they are write-protected whole (write_protect_range covers intersecting huge leaves).
    // Callers pass runs inside one 64-page word and a huge leaf is larger than a word, so
    // per-run handling equals KVM's per-word [first set bit, last set bit] split.
    if (ctx_.profile.eager_page_split) counters_.eager_splits += root.split_huge_pages(start, end, 1);
  }
  root.write_protect_range(start, end);
}

}  // namespace kvmsim::model
