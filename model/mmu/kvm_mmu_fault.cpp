// The TDP fault path (see page_fault.h): Mmu::page_fault and Mmu::access, the fault's
// level-selection input, kvm_mmu_max_mapping_level and a new slot's lpage_info.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>

#include "model/core_assert.h"
#include "model/mmu/mmu.h"

namespace kvmsim::model {

using namespace uapi;

namespace {

FaultResult memory_fault(const PageFault& f) {
  // kvm_mmu_prepare_memory_fault_exit(): gpa of the faulting page, one page, PRIVATE iff the
  // fault was private; KVM_RUN fails with EFAULT.
  FaultResult r;
  r.kind = FaultResult::Kind::memory_fault;
  r.err = EFAULT;
  r.flags = f.is_private ? KVM_MEMORY_EXIT_FLAG_PRIVATE : 0;
  r.gpa = f.gpa & ~(kPageSize - 1);
  r.size = kPageSize;
  return r;
}

FaultResult emulate() { return FaultResult{FaultResult::Kind::emulate}; }


FaultResult error(int err) {
  FaultResult r;
  r.kind = FaultResult::Kind::error;
  r.err = err;
  return r;
}

}  // namespace

void Mmu::init_lpage_info(Memslot& slot) const {
  slot.lpage_info.emplace(slot.base_gfn, slot.npages, slot.userspace_addr, lpage_rules_);
  // kvm_mmu_init_memslot_memory_attributes(): only VMs with private memory track MIXED.
  if (ctx_.has_private_mem)
    slot.lpage_info->init_mixed([this](u64 s, u64 e, u64* a) { return ctx_.attributes.uniform(s, e, a); });
}

HugepageAdjustInput Mmu::adjust_input(const Memslot& slot, u64 gfn, const PageFault& f, bool with_detail) const {
  KVMSIM_ASSERT(slot.lpage_info.has_value(), "slot %u without lpage_info", slot.id);
  HugepageAdjustInput in;
  in.gfn = gfn;
  in.exec = f.exec;
  in.write = f.write;
  in.is_private = f.is_private;
  in.gmem_backed = f.is_private || slot.gmem_only;
  in.gmem_max_level = 1;  // kvm_gmem_get_pfn: max_order is always 0 (no huge folios)
  in.slot_dirty_logged = (slot.flags & KVM_MEM_LOG_DIRTY_PAGES) != 0;
  in.lpage = &*slot.lpage_info;
  in.max_huge_level = ctx_.profile.max_huge_level;
  if (f.max_level) in.fault_max_level = f.max_level;
  in.nx_huge_pages = nx_huge_pages();
  in.explain = with_detail;
  if (slot.private_fd) {
    // private-fd v5 patch 09/13: kvm_mmu_max_mapping_level() returns max_level for every fault in a
    // KVM_MEM_PRIVATE slot before looking at the host, shared faults included.
    in.host_level = ctx_.profile.max_huge_level;
    if (with_detail) in.host_detail = "not consulted for a KVM_MEM_PRIVATE slot ([PATCH v5 09/13])";
  } else if (!in.gmem_backed) {
    HostMemory::HostPeek p = ctx_.host.peek(slot.hva_of(gfn), with_detail);
    in.host_level = std::max(1, p.level);
    if (with_detail) in.host_detail = p.detail;
  }
  return in;
}

int Mmu::max_mapping_level(const Memslot& slot, u64 gfn) const {
  const bool is_private = is_private_gfn(gfn);
  if (is_private || slot.gmem_only) return 1;  // guest_memfd order 0
  int level = ctx_.profile.max_huge_level;
  while (level > 1 && slot.lpage_info->disallowed(level, gfn)) --level;
  // private-fd v5 09/13: a KVM_MEM_PRIVATE slot returns before the host is asked.
  if (level > 1 && !slot.private_fd) level = std::min(level, std::max(1, ctx_.host.peek(slot.hva_of(gfn)).level));
  return level;
}

FaultResult Mmu::page_fault(const PageFault& f) {
  const u64 gfn = f.gpa >> 12;
  // mmu_topup_memory_caches() runs first in the TDP fault handler: its failure is the fault's.
  if (inject(FaultSite::alloc)) return error(ENOMEM);
  const Memslot* slot = ctx_.slots.at(f.as_id).by_gfn(gfn);
  PageTable& root = *roots_.at(f.as_id);  // role.smm picks the root (docs/semantics/smm.md §2)
  // kvm_mmu_faultin_pfn: the private/shared check comes first, even without a slot.
  const bool mem_private = is_private_gfn(gfn);
  if (f.is_private != mem_private) return memory_fault(f);
  // kvm_handle_noslot_fault: private -> memory fault, shared -> MMIO (EMULATE).
  if (!slot) return f.is_private ? memory_fault(f) : emulate();
  // A slot being deleted/moved (KVM_MEMSLOT_INVALID) would RETRY here (prefetch: EAGAIN); a
  // single-threaded trace never observes such a slot, so that branch does not exist here.

  SpteAttrs attrs;
  attrs.executable = true;  // TDP leaves are mapped with ACC_ALL
  attrs.is_private = f.is_private;
  attrs.accessed = !f.prefetch;
  const bool gmem_backed = f.is_private || slot->gmem_only;
  if (gmem_backed) {
    // kvm_mmu_faultin_pfn_gmem: no guest_memfd on the slot, or its file is gone -> EFAULT exit.
    if (!slot->gmem || !slot->gmem->file_open) return memory_fault(f);
    if (f.is_private && gmem_faultin_) gmem_faultin_(*slot, gfn);
    // The folio is allocated (zeroed) on first use; guest_memfd pages are always writable.
    attrs.writable = true;
  } else {
    if (slot->private_fd)
      if (auto r = private_fd_faultin(*slot, gfn, f)) return *r;
    // __gfn_to_hva_many: a write through a READONLY slot is KVM_PFN_ERR_RO_FAULT -> EMULATE.
    const bool readonly = slot->flags & KVM_MEM_READONLY;
    if (f.write && readonly) return emulate();
    // hva_to_pfn: a read maps what the host has (zero page, read-only PTEs) and is writable
    // only if the host PTE already is; a write breaks CoW. Pre-fault is a read.
    HostFault h = ctx_.host.fault_in(slot->hva_of(gfn), f.write);
    if (!h.invalidated.empty()) {
      // GUP itself changed host mappings (CoW of the huge zero page): the MMU notifier runs
      // before this fault maps anything.
      if (host_notifier_) host_notifier_(h.invalidated);
      else host_invalidated(h.invalidated);
    }
    if (!h.ok()) return error(h.err);  // kvm_handle_error_pfn: -EFAULT
    attrs.writable = h.writable && !readonly;
  }
  attrs.dirty = attrs.writable;  // make_spte: writable leaves are created dirty

  // is_page_fault_stale(): an MMU-notifier invalidation raced with this fault -> RET_PF_RETRY;
  // both callers (KVM_RUN re-entering the guest, kvm_tdp_map_page's loop) fault again.
  if (inject(FaultSite::fault_retry)) {
    if (!f.retry_to_caller) return page_fault(f);
    FaultResult retry;
    retry.kind = FaultResult::Kind::retry;
    return retry;
  }

  FaultResult r;
  r.decision = hugepage_adjust(adjust_input(*slot, gfn, f, false));
  const HugepageDecision& d = r.decision;
  // adjust_input() left the host out for a private-fd slot; the leaf may cover host pages that are
  // mapped smaller (kernel bug of the posted code).
  const int host_level = slot->private_fd ? std::max(1, ctx_.host.peek(slot->hva_of(gfn)).level) : 0;
  if (slot->private_fd && d.goal_level > host_level)
    kernel_bug_ += std::string(kernel_bug_.empty() ? "" : "\n") + "kernel-bug: [PATCH v5 09/13] " +
                   "kvm_mmu_max_mapping_level(): gfn " + hex(gfn) + " of private slot " + std::to_string(slot->id) +
                   " is mapped " + level_name(d.goal_level) + " over host memory mapped " + level_name(host_level) +
                   " (the host level is not consulted for KVM_MEM_PRIVATE slots): the leaf covers host pages "
                   "the VMM never gave this gfn";
  if (ctx_.profile.drop_large_spte) {
    // Legacy MMU direct_map(): drop_large_spte() zaps a huge leaf above the goal instead of
    // splitting it, so only this fault's page is mapped beneath it.
    const Mapping cur = root.lookup(gfn);
    if (cur.level > d.goal_level) {
      const u64 first = cur.gpa >> 12;
      counters_.leaves_zapped += root.zap_gfn_range(first, first + (level_size(cur.level) >> 12));
    }
  }
  const u64 nx_tracked = root.nx_lpage_splits();
  MapResult m = root.map(gfn, d.goal_level, attrs, MapFaultInfo{d.req_level, d.huge_page_disallowed, f.prefetch});
  // Tables this fault started tracking as possible NX huge pages: the exec split.
  if (root.nx_lpage_splits() > nx_tracked) counters_.nx_splits += root.nx_lpage_splits() - nx_tracked;
  r.kind = m.spurious ? FaultResult::Kind::spurious : FaultResult::Kind::fixed;
  r.level = m.level;
  if (ctx_.profile.direct_pte_prefetch && !m.spurious && m.level == 1) direct_pte_prefetch(gfn, f.as_id);
  // make_spte: a writable SPTE in a dirty-tracked slot marks the page dirty (at 4K, which
  // hugepage_adjust enforces for dirty-logged slots).
  if (attrs.writable && (slot->flags & KVM_MEM_LOG_DIRTY_PAGES)) {
    KVMSIM_ASSERT(m.level == 1, "writable level-%d leaf in dirty-logged slot %u", m.level, slot->id);
    mark_dirty(*slot, gfn);
  }
  return r;
}

AccessOutcome Mmu::access(u64 gpa, AccessKind kind, u16 as_id) {
  const u64 gfn = gpa >> 12;
  PageFault f;
  f.gpa = gpa;
  f.as_id = as_id;
  f.write = kind == AccessKind::write;
  f.exec = kind == AccessKind::exec;
  // The vCPU's view of private-ness is the gfn's current attribute (see page_fault.h).
  f.is_private = is_private_gfn(gfn);
  // A present leaf that allows the access needs no fault: the CPU sets A (and D) itself.
  PageTable& root = *roots_.at(as_id);
  const Mapping m = root.lookup(gfn);
  if (m.level && m.is_private == f.is_private && (!f.exec || m.executable) && root.mark_accessed(gfn, f.write))
    return AccessOutcome{AccessOutcome::Kind::ok};
  const FaultResult r = page_fault(f);
  switch (r.kind) {
    case FaultResult::Kind::fixed:
    case FaultResult::Kind::spurious:
      return AccessOutcome{AccessOutcome::Kind::ok};
    case FaultResult::Kind::emulate:
      // An instruction fetch has nothing to emulate: the emulator cannot fetch the instruction
      // from MMIO, so KVM_RUN exits with KVM_EXIT_INTERNAL_ERROR (emulation failure), which the
      // trace writes as -1 EIO like the kvm backend (found by kvmsim fuzz; traces/regressions/).
      if (f.exec) return AccessOutcome{AccessOutcome::Kind::error, EIO};
      return AccessOutcome{AccessOutcome::Kind::mmio};
    case FaultResult::Kind::memory_fault:
      return AccessOutcome{AccessOutcome::Kind::memory_fault, r.err, r.flags, r.gpa, r.size};
    case FaultResult::Kind::memory_error:
      return AccessOutcome{AccessOutcome::Kind::memory_error, r.err, r.flags, r.gpa, r.size};
    case FaultResult::Kind::error:
    case FaultResult::Kind::retry:  // not asked for (retry_to_caller is false)
      break;
  }
  return AccessOutcome{AccessOutcome::Kind::error, r.err};
}

}  // namespace kvmsim::model

namespace kvmsim::model {

// private-fd v5, patch 09/13 kvm_faultin_pfn_private(). x86 had no private faults yet
// (kvm_vcpu_is_private_gfn() is false), so every fault here is shared: a page allocated in the
// private fd makes it exit with KVM_EXIT_MEMORY_ERROR and KVM_RUN return -1 (the posted `*r = -1`,
// errno EPERM); otherwise the hva path maps the page. nullopt: continue on the hva path.
std::optional<FaultResult> Mmu::private_fd_faultin(const Memslot& slot, u64 gfn, const PageFault& f) {
  const PrivateFdBinding& pf = *slot.private_fd;
  if (!pf.registered) {
    // kvm_memfile_get_pfn() calls slot->pfn_ops, which only memfile_register_notifier() sets.
    kernel_bug_ += std::string(kernel_bug_.empty() ? "" : "\n") + "kernel-bug: [PATCH v5 08/13] " +
                   "kvm_memfile_get_pfn(): private slot " + std::to_string(slot.id) +
                   " was moved, had its flags changed or has a non-shmem private fd, so slot->pfn_ops is NULL "
                   "(only a CREATE registers, patch 10/13): NULL pointer dereference; the model goes on "
                   "as if no page were allocated";
    return std::nullopt;
  }
  if (!pf.file || !pf.file->page_allocated(pf.pgoff_of(gfn, slot.base_gfn))) return std::nullopt;
  FaultResult r;
  r.kind = FaultResult::Kind::memory_error;
  r.err = EPERM;
  r.flags = f.is_private ? uapi::KVM_MEMORY_EXIT_FLAG_PRIVATE : 0;
  r.gpa = f.gpa & ~(kPageSize - 1);
  r.size = kPageSize;
  return r;
}

}  // namespace kvmsim::model
