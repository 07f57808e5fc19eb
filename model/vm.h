// Vm: one KVM VM (docs/semantics/vm-and-caps.md §3 and docs/semantics/memslots.md): its type and derived properties (has_private_mem,
// pre_fault_allowed), the memslots of each address space, guest_memfd files, memory attributes,
// vCPUs, enabled capabilities and dirty logs. Every ioctl answers with the kernel's checks in
// the kernel's order. Events that drop guest mappings (slot delete/move, attribute changes,
// punch hole, guest_memfd release, host MMU-notifier invalidations) are turned into gfn ranges
// here and handed to zap_gfn_range()/zap_all(), the integration points of the TDP MMU; they
// are also recorded in mmu_events() so tests (and later the MMU) can see exactly what was zapped.
// Invariants: slot ids are < KVM_USER_MEM_SLOTS, slots of one address space never overlap, a
// gmem slot's binding is registered in its (open) file and vice versa.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "model/fault_injection.h"
#include "model/guest_memfd.h"
#include "model/host_memory.h"
#include "model/kvm_mmu_fault.h"
#include "model/memory_attributes.h"
#include "model/memslot.h"
#include "model/profile.h"
#include "model/tdp_mmu.h"
#include "model/types.h"
#include "model/uapi.h"

namespace kvmsim::model {

class Vm;

// What a guest_memfd fd number refers to, as resolved by the process's fd table.
struct GmemRef {
  enum class Kind { bad_fd, not_gmem, gmem };
  Kind kind = Kind::bad_fd;
  const Vm* owner = nullptr;
  u64 file_id = 0;
};

// One recorded MMU-side effect of a uAPI event, in gfn units.
struct MmuEvent {
  enum class Kind { zap_all, zap_range, dirty_log_on, dirty_log_off, write_protect, attributes_changed };
  Kind kind = Kind::zap_range;
  u16 as_id = 0;
  u64 start = 0;  // gfn
  u64 end = 0;    // gfn, exclusive
  bool operator==(const MmuEvent&) const = default;
};

class Vm {
 public:
  static constexpr u32 kMaxVcpuIds = 4096;  // KVM_MAX_VCPU_IDS = KVM_MAX_VCPUS(1024) * 4
  static constexpr u32 kMaxVcpus = 1024;    // CONFIG_KVM_MAX_NR_VCPUS default

  // `pt_impl` chooses the page-table storage (compact default, or the per-SPTE reference);
  // observable behaviour is the same.
  Vm(const Profile& profile, HostMemory& host, u64 type, PageTableImpl pt_impl = PageTableImpl::compact);

  u64 type() const { return type_; }
  bool has_private_mem() const { return has_private_mem_; }
  bool pre_fault_allowed() const { return pre_fault_allowed_; }
  u32 nr_address_spaces() const { return nr_as_; }
  const MemslotSet& slots(u32 as_id) const { return slots_.at(as_id); }
  const MemoryAttributes& attributes() const { return attributes_; }
  const GuestMemfd* gmem(u64 file_id) const;
  bool has_vcpu(u32 id) const { return vcpus_.count(id) != 0; }
  u64 manual_dirty_log_protect() const { return manual_protect_; }
  u64 disabled_quirks() const { return disabled_quirks_; }
  bool nx_huge_pages_disabled() const { return disable_nx_huge_pages_; }
  u64 dirty_ring_size() const { return dirty_ring_size_; }

  // ---- ioctls ----
  Ret check_extension(u64 cap) const;
  Ret create_vcpu(u64 id);
  Ret enable_cap(const uapi::kvm_enable_cap& cap);
  // v2 == false: KVM_SET_USER_MEMORY_REGION (the v2-only fields of `r` must be zero).
  Ret set_user_memory_region(const uapi::kvm_userspace_memory_region2& r, bool v2, const GmemRef& gmem);
  // ret = the new file's id; the caller allocates the fd.
  Ret create_guest_memfd(const uapi::kvm_create_guest_memfd& g, u64 file_id);
  Ret gmem_fallocate(u64 file_id, int mode, u64 offset, u64 len);
  void gmem_release(u64 file_id);  // last reference of the file dropped
  Ret set_memory_attributes(const uapi::kvm_memory_attributes& a);
  Ret get_dirty_log(u32 slot, std::vector<u64>& bitmap);
  Ret clear_dirty_log(u32 slot, u64 first_page, u32 num_pages, const std::vector<u64>& bitmap);
  Ret pre_fault_memory(u32 vcpu_id, uapi::kvm_pre_fault_memory& range);
  // The proposed KVM_MAP_MEMORY (RFC v1, map_memory.cpp). `kernel_bug` receives the diagnostic
  // when the call reaches a bug of the posted code.
  Ret map_memory(u32 vcpu_id, uapi::kvm_memory_mapping& m, std::string* kernel_bug);
  AccessOutcome access(u32 vcpu_id, u64 gpa, AccessKind kind);

  // ---- MMU-facing ----
  // The host MMU notifier: zap every gfn whose slot hva lies in one of `ranges`.
  void host_invalidated(const std::vector<HostRange>& ranges);
  // A guest write to `gfn` through `slot` (the MMU calls this on write faults).
  void mark_dirty(const Memslot& slot, u64 gfn);
  Stats stats() const;
  Mapping mapping(u64 gpa) const;

  // ---- TDP MMU (kvm_mmu_fault.cpp, pre_fault.cpp, mmu_notifier.cpp) ----
  // One TDP fault in address space 0 (what a vCPU sees); see kvm_mmu_fault.h.
  FaultResult page_fault(const PageFault& f);
  // The hugepage_adjust() input a fault on gfn in `slot` would use, with the host level peeked
  // (never faulted in); `host_detail` filled for explanations. Pure.
  HugepageAdjustInput adjust_input(const Memslot& slot, u64 gfn, const PageFault& f, bool with_detail) const;
  // kvm_mmu_max_mapping_level(): the largest level a leaf covering gfn may have now (used by
  // in-place recovery and the invariant checker; gmem-backed gfns are 4K).
  int max_mapping_level(const Memslot& slot, u64 gfn) const;
  // nx_huge_pages module param on and not disabled for this VM (KVM_CAP_VM_DISABLE_NX_HUGE_PAGES).
  bool nx_workaround() const { return profile_.nx_huge_pages && !disable_nx_huge_pages_; }
  const TdpMmu& mmu(u32 as_id) const { return mmu_.at(as_id); }
  const Profile& profile() const { return profile_; }
  const HostMemory& host() const { return host_; }
  // NX recovery worker (kvm_recover_nx_huge_pages): zap up to `max` NX-split tables.
  u64 recover_nx_huge_pages(u64 max = UINT64_MAX);
  // Where host invalidations caused by KVM's own GUP (CoW of the huge zero page) go: the Kvm
  // forwards them to every VM; unset, only this VM is told.
  using HostNotifier = std::function<void(const std::vector<HostRange>&)>;
  void set_host_notifier(HostNotifier n) { host_notifier_ = std::move(n); }
  // Fault injection (fault_injection.h): the injector the Kvm owns; nullptr (the default) = none.
  void set_fault_injector(FaultInjector* f) { faults_ = f; }
  const std::vector<MmuEvent>& mmu_events() const { return events_; }
  void clear_mmu_events() { events_.clear(); }

 private:
  // kvm_set_memslot pieces (set_memory_region.cpp).
  Ret bind_gmem(Memslot& slot, const GmemRef& ref);
  void unbind_gmem(const Memslot& slot);
  void invalidate_slot(const Memslot& old);
  bool use_dirty_bitmap() const { return dirty_ring_size_ == 0; }
  bool slot_zap_all() const;

  Ret pre_fault_step(u64 gpa, u64 size);
  Ret map_memory_step(uapi::kvm_memory_mapping& m);
  // Legacy MMU PTE prefetch after a 4K fault at gfn (pte_prefetch.cpp).
  void direct_pte_prefetch(u64 gfn);
  bool prefetch_sptes(u64 start, u64 end);
  // Bytes a run of identical pre-fault steps at gpa maps in bulk (0: take one step instead).
  u64 pre_fault_bulk(u64 gpa, u64 size);

  // Integration points of the TDP MMU.
  void zap_gfn_range(u16 as_id, u64 start, u64 end);
  void zap_all();
  void flags_changed(const Memslot& old, const Memslot& now);
  void write_protect(const Memslot& slot, u64 start, u64 end);
  void post_set_memory_attributes(u64 start, u64 end);
  // Computes a new slot's lpage_info (CREATE/MOVE).
  void init_lpage_info(Memslot& slot) const;

  const Profile& profile_;
  HostMemory& host_;
  u64 type_;
  bool has_private_mem_;
  bool pre_fault_allowed_;
  // Set by the first memslot creation, never cleared (profile.prefault_no_memslot_errno).
  bool ever_had_memslot_ = false;
  FaultInjector* faults_ = nullptr;
  bool inject(FaultSite s) { return faults_ && faults_->should_fail(s); }
  u32 nr_as_;
  std::vector<MemslotSet> slots_;
  MemoryAttributes attributes_;
  std::map<u64, GuestMemfd> gmem_;  // file id -> file
  std::set<u32> vcpus_;
  u64 manual_protect_ = 0;
  u64 disabled_quirks_ = 0;
  bool disable_nx_huge_pages_ = false;
  u64 dirty_ring_size_ = 0;
  std::vector<MmuEvent> events_;
  std::vector<TdpMmu> mmu_;  // one TDP root per address space
  HostNotifier host_notifier_;
};

}  // namespace kvmsim::model
