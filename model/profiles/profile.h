// A profile is the data that makes the model answer like one particular kernel: which ioctls
// exist, what KVM_CHECK_EXTENSION returns, which VM types are accepted, and a small set of
// behaviour switches where upstream versions (or this machine's patched kernel) differ.
// Invariant: model code never tests a profile's *name*; it reads these fields. Adding a
// profile for a proposed uAPI is adding one more table entry in profile.cpp.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "model/types.h"

namespace kvmsim::model {

// KVM_CHECK_EXTENSION answers: on the /dev/kvm fd, on a VM without private memory, and on a
// VM with private memory (SW_PROTECTED). Several caps differ between those three.
struct CapAnswer {
  u64 system = 0;
  u64 vm_shared = 0;
  u64 vm_private = 0;
};

// Host kernel behaviour that decides host mapping levels (docs/semantics/host-memory.md).
// /sys/kernel/mm/transparent_hugepage/enabled and .../shmem_enabled; a trace's `host` header overrides them.
enum class ThpPolicy { always, madvise, never };
enum class ShmemThpPolicy { always, within_size, advise, never, deny, force };
const char* thp_policy_name(ThpPolicy p);
const char* shmem_thp_policy_name(ShmemThpPolicy p);
std::optional<ThpPolicy> thp_policy_named(std::string_view name);
std::optional<ShmemThpPolicy> shmem_thp_policy_named(std::string_view name);

// Content modes of KVM_SET_MEMORY_ATTRIBUTES2 (RFC v5 of the in-place conversion series,
// docs/semantics/gmem-conversion.md §4): which flag bits a VM type honours, per direction.
struct ContentModes {
  u64 to_private = 0;  // KVM_SET_MEMORY_ATTRIBUTES2_{ZERO,PRESERVE} bits accepted when converting to private
  u64 to_shared = 0;   // ... when converting to shared
};

// guest_memfd in-place conversion: the proposal's numbers moved between revisions, so they are data
// (docs/semantics/gmem-conversion.md). `enabled` is the series' gmem_in_place_conversion module
// parameter: the guest_memfd answers KVM_SET_MEMORY_ATTRIBUTES2 and owns the PRIVATE attribute.
struct GmemConversion {
  bool enabled = false;
  u32 cap_nr = 0;          // KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES (249 in v7, 250 in v8)
  u64 mode_flags = 0;      // flag bits the ioctl knows (0: flags must be 0, v8)
  std::map<u64, ContentModes> modes;  // VM type -> supported content modes (absent: none)
};

struct Profile {
  std::string name;
  std::string description;
  // For a proposal: the posting its rules follow (series, revision, date, Message-ID); "" for kernels.
  std::string source;
  // The nested oracle's kernel flavour that boots as this profile (scripts/nested/run.sh --flavour), ""
  // when no real kernel runs it; the module parameters come from the fields below.
  std::string oracle_kernel;

  // ---- uAPI surface ----
  std::map<u32, CapAnswer> caps;  // caps absent from the map answer 0
  // Caps whose answers are data of the host the table was measured on, not of the kernel version: vCPU
  // counts (online CPUs, CONFIG_KVM_MAX_NR_VCPUS), CPU features (XSAVE, TSC scaling, bus-lock exit, MWAIT
  // exits, PMU), the vendor module (SMM MSR emulation, nested state size, quirks, VM types). Another host
  // running the same kernel may answer them differently; `kvmsim probe` marks them. Empty for profiles whose
  // table was not measured.
  std::set<u32> host_dependent_caps;
  std::string caps_host;  // the host the cap table was measured on ("" if not measured)
  u64 vm_types = 1;               // bitmask of accepted KVM_CREATE_VM types
  bool has_region2 = true;            // KVM_SET_USER_MEMORY_REGION2 exists (else ENOTTY)
  bool has_guest_memfd = true;        // KVM_CREATE_GUEST_MEMFD exists (else ENOTTY)
  bool has_memory_attributes = true;  // KVM_SET_MEMORY_ATTRIBUTES exists (else ENOTTY)
  bool has_pre_fault = true;          // KVM_PRE_FAULT_MEMORY exists (else EINVAL, unknown vCPU ioctl)
  // The has_* switches and vm_types say what `caps` says in another form (the model reads them on hot
  // paths); model/test/profile_test.cpp checks every built-in profile keeps the two in agreement.
  bool has_map_memory = false;        // proposed KVM_MAP_MEMORY, RFC v1 (else EINVAL, unknown vCPU ioctl)
  // Proposed KVM_MEM_PRIVATE memslots with a private fd (v5, 2022): KVM_SET_USER_MEMORY_REGION accepts
  // flag bit 2 and reads struct kvm_userspace_memory_region_ext; memfd_create accepts MFD_INACCESSIBLE.
  bool has_private_fd_memslot = false;
  GmemConversion gmem_conversion;     // proposed guest_memfd KVM_SET_MEMORY_ATTRIBUTES2 (else ENOTTY)
  // Proposed VM ioctl KVM_GUEST_MEMFD_POPULATE (Firecracker RFC, 2024-10; else ENOTTY), and its patch 3 letting
  // a process other than the VM's creator call it (upstream: every VM ioctl from another mm is EIO).
  bool has_gmem_populate = false;
  bool gmem_populate_other_mm = false;
  // Proposed guest_memfd write() ("populate via write()", v7 2025-11; docs/semantics/gmem-write.md): the
  // opt-in KVM_CREATE_GUEST_MEMFD flag bit that enables pwrite(2) on the file (1 << 2 in v7, a bit other
  // proposals claim too), 0 when guest_memfd has no write op (pwrite answers ESPIPE). The flag tables
  // (gmem_flags_*) say which VMs may set it.
  u64 gmem_write_flag = 0;

  // ---- memslots ----
  u32 nr_address_spaces = 2;     // as_id must be below this (1 when the host has no SMM)
  u64 max_gfn = (1ull << 34) - 1;  // last gfn a slot may cover (kvm_mmu_max_gfn)
  u64 user_ptr_max = 0x7ffffffff000ull;  // access_ok: userspace_addr + size must not exceed this
  bool gmem_slot_needs_private_mem = false;  // GUEST_MEMFD slot flag only for VMs with private mem
  int gmem_binding_overlap_errno = 22;       // EINVAL through v7.0, EEXIST in 7.3 (measured)

  // ---- guest_memfd ----
  u64 gmem_flags_shared_vm = 3;   // KVM_CAP_GUEST_MEMFD_FLAGS for a VM without private memory
  u64 gmem_flags_private_vm = 1;  // ... for a VM with private memory
  bool gmem_needs_private_mem = false;  // KVM_CREATE_GUEST_MEMFD only on VMs with private mem

  // ---- MMU ----
  bool tdp = true;          // TDP MMU in use; pre-fault is EOPNOTSUPP without it
  int root_level = 4;       // 4 or 5 level paging
  int max_huge_level = 3;   // 3: hardware has 1G pages, 2: only 2M
  bool slot_zap_all_quirk = true;  // DEFAULT VMs zap everything on delete/move
  bool zap_all_on_slot_change = false;  // older kernels: always zap all
  bool eager_page_split = true;
  bool nx_huge_pages = false;
  bool dirty_log_disable_recovers_in_place = true;  // 6.13+; older kernels zap collapsible tables
  bool prefault_eagain_on_invalid_slot = true;
  // The legacy (shadow) MMU of mmu.c instead of the TDP MMU, where their fault paths differ:
  //  * drop_large_spte: a fault that needs a smaller leaf under a huge one zaps the huge SPTE and
  //    maps only its own page; the TDP MMU splits the huge leaf in place (512 smaller leaves).
  //  * direct_pte_prefetch: a 4K fault also maps the host-present, writable neighbours in its
  //    aligned group of 8 SPTEs (PTE_PREFETCH_NUM); the TDP MMU maps only the faulting page.
  bool drop_large_spte = false;
  bool direct_pte_prefetch = false;
  // 6.12.117 (measured on the nested oracle): after a zap-all (SLOT_ZAP_ALL move/delete) a vCPU's root is
  // obsolete and KVM_PRE_FAULT_MEMORY on it retries forever (only KVM_RUN reloads the root). The model does
  // not hang; cases and traces read this to pre-fault through a fresh vCPU instead.
  bool prefault_hangs_after_zap_all = false;
  // Non-zero: KVM_PRE_FAULT_MEMORY fails with this errno while the VM has never had a memslot
  // (kvm_pvm: loading the shadow root fails with ENOSPC; measured). Checked in the x86 arch step
  // after pre_fault_allowed and before the "not the TDP fault handler" EOPNOTSUPP.
  int prefault_no_memslot_errno = 0;

  // ---- host memory (the VMM's process) ----
  ThpPolicy thp = ThpPolicy::always;
  // shmem and memfd mappings: the kernel's default is never; the model maps them at 4K, so a policy that
  // would give them huge pages is refused where it is set (the trace's host header).
  ShmemThpPolicy shmem_thp = ShmemThpPolicy::never;
  bool huge_zero_page = true;  // read faults on untouched THP memory map the huge zero page
  // A write to the huge zero page allocates a THP in its place (do_huge_zero_wp_pmd, v6.13+;
  // measured on this host by kvmsim fuzz); false: the PMD is split and the write CoWs one 4K page.
  bool huge_zero_wp_allocates_thp = false;

  u64 cap(u32 cap_nr, bool on_vm, bool private_vm) const;
};

// All built-in profiles, in a fixed order ("linux-7.3" first: the default).
const std::vector<Profile>& builtin_profiles();
const Profile* find_profile(const std::string& name);
const Profile& default_profile();

}  // namespace kvmsim::model
