// Vm: one KVM VM (docs/semantics/vm-and-caps.md §3 and docs/semantics/memslots.md): its type and derived properties (has_private_mem,
// pre_fault_allowed), the memslots of each address space, guest_memfd files, memory attributes,
// vCPUs, enabled capabilities and dirty logs, and its MMU (mmu(): the Mmu of model/mmu/, as KVM
// keeps kvm->arch). Every ioctl answers with the kernel's checks in the kernel's order. Events
// that drop guest mappings (slot delete/move, attribute changes, punch hole, guest_memfd release)
// are turned into gfn ranges here and handed to the Mmu (which logs them in Mmu::events() for an observer that asked).
// The Vm binds the Mmu to its own members (MmuContext), so a Vm is neither copied nor moved.
// Invariants: slot ids are < KVM_USER_MEM_SLOTS, slots of one address space never overlap, a
// gmem slot's binding is registered in its (open) file and vice versa.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "model/attributes/memory_attributes.h"
#include "model/fault_injection.h"
#include "model/gmem/guest_memfd.h"
#include "model/host/host_memory.h"
#include "model/memslots/memslot.h"
#include "model/mmu/mmu.h"
#include "model/profiles/profile.h"
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

// What a private_fd number refers to (private-fd v5 proposal), as resolved by the fd table:
// not an open fd, an open file that is not shmem (no memfile notifier list), or a memfd.
struct PrivateFdRef {
  enum class Kind { bad_fd, not_shmem, memfd };
  Kind kind = Kind::bad_fd;
  std::shared_ptr<const Memfd> file;  // memfd only
  u64 offset = 0;                     // private_offset
};

class Vm {
 public:
  static constexpr u32 kMaxVcpuIds = 4096;  // KVM_MAX_VCPU_IDS = KVM_MAX_VCPUS(1024) * 4
  static constexpr u32 kMaxVcpus = 1024;    // CONFIG_KVM_MAX_NR_VCPUS default

  // `pt_impl` chooses the page-table storage (compact default, or the per-SPTE reference);
  // observable behaviour is the same.
  Vm(const Profile& profile, HostMemory& host, u64 type, PageTableImpl pt_impl = PageTableImpl::compact);
  // The Mmu holds references to this VM's members.
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  bool has_private_mem() const { return has_private_mem_; }
  const MemslotSet& slots(u32 as_id) const { return slots_.at(as_id); }
  const MemoryAttributes& attributes() const { return attributes_; }
  const GuestMemfd* gmem(u64 file_id) const;
  const Profile& profile() const { return profile_; }
  // The VM's MMU (kvm->arch): page tables, faults, zaps, stats, recorded events.
  Mmu& mmu() { return mmu_; }
  const Mmu& mmu() const { return mmu_; }

  // ---- ioctls ----
  Ret check_extension(u64 cap) const;
  Ret create_vcpu(u64 id);
  Ret enable_cap(const uapi::kvm_enable_cap& cap);
  // v2 == false: KVM_SET_USER_MEMORY_REGION (the v2-only fields of `r` must be zero).
  // `private_fd`: the private-fd v5 ext fields (read only when the profile has KVM_MEM_PRIVATE).
  Ret set_user_memory_region(const uapi::kvm_userspace_memory_region2& r, bool v2, const GmemRef& gmem,
                             const PrivateFdRef& private_fd = {});
  // private-fd v5 patch 11/13: the memfile notifier of pages [start, end) of private file `file_id`
  // (fallocate allocated them, or a hole punch / truncate removed them): zaps what the posted
  // handler zaps (private_fd.cpp).
  void private_fd_notify(u64 file_id, u64 start, u64 end);
  // A bug of a modelled proposal reached since the last call ("kernel-bug: ..."); reading clears it.
  std::string take_kernel_bug();
  // ret = the new file's id; the caller allocates the fd.
  Ret create_guest_memfd(const uapi::kvm_create_guest_memfd& g, u64 file_id);
  Ret gmem_fallocate(u64 file_id, int mode, u64 offset, u64 len);
  void gmem_release(u64 file_id);  // last reference of the file dropped
  Ret set_memory_attributes(const uapi::kvm_memory_attributes& a);
  // The proposed guest_memfd KVM_SET_MEMORY_ATTRIBUTES2 (gmem_set_attributes.cpp). *written_back says
  // whether `a` (error_offset) was copied back; the host mappings it unmapped are appended to
  // *host_invalidated for the caller to forward as MMU-notifier invalidations.
  Ret gmem_set_attributes(u64 file_id, uapi::kvm_memory_attributes2& a, bool* written_back,
                          std::vector<HostRange>* host_invalidated);
  Ret get_dirty_log(u32 slot, std::vector<u64>& bitmap);
  Ret clear_dirty_log(u32 slot, u64 first_page, u32 num_pages, const std::vector<u64>& bitmap);
  Ret pre_fault_memory(u32 vcpu_id, uapi::kvm_pre_fault_memory& range);
  // The proposed KVM_GUEST_MEMFD_POPULATE (RFC 2024-10, gmem_populate.cpp): the ioctl's return value (pages
  // populated) or errno. Host reads of `from` it faulted in are appended to *host_invalidated; `kernel_bug`
  // receives the diagnostic of the posted code's missing lock.
  Ret gmem_populate(const uapi::kvm_guest_memfd_populate& p, std::vector<HostRange>* host_invalidated,
                    std::string* kernel_bug);
  // pwrite(2) on a guest_memfd of the proposed "populate via write()" (v7, gmem_write.cpp): `len` bytes of
  // the u64 `value` repeated, at `offset`; the bytes written or the errno.
  Ret gmem_write(u64 file_id, u64 offset, u64 len, u64 value);
  // The proposed KVM_MAP_MEMORY (RFC v1, map_memory.cpp). `kernel_bug` receives the diagnostic
  // when the call reaches a bug of the posted code.
  Ret map_memory(u32 vcpu_id, uapi::kvm_memory_mapping& m, std::string* kernel_bug);

  // KVM_RUN as far as memory goes: one guest access by vCPU `vcpu_id` (Mmu::access).
  // as_id 1: the vCPU is in SMM (docs/semantics/smm.md §2).
  AccessOutcome access(u32 vcpu_id, u64 gpa, AccessKind kind, u16 as_id = 0);
  // A u64 guest load/store (guest_data.cpp, docs/semantics/memory-contents.md §5): the access's
  // faults as access() has them, then the data moves through the page the GPA resolves to.
  AccessOutcome access_value(u32 vcpu_id, u64 gpa, AccessKind kind, u64 value, u16 as_id = 0);

  // Fault injection (fault_injection.h): the injector the Kvm owns; nullptr (the default) = none.
  void set_fault_injector(FaultInjector* f);

 private:
  bool has_vcpu(u32 id) const { return vcpus_.count(id) != 0; }
  // Where the guest's byte at gpa lives (a mapped gfn of a slot of address space as_id).
  HostMemory::Location guest_location(u64 gpa, bool write, u16 as_id);
  // The contents side of a conversion of page indexes [start, end) of a guest_memfd to `attrs` with the
  // content-mode `flags` (gmem_set_attributes.cpp); `before` is the file's attributes before it.
  void apply_conversion_contents(u64 file_id, const MemoryAttributes& before, u64 start, u64 end, u64 attrs,
                                 u64 flags);
  // kvm_set_memslot pieces (set_memory_region.cpp).
  Ret bind_gmem(Memslot& slot, const GmemRef& ref);
  void unbind_gmem(const Memslot& slot);
  // kvm_gmem_invalidate_begin(): zap the gfns every binding of `f` maps from file bytes [offset, end).
  void gmem_invalidate(const GuestMemfd& f, u64 offset, u64 end);
  bool use_dirty_bitmap() const { return dirty_ring_size_ == 0; }
  bool slot_zap_all() const;
  Ret map_memory_step(uapi::kvm_memory_mapping& m);

  void report_kernel_bug(const std::string& what);

  // kvm_arch_flush_shadow_memslot: the quirk decides between zapping the slot and everything.
  void invalidate_slot(const Memslot& old);
  // kvm_gmem_is_private(): the PRIVATE attribute of the guest_memfd page behind gfn (in-place conversion).
  bool gmem_is_private(u64 gfn) const;

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
  u64 dirty_ring_size_ = 0;
  // private-fd v5: notifiers left on a private file's list by a MOVE/FLAGS_ONLY (file id -> slot id).
  std::multimap<u64, u16> freed_notifiers_;
  std::string kernel_bug_;
  Mmu mmu_;  // last: built from the members above (MmuContext)
};

// Every MMU invariant of the VM (model/mmu/invariants.h); aborts with context on a violation.
void check_invariants(const Vm& vm);

}  // namespace kvmsim::model
