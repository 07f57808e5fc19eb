// Mmu: the MMU state of one VM, as KVM keeps it in kvm->arch — one TDP root (PageTable) per
// address space, the NX huge page mitigation state, the statistics the roots count, and every
// operation of arch/x86/kvm/mmu/ that the uAPI reaches:
//  * the fault path (kvm_mmu_fault.cpp): guest accesses, kvm_tdp_page_fault, level selection
//    input, kvm_mmu_max_mapping_level, and the legacy MMU's PTE prefetch (pte_prefetch.cpp);
//  * the x86 step of KVM_PRE_FAULT_MEMORY and its bulk form (pre_fault.cpp);
//  * zaps: memslot invalidation, attribute changes, guest_memfd punch/release, the host MMU
//    notifier, NX recovery (mmu_notifier.cpp);
//  * the MMU side of dirty logging (dirty_log.cpp): kvm_mmu_slot_apply_flags and the
//    write-protection of reported pages. The bitmaps and the GET/CLEAR ioctls are generic KVM
//    (kvm_main.c) and stay with the Vm; only what touches SPTEs is here, as in KVM;
//  * lpage_info: computing a new slot's disallow rules and updating its MIXED flags (with KVM's
//    rules; a test may substitute others through lpage_rules_override.h, never a profile).
// The Mmu reads its VM through MmuContext: references to the VM's slots, attributes, host
// memory and a few flags, bound once when the Vm builds its Mmu. So the MMU room depends only on
// the rooms below it (memslots, attributes, host, profiles), never on the Vm.
// Invariants: one PageTable per address space, all of the same PageTableImpl; while an observer
// has turned recording on (record_events), every event that changes SPTEs without a fault is also
// appended to events(), until the observer drains it (take_events); off by default, so the Mmu
// never grows with the length of a run; the context outlives the Mmu (the
// Vm owns both and is neither copied nor moved). check_invariants(const Mmu&) (invariants.h)
// checks the cross-object invariants.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/attributes/memory_attributes.h"
#include "model/fault_injection.h"
#include "model/host/host_memory.h"
#include "model/memslots/memslot.h"
#include "model/mmu/hugepage_adjust.h"
#include "model/mmu/page_fault.h"
#include "model/mmu/page_table.h"
#include "model/profiles/profile.h"
#include "model/types.h"

namespace kvmsim::model {

// One recorded MMU-side effect of a uAPI event, in gfn units.
struct MmuEvent {
  enum class Kind { zap_all, zap_range, dirty_log_on, dirty_log_off, write_protect, attributes_changed };
  Kind kind = Kind::zap_range;
  u16 as_id = 0;
  u64 start = 0;  // gfn
  u64 end = 0;    // gfn, exclusive
  bool operator==(const MmuEvent&) const = default;
};

// Cumulative counts of what the MMU did to its leaves without (or beside) a plain fault, since the
// VM was created: the huge-page story of a run (kvmsim map --timeline). KVM exposes none of these
// as binary stats (pages_4k/2m/1g and nx_lpage_splits are levels, not events); they are counted
// where the model does the work, so they are exact, never inferred from level changes.
struct MmuCounters {
  u64 leaves_zapped = 0;       // leaves removed by zaps (ranges, zap-all, drop_large_spte)
  u64 eager_splits = 0;        // huge leaves split by eager page splitting (dirty logging on/CLEAR)
  u64 huge_recovered = 0;      // huge leaves rebuilt in place when dirty logging goes off (6.13+)
  u64 collapsible_zapped = 0;  // tables zapped instead, pre-6.13 (kvm_mmu_zap_collapsible_sptes)
  u64 nx_splits = 0;           // tables a fault tracked as possible NX huge pages (an exec split)
  u64 nx_recovered = 0;        // tracked tables the NX recovery worker handled
  bool operator==(const MmuCounters&) const = default;
};

// What the MMU reads of its VM (and writes: dirty bitmaps, lpage_info). The references are bound
// to the Vm's own members; the scalars never change after the VM is created.
struct MmuContext {
  const Profile& profile;
  HostMemory& host;
  std::vector<MemslotSet>& slots;  // index = address space id
  const MemoryAttributes& attributes;
  bool has_private_mem = false;
  bool pre_fault_allowed = false;
  // Set by the VM's first memslot creation, never cleared (profile.prefault_no_memslot_errno).
  const bool& ever_had_memslot;
  // KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 flags as enabled on the VM.
  const u64& manual_dirty_log_protect;
};

class Mmu {
 public:
  // `impl` chooses the page-table storage of every root (compact default, or the per-SPTE
  // reference); observable behaviour is the same.
  Mmu(const MmuContext& ctx, u32 nr_address_spaces, PageTableImpl impl);
  Mmu(const Mmu&) = delete;
  Mmu& operator=(const Mmu&) = delete;

  const MmuContext& context() const { return ctx_; }
  u32 nr_address_spaces() const { return static_cast<u32>(roots_.size()); }
  const PageTable& page_table(u32 as_id) const { return *roots_.at(as_id); }

  // ---- NX huge pages ----
  // nx_huge_pages module param on and not disabled for this VM (KVM_CAP_VM_DISABLE_NX_HUGE_PAGES).
  bool nx_huge_pages() const { return ctx_.profile.nx_huge_pages && !nx_disabled_; }
  // KVM_CAP_VM_DISABLE_NX_HUGE_PAGES: only before the first vCPU, so nothing is mapped and no
  // zap is needed when the mitigation changes.
  void disable_nx_huge_pages();
  // NX recovery worker (kvm_recover_nx_huge_pages): zap up to `max` NX-split tables.
  u64 recover_nx_huge_pages(u64 max = UINT64_MAX);

  // ---- the fault path (kvm_mmu_fault.cpp, pte_prefetch.cpp) ----
  // One TDP fault in address space f.as_id (0 unless the vCPU is in SMM); see page_fault.h.
  FaultResult page_fault(const PageFault& f);
  // A guest access by a vCPU (KVM_RUN): A/D update on a present leaf that allows it, else a
  // fault whose private bit is the gfn's current attribute. as_id 1: the vCPU is in SMM.
  AccessOutcome access(u64 gpa, AccessKind kind, u16 as_id = 0);
  // The hugepage_adjust() input a fault on gfn in `slot` would use, with the host level peeked
  // (never faulted in); `host_detail` filled for explanations. Pure.
  HugepageAdjustInput adjust_input(const Memslot& slot, u64 gfn, const PageFault& f, bool with_detail) const;
  // kvm_mmu_max_mapping_level(): the largest level a leaf covering gfn may have now (used by
  // in-place recovery and the invariant checker; gmem-backed gfns are 4K).
  int max_mapping_level(const Memslot& slot, u64 gfn) const;
  // A guest write to `gfn` through `slot` (make_spte on a writable leaf in a dirty-logged slot).
  void mark_dirty(const Memslot& slot, u64 gfn);
  // mark_dirty() for every gfn in [start, end) (the bulk pre-fault of a dirty-logged slot).
  void mark_dirty_range(const Memslot& slot, u64 start, u64 end);

  // ---- KVM_PRE_FAULT_MEMORY, x86 step (pre_fault.cpp) ----
  // kvm_arch_vcpu_pre_fault_memory for [gpa, gpa + size): bytes mapped, or the errno.
  Ret pre_fault_step(u64 gpa, u64 size);
  // Bytes a run of identical pre-fault steps at gpa maps in bulk (0: take one step instead).
  u64 pre_fault_bulk(u64 gpa, u64 size);

  // ---- SPTE changes without a fault (mmu_notifier.cpp, dirty_log.cpp) ----
  void zap_gfn_range(u16 as_id, u64 start, u64 end);
  void zap_all();
  // The host MMU notifier: zap every gfn whose slot hva lies in one of `ranges`.
  void host_invalidated(const std::vector<HostRange>& ranges);
  // Where host invalidations caused by KVM's own GUP (CoW of the huge zero page) go: the Kvm
  // forwards them to every VM; unset, only this MMU is told.
  using HostNotifier = std::function<void(const std::vector<HostRange>&)>;
  void set_host_notifier(HostNotifier n) { host_notifier_ = std::move(n); }
  // kvm_mmu_slot_apply_flags for a FLAGS_ONLY change of `old` into `now`.
  void slot_flags_changed(const Memslot& old, const Memslot& now);
  // kvm_arch_mmu_enable_log_dirty_pt_masked for pages just reported (GET) or cleared (CLEAR).
  void write_protect(const Memslot& slot, u64 start, u64 end);
  // kvm_arch_post_set_memory_attributes for [start, end) (after the attributes are stored).
  void post_set_memory_attributes(u64 start, u64 end);
  // Computes a new slot's lpage_info (CREATE/MOVE).
  void init_lpage_info(Memslot& slot) const;

  // ---- observations ----
  Stats stats() const;
  Mapping mapping(u64 gpa, u16 as_id = 0) const;
  const MmuCounters& counters() const { return counters_; }
  // The event log, for an observer that asks for it (a test, kvmsim map): off by default because
  // nothing in a replay reads it and it would grow with every zap of a long trace. The observer
  // drains it (take_events, clear_events) as often as it reads it.
  void record_events(bool on) {
    recording_ = on;
    if (!on) events_.clear();
  }
  const std::vector<MmuEvent>& events() const { return events_; }
  std::vector<MmuEvent> take_events() { return std::exchange(events_, {}); }
  void clear_events() { events_.clear(); }

  // Fault injection (fault_injection.h): the injector the Kvm owns; nullptr (the default) = none.
  void set_fault_injector(FaultInjector* f) { faults_ = f; }
  // A bug of a modelled proposal a fault reached ("kernel-bug: ..."); reading clears it.
  std::string take_kernel_bug() {
    std::string s = std::move(kernel_bug_);
    kernel_bug_.clear();
    return s;
  }
  // Where PRIVATE comes from when guest_memfd owns it (in-place conversion, kvm_gmem_is_private):
  // the VM installs a lookup; without one the VM-wide attributes decide (kvm_vm_mem_is_private).
  // The gfn's PRIVATE attribute as a fault sees it (kvm_mem_is_private): false on VMs without private memory.
  bool is_private_gfn(u64 gfn) const;
  void set_gmem_is_private(std::function<bool(u64 gfn)> f) { gmem_is_private_ = std::move(f); }
  // Told of every private fault that reaches the guest_memfd (kvm_gmem_get_pfn(), which prepares the folio).
  void set_gmem_faultin(std::function<void(const Memslot& slot, u64 gfn)> f) { gmem_faultin_ = std::move(f); }

 private:
  // private-fd v5 (kvm_mmu_fault.cpp): the shared-fault path of a KVM_MEM_PRIVATE slot, patch 09/13.
  std::optional<FaultResult> private_fd_faultin(const Memslot& slot, u64 gfn, const PageFault& f);
  bool inject(FaultSite s) { return faults_ && faults_->should_fail(s); }
  bool manual_protect_initially_set() const;
  // Legacy MMU PTE prefetch after a 4K fault at gfn (pte_prefetch.cpp).
  void direct_pte_prefetch(u64 gfn, u16 as_id);
  bool prefetch_sptes(u64 start, u64 end, u16 as_id);

  MmuContext ctx_;
  std::vector<std::unique_ptr<PageTable>> roots_;  // one TDP root per address space
  bool nx_disabled_ = false;
  FaultInjector* faults_ = nullptr;
  std::function<bool(u64 gfn)> gmem_is_private_;
  std::function<void(const Memslot& slot, u64 gfn)> gmem_faultin_;
  HostNotifier host_notifier_;
  void record(const MmuEvent& e) {
    if (recording_) events_.push_back(e);
  }
  bool recording_ = false;
  std::vector<MmuEvent> events_;  // empty unless recording_
  std::string kernel_bug_;
  MmuCounters counters_;
  // The rules new slots' lpage_info gets: nullptr (KVM's) unless a test installed an override
  // for this VM's profile (lpage_rules_override.h).
  const LpageRules* lpage_rules_ = nullptr;
};

}  // namespace kvmsim::model
