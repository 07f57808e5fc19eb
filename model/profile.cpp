#include "model/profile.h"

#include <cerrno>

#include "model/uapi.h"

namespace kvmsim::model {

using namespace uapi;

u64 Profile::cap(u32 cap_nr, bool on_vm, bool private_vm) const {
  auto it = caps.find(cap_nr);
  if (it == caps.end()) return 0;
  if (!on_vm) return it->second.system;
  return private_vm ? it->second.vm_private : it->second.vm_shared;
}

namespace {

CapAnswer same(u64 v) { return CapAnswer{v, v, v}; }

// Upstream 6.18 x86 on a TDP host with CONFIG_KVM_SW_PROTECTED_VM (docs/semantics/vm-and-caps.md §4).
Profile linux_6_18() {
  Profile p;
  p.name = "linux-6.18";
  p.description = "upstream 6.18 semantics, TDP MMU, CONFIG_KVM_SW_PROTECTED_VM, 1G pages, MAXPHYADDR 46";
  p.caps = {
      {KVM_CAP_USER_MEMORY, same(1)},
      {KVM_CAP_NR_MEMSLOTS, same(KVM_USER_MEM_SLOTS)},
      {KVM_CAP_SYNC_MMU, same(1)},
      {KVM_CAP_READONLY_MEM, same(1)},
      {KVM_CAP_MULTI_ADDRESS_SPACE, CapAnswer{2, 2, 1}},
      {KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, same(3)},
      {KVM_CAP_DIRTY_LOG_RING, same(65536 * 16)},
      {KVM_CAP_DIRTY_LOG_RING_ACQ_REL, same(65536 * 16)},
      {KVM_CAP_BINARY_STATS_FD, same(1)},
      {KVM_CAP_VM_DISABLE_NX_HUGE_PAGES, same(1)},
      {KVM_CAP_USER_MEMORY2, same(1)},
      {KVM_CAP_MEMORY_FAULT_INFO, same(1)},
      {KVM_CAP_MEMORY_ATTRIBUTES, CapAnswer{KVM_MEMORY_ATTRIBUTE_PRIVATE, 0, KVM_MEMORY_ATTRIBUTE_PRIVATE}},
      {KVM_CAP_GUEST_MEMFD, same(1)},
      {KVM_CAP_VM_TYPES, same(1u << KVM_X86_DEFAULT_VM | 1u << KVM_X86_SW_PROTECTED_VM)},
      {KVM_CAP_PRE_FAULT_MEMORY, same(1)},
      {KVM_CAP_GUEST_MEMFD_FLAGS, CapAnswer{3, 3, 1}},
      // Supported quirks: bits 0-8 incl. SLOT_ZAP_ALL (bit 7); IGNORE_GUEST_PAT (bit 9) is not
      // offered on AMD hosts (unsure, from memory of x86.c/svm.c).
      {KVM_CAP_DISABLE_QUIRKS2, same(0x1ff)},
  };
  p.vm_types = 1u << KVM_X86_DEFAULT_VM | 1u << KVM_X86_SW_PROTECTED_VM;
  return p;
}

// This development machine: 6.18 with the kvm_pvm vendor module (docs/semantics/host-kvm-pvm.md §1-§3).
Profile linux_6_18_pvm() {
  Profile p = linux_6_18();
  p.name = "linux-6.18-pvm";
  // Measured by kvmsim fuzz (traces/regressions/huge_zero_page_write_allocates_thp.trace). Upstream
  // since v6.13 (do_huge_zero_wp_pmd), so linux-6.18 should follow once its tdp/ traces are re-checked.
  p.huge_zero_wp_allocates_thp = true;
  // /sys/kernel/mm/transparent_hugepage/enabled is [madvise] here: plain anonymous memory gets no THP
  // (found by kvmsim fuzz: traces/regressions/anon_thp_policy_madvise.trace).
  p.thp = ThpPolicy::madvise;
  p.description = "6.18 with kvm_pvm: shadow paging, no SMM, no memory attributes, no private VMs";
  p.caps[KVM_CAP_MULTI_ADDRESS_SPACE] = same(0);
  p.caps.erase(KVM_CAP_MEMORY_ATTRIBUTES);
  p.caps.erase(KVM_CAP_PRE_FAULT_MEMORY);
  p.caps[KVM_CAP_VM_TYPES] = same(1u << KVM_X86_DEFAULT_VM);
  p.caps[KVM_CAP_DIRTY_LOG_RING] = same(1048576);
  p.caps[KVM_CAP_DIRTY_LOG_RING_ACQ_REL] = same(1048576);
  p.caps[KVM_CAP_GUEST_MEMFD_FLAGS] = same(3);
  p.caps[KVM_CAP_DISABLE_QUIRKS2] = same(0x5ff);  // measured by `kvmsim probe` (1535)
  p.vm_types = 1u << KVM_X86_DEFAULT_VM;
  p.has_memory_attributes = false;
  p.nr_address_spaces = 1;
  p.max_gfn = (1ull << 40) - 1;  // shadow MMU: 52-bit GPA limit, not MAXPHYADDR
  p.tdp = false;
  p.max_huge_level = 2;  // no PDPE1GB
  p.prefault_no_memslot_errno = ENOSPC;  // measured; see conformance/KNOWN_DIFFERENCES.md
  // The module param says eager_page_split=Y, but only the TDP MMU splits eagerly: enabling dirty
  // logging here leaves huge mappings in place and disabling it zaps the collapsible 4K SPTEs
  // (docs/semantics/host-kvm-pvm.md §6 "Transitions").
  p.eager_page_split = false;
  p.dirty_log_disable_recovers_in_place = false;
  p.nx_huge_pages = false;
  // Measured: a write fault in a dirty-logged huge mapping leaves 1 + prefetched 4K SPTEs, not
  // 512; a 4K fault in touched memory maps up to 8 (conformance/KNOWN_DIFFERENCES.md).
  p.drop_large_spte = true;
  p.direct_pte_prefetch = true;
  return p;
}

// Linux 6.1 (Debian bookworm's own kernel; docs/semantics/versions.md §1, docs/semantics/nested-observations.md §6).
Profile linux_6_1() {
  Profile p;
  p.name = "linux-6.1";
  p.description = "Linux 6.1: no REGION2, guest_memfd, attributes, pre-fault or VM types; zap-all on slot changes";
  p.caps = {
      {KVM_CAP_USER_MEMORY, same(1)},
      {KVM_CAP_NR_MEMSLOTS, same(KVM_USER_MEM_SLOTS)},
      {KVM_CAP_SYNC_MMU, same(1)},
      {KVM_CAP_READONLY_MEM, same(1)},
      {KVM_CAP_MULTI_ADDRESS_SPACE, same(2)},
      {KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, same(3)},
      {KVM_CAP_DIRTY_LOG_RING, same(65536 * 16)},
      {KVM_CAP_DIRTY_LOG_RING_ACQ_REL, same(65536 * 16)},
      {KVM_CAP_BINARY_STATS_FD, same(1)},
      {KVM_CAP_VM_DISABLE_NX_HUGE_PAGES, same(1)},
      {KVM_CAP_DISABLE_QUIRKS2, same(0x7f)},  // quirks 0-6; no SLOT_ZAP_ALL yet
  };
  p.vm_types = 1u << KVM_X86_DEFAULT_VM;
  p.has_region2 = false;
  p.has_guest_memfd = false;
  p.has_memory_attributes = false;
  p.has_pre_fault = false;
  p.gmem_flags_shared_vm = 0;
  p.gmem_flags_private_vm = 0;
  p.zap_all_on_slot_change = true;
  p.dirty_log_disable_recovers_in_place = false;
  p.prefault_eagain_on_invalid_slot = false;
  return p;
}

// Upstream 6.18 on a CPU with ITLB_MULTIHIT and mitigations on: nx_huge_pages = true, so exec
// faults never get huge pages unless the VM disabled the workaround (docs/semantics/tdp-mmu.md §7).
Profile linux_6_18_nx() {
  Profile p = linux_6_18();
  p.name = "linux-6.18-nx";
  p.description = "linux-6.18 with the nx_huge_pages (iTLB multihit) mitigation on";
  p.nx_huge_pages = true;
  return p;
}

// Debian's Linux 6.12 cloud kernel (linux-image-6.12.117+deb12-cloud-amd64) as the nested TDP oracle
// runs it: kvm_amd with NPT under QEMU TCG, qemu64 CPU with PDPE1GB (docs/nested.md). The cloud config
// has no KVM_PRIVATE_MEM/SW_PROTECTED_VM, so no guest_memfd, memory attributes or private VM types.
// Cap values: measured in that guest by traces/nested/caps_probe.trace (`scripts/nested/run.sh --update`).
Profile linux_6_12() {
  Profile p = linux_6_18();
  p.name = "linux-6.12";
  p.description = "Debian 6.12 cloud kernel (nested oracle): TDP MMU, no guest_memfd/attributes/private VMs";
  p.caps.erase(KVM_CAP_GUEST_MEMFD);
  p.caps.erase(KVM_CAP_GUEST_MEMFD_FLAGS);
  p.caps.erase(KVM_CAP_MEMORY_ATTRIBUTES);
  p.caps[KVM_CAP_VM_TYPES] = same(1u << KVM_X86_DEFAULT_VM);
  p.vm_types = 1u << KVM_X86_DEFAULT_VM;
  p.has_guest_memfd = false;
  p.has_memory_attributes = false;
  p.gmem_flags_shared_vm = 0;
  p.gmem_flags_private_vm = 0;
  p.gmem_slot_needs_private_mem = true;  // no VM has private memory here, so the flag is never accepted
  p.dirty_log_disable_recovers_in_place = false;  // 6.13+ only; 6.12 zaps collapsible tables
  // Measured 0x7ff (quirks 0-10): Debian's 6.12.y offers more quirks than the 6.18 entry assumes.
  p.caps[KVM_CAP_DISABLE_QUIRKS2] = same(0x7ff);
  // The oracle's vCPU model (qemu64) has MAXPHYADDR 40: a slot at 1T-4K is accepted, one at 1T is not.
  p.max_gfn = (1ull << 28) - 1;
  p.prefault_hangs_after_zap_all = true;  // docs/nested.md "pre-fault can hang after a zap-all"
  return p;
}

// The same 6.12 kernel with private memory: Debian's generic image (linux-image-6.12.117+deb12-amd64,
// CONFIG_KVM_PRIVATE_MEM=y) with kvm.ko/kvm-amd.ko rebuilt with CONFIG_KVM_SW_PROTECTED_VM
// (scripts/nested/setup.sh --flavour linux-6.12-swprot). 6.12 offers guest_memfd, the GUEST_MEMFD slot
// flag and the PRIVATE attribute only to VMs with private memory, and has no guest_memfd flags.
// Cap values: measured in that guest by traces/nested/caps_probe_swprot.trace (`--update`).
Profile linux_6_12_swprot() {
  Profile p = linux_6_12();
  p.name = "linux-6.12-swprot";
  p.description = "Debian 6.12 generic kernel + kvm rebuilt with CONFIG_KVM_SW_PROTECTED_VM (nested oracle)";
  p.caps[KVM_CAP_GUEST_MEMFD] = CapAnswer{1, 0, 1};
  p.caps[KVM_CAP_MEMORY_ATTRIBUTES] = CapAnswer{KVM_MEMORY_ATTRIBUTE_PRIVATE, 0, KVM_MEMORY_ATTRIBUTE_PRIVATE};
  p.caps[KVM_CAP_VM_TYPES] = same(1u << KVM_X86_DEFAULT_VM | 1u << KVM_X86_SW_PROTECTED_VM);
  p.vm_types = 1u << KVM_X86_DEFAULT_VM | 1u << KVM_X86_SW_PROTECTED_VM;
  p.has_guest_memfd = true;
  p.has_memory_attributes = true;
  p.gmem_slot_needs_private_mem = true;
  return p;
}

// linux-6.12 booted with kvm.nx_huge_pages=force (the oracle's AMD vCPU defaults to N): exec faults get
// no huge pages unless the VM disables the workaround; the recovery thread is not modelled in time.
Profile linux_6_12_nx() {
  Profile p = linux_6_12();
  p.name = "linux-6.12-nx";
  p.description = "linux-6.12 (nested oracle) with kvm.nx_huge_pages=force";
  p.nx_huge_pages = true;
  return p;
}

// linux-6.12 with kvm_amd.npt=0: the shadow MMU. No pre-fault (the cap reads 0, the ioctl answers
// EOPNOTSUPP) and no eager split (only the TDP MMU splits eagerly).
Profile linux_6_12_shadow() {
  Profile p = linux_6_12();
  p.name = "linux-6.12-shadow";
  p.description = "linux-6.12 (nested oracle) with kvm_amd.npt=0: shadow paging";
  p.caps[KVM_CAP_PRE_FAULT_MEMORY] = same(0);
  p.tdp = false;
  p.eager_page_split = false;
  // The legacy MMU's fault path, as on this machine's kvm_pvm (found by kvmsim fuzz on the oracle:
  // traces/nested/regression_shadow_prefetch.trace).
  p.drop_large_spte = true;
  p.direct_pte_prefetch = true;
  return p;
}

// linux-6.12 booted with kvm.eager_page_split=N: enabling dirty logging leaves huge leaves in place
// (write-protected); they are broken up only by the write faults that follow.
Profile linux_6_12_no_eager_split() {
  Profile p = linux_6_12();
  p.name = "linux-6.12-no-eager-split";
  p.description = "linux-6.12 (nested oracle) with kvm.eager_page_split=N";
  p.eager_page_split = false;
  return p;
}

// Upstream 6.18 on a host with 5-level paging (LA57, MAXPHYADDR 52): a 5-level TDP root, so
// guests beyond 64 TiB of physical address space. Everything else is linux-6.18.
Profile linux_6_18_la57() {
  Profile p = linux_6_18();
  p.name = "linux-6.18-la57";
  p.description = "linux-6.18 on a 5-level paging host: 5-level TDP root, MAXPHYADDR 52";
  p.root_level = 5;
  p.max_gfn = (1ull << 40) - 1;
  return p;
}

// The proposal "[RFC PATCH 0/8] KVM: Prepopulate guest memory API" (v1, 2024-03) on the upstream it
// was posted against: 6.8 with guest_memfd, memory attributes and SW_PROTECTED VMs, no
// KVM_PRE_FAULT_MEMORY (an unknown vCPU ioctl: EINVAL), plus KVM_MAP_MEMORY and KVM_CAP_MAP_MEMORY
// (236, answering 1). docs/semantics/proposals.md §1; the rest of the MMU is linux-6.18's.
Profile rfc_map_memory_v1() {
  Profile p = linux_6_18();
  p.name = "rfc-map-memory-v1";
  p.description = "KVM_MAP_MEMORY RFC v1 (2024-03) on a 6.8-like base: guest_memfd, attributes, SW_PROTECTED; no pre-fault";
  p.has_pre_fault = false;
  p.has_map_memory = true;
  p.caps.erase(KVM_CAP_PRE_FAULT_MEMORY);
  p.caps[KVM_CAP_MAP_MEMORY] = same(1);  // patch 6, kvm_vm_ioctl_check_extension()
  // 6.8: guest_memfd and its slot flag only on VMs with private memory; no guest_memfd flags.
  p.caps[KVM_CAP_GUEST_MEMFD] = CapAnswer{1, 0, 1};
  p.caps.erase(KVM_CAP_GUEST_MEMFD_FLAGS);
  p.gmem_flags_shared_vm = 0;
  p.gmem_flags_private_vm = 0;
  p.gmem_slot_needs_private_mem = true;
  // 6.8: quirks 0-6 (no SLOT_ZAP_ALL), every slot delete/move zaps all (kvm_mmu_zap_all_fast),
  // disabling dirty logging zaps collapsible tables (in-place recovery is 6.13+).
  p.caps[KVM_CAP_DISABLE_QUIRKS2] = same(0x7f);
  p.zap_all_on_slot_change = true;
  p.dirty_log_disable_recovers_in_place = false;
  return p;
}

}  // namespace

const std::vector<Profile>& builtin_profiles() {
  static const std::vector<Profile> profiles = {linux_6_18(), linux_6_18_pvm(), linux_6_18_nx(), linux_6_1(),
                                                linux_6_12(), linux_6_12_swprot(), linux_6_12_nx(),
                                                linux_6_12_shadow(), linux_6_12_no_eager_split(), linux_6_18_la57(),
                                                rfc_map_memory_v1()};
  return profiles;
}

const Profile* find_profile(const std::string& name) {
  for (const auto& p : builtin_profiles())
    if (p.name == name) return &p;
  return nullptr;
}

const Profile& default_profile() { return builtin_profiles().front(); }

}  // namespace kvmsim::model
