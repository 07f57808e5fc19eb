// KVM_PRE_FAULT_MEMORY, x86 arch step (kvm_arch_vcpu_pre_fault_memory, docs/semantics/pre-fault.md):
// one prefetch read fault at gpa; progress = the rest of the page at the level that was mapped.
// Plus Mmu::pre_fault_bulk: runs of identical steps mapped at once (same results, see below).
// The generic loop (progress hides later errors, struct written back) is Vm::pre_fault_memory
// (model/vm/vm.cpp).
#include <algorithm>
#include <cerrno>

#include "model/mmu/mmu.h"

namespace kvmsim::model {

using namespace uapi;

Ret Mmu::pre_fault_step(u64 gpa, u64 size) {
  // a. SNP/TDX before finalize and other vendor types.
  if (!ctx_.pre_fault_allowed) return Ret::fail(EOPNOTSUPP);
  // b. (TDX shared-bit alias: no TDX VMs in the model.)
  // c. loading the MMU root: this host's shadow MMU fails it with ENOSPC until the VM has had a
  // memslot (measured; conformance/KNOWN_DIFFERENCES.md). Upstream TDP loads a root regardless.
  if (ctx_.profile.prefault_no_memslot_errno && !ctx_.ever_had_memslot) return Ret::fail(ctx_.profile.prefault_no_memslot_errno);
  // e. the vCPU MMU does not use the TDP fault handler (shadow paging).
  if (!ctx_.profile.tdp) return Ret::fail(EOPNOTSUPP);
  // d. "guest final" read; PRIVATE iff the VM has private memory and the gfn is PRIVATE.
  PageFault f;
  f.gpa = gpa;
  f.prefetch = true;
  f.is_private = is_private_gfn(gpa >> 12);
  // f/g. A slot being deleted or moved (KVM_MEMSLOT_INVALID) cannot be observed by a
  // single-threaded trace; fault injection stands in for the racing ioctl. A prefetch fault
  // answers -EAGAIN rather than retrying (the pre-fault ABI gives no progress guarantee).
  if (ctx_.slots[0].by_gfn(gpa >> 12) && inject(FaultSite::pre_fault_invalid_slot) &&
      ctx_.profile.prefault_eagain_on_invalid_slot)
    return Ret::fail(EAGAIN);
  const FaultResult r = page_fault(f);
  switch (r.kind) {
    case FaultResult::Kind::fixed:
    case FaultResult::Kind::spurious: {
      // h. the rest of the page containing gpa at the mapped level.
      const u64 end = (gpa & ~(level_size(r.level) - 1)) + level_size(r.level);
      return Ret::ok(static_cast<i64>(std::min(size, end - gpa)));
    }
    case FaultResult::Kind::emulate:
      return Ret::fail(ENOENT);  // no memslot: MMIO
    case FaultResult::Kind::memory_fault:
      return Ret::fail(EFAULT);
    case FaultResult::Kind::memory_error:  // private-fd v5: no pre-fault on its profile
    case FaultResult::Kind::error:
    case FaultResult::Kind::retry:  // not asked for (retry_to_caller is false)
      break;
  }
  return Ret::fail(r.err);
}

// Bulk path. The kernel faults page by page; so does pre_fault_step(). When a run of pages
// would each take that step with the same outcome (fixed or spurious, same SPTE attributes,
// no side effect besides the mapping), the run is mapped with PageTable::map_range, which stands
// for exactly those map() calls, and the loop advances by the bytes the steps would have
// advanced. A dirty-logged slot maps every page at 4K (hugepage_adjust step 4) and each writable
// step marks its gfn dirty (make_spte), so its run is one 4K map_range plus one bitmap range.
// Anything else (no slot, THP-eligible or file-backed host memory, closed guest_memfd, NX
// adjustments) returns 0 and takes the per-page step, so results, errors and partial-progress
// semantics are those of the per-page loop by construction.
u64 Mmu::pre_fault_bulk(u64 gpa, u64 size) {
  // The reference page tables come with the reference (per-page) loop: model vs model-ref then
  // also checks this bulk path against the steps it replaces.
  if (roots_[0]->impl() == PageTableImpl::reference) return 0;
  // Injected faults count consultations per step (signal per iteration, alloc per fault): a bulk
  // run would skip them, so with injection on the loop goes page by page, like the kernel.
  if (faults_ && faults_->active()) return 0;
  if (!ctx_.pre_fault_allowed || !ctx_.profile.tdp) return 0;
  if (ctx_.profile.prefault_no_memslot_errno && !ctx_.ever_had_memslot) return 0;
  // With in-place conversion the PRIVATE attribute lives in each guest_memfd (gmem_is_private_), not in the VM's
  // attribute map the run below is cut from: the per-page step asks the file for every gfn (found by kvmsim fuzz
  // on gmem-inplace-conversion, model vs model-ref: a shared run mapped over a private gfn).
  if (gmem_is_private_) return 0;
  const u64 g = gpa >> 12;
  const Memslot* slot = ctx_.slots[0].by_gfn(g);
  if (!slot) return 0;
  const bool dirty_logged = slot->flags & KVM_MEM_LOG_DIRTY_PAGES;
  const u64 req_end = g + size / kPageSize;  // exclusive; size is page aligned
  u64 end = std::min(req_end, slot->end_gfn());
  const bool is_private = is_private_gfn(g);
  if (ctx_.has_private_mem) {
    // The attribute run containing g, clipped to `end` (binary search on uniform()).
    u64 lo = g + 1, hi = end;  // uniform over [g, lo) holds; find the largest such end
    if (!ctx_.attributes.uniform(g, hi)) {
      while (hi - lo > 1) {
        const u64 mid = lo + (hi - lo) / 2;
        if (ctx_.attributes.uniform(g, mid)) lo = mid;
        else hi = mid;
      }
      end = lo;
    }
  }
  SpteAttrs attrs;
  attrs.executable = true;  // as page_fault(): ACC_ALL, not accessed (prefetch)
  attrs.is_private = is_private;
  int host_level = 1;
  if (is_private || slot->gmem_only) {
    if (!slot->gmem || !slot->gmem->file_open) return 0;
    attrs.writable = true;  // guest_memfd order 0: every page maps at 4K
  } else {
    HostFault h;
    u64 hend = 0;
    if (!ctx_.host.read_fault_run(slot->hva_of(g), slot->hva_of(end - 1) + kPageSize, &hend, &h)) return 0;
    end = g + (hend - slot->hva_of(g)) / kPageSize;
    if (end <= g) return 0;
    attrs.writable = h.writable && !(slot->flags & KVM_MEM_READONLY);
    host_level = h.level;
  }
  attrs.dirty = attrs.writable;

  PageFault f;
  f.prefetch = true;
  f.is_private = is_private;
  MapFaultInfo info;
  info.prefetch = true;
  PageTable& mmu = *roots_[0];
  if (host_level == 1 || dirty_logged) {
    // 4K host pages, guest_memfd or dirty logging: every decision is 4K; the run is one map_range.
    f.gpa = gpa;
    KVMSIM_ASSERT(hugepage_adjust(adjust_input(*slot, g, f, false)).goal_level == 1, "gfn %llx",
                  static_cast<unsigned long long>(g));
    mmu.map_range(g, end, 1, attrs, info);
    // make_spte: each writable 4K leaf of a dirty-tracked slot marks its gfn dirty.
    if (dirty_logged && attrs.writable) mark_dirty_range(*slot, g, end);
    return (end - g) * kPageSize;
  }
  // Huge host pages: one level decision per page of the decided level, as the steps would
  // make it; consecutive pages at the same level go to map_range together.
  u64 c = g;            // next gfn a step would start at
  u64 run_start = g;    // first gfn of the pending map_range, aligned to run_level
  int run_level = 0;
  auto flush = [&](u64 upto) {
    if (run_level) mmu.map_range(run_start, upto, run_level, attrs, info);
  };
  // Within the run, the only per-page input that can vary is lpage_info; so once a decision
  // reached the cap (host level, profile maximum), a page allowed at the cap maps at the cap.
  const int cap = std::min(host_level, ctx_.profile.max_huge_level);
  while (c < end) {
    int level;
    if (run_level == cap && !slot->lpage_info->disallowed(cap, c)) {
      level = cap;
    } else {
      f.gpa = c << 12;
      level = hugepage_adjust(adjust_input(*slot, c, f, false)).goal_level;
    }
    // disallowed_hugepage_adjust may lower a huge mapping under the NX mitigation: per page.
    if (level > 1 && nx_huge_pages()) break;
    const u64 first = gfn_round_for_level(c, level);
    if (level != run_level) {
      flush(c);
      run_level = level;
      run_start = first;
    }
    c = first + pages_per_hpage(level);
  }
  if (c == g) return 0;
  flush(c);
  return (std::min(c, req_end) - g) * kPageSize;
}

}  // namespace kvmsim::model
