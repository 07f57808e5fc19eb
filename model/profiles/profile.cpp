#include "model/profiles/profile.h"

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

// x86 capabilities whose answers come from the host rather than the kernel version (arch/x86/kvm/x86.c
// kvm_vm_ioctl_check_extension): NR_VCPUS (num_online_cpus), MAX_VCPUS/MAX_VCPU_ID (CONFIG_KVM_MAX_NR_VCPUS of
// the host's kernel build), XCRS/XSAVE2 (host XSAVE and XCR0), TSC_CONTROL/VM_TSC_CONTROL (TSC scaling),
// X86_DISABLE_EXITS (MWAIT/C-state support), X86_SMM (the vendor's SMBASE emulation), NESTED_STATE and the
// Hyper-V nested caps (vendor module), SMALLER_MAXPHYADDR (vendor + npt/ept), X86_BUS_LOCK_EXIT and
// X86_NOTIFY_VMEXIT (CPU features), PMU_CAPABILITY (enable_pmu), SGX_ATTRIBUTE, DISABLE_QUIRKS2 (vendor-specific
// quirks), VM_TYPES (SEV/SNP/TDX support) and PRE_FAULT_MEMORY (tdp_enabled).
std::set<u32> x86_host_dependent_caps() {
  return {9 /* NR_VCPUS */,        56 /* XCRS */,           60 /* TSC_CONTROL */,
          66 /* MAX_VCPUS */,      117 /* X86_SMM */,       128 /* MAX_VCPU_ID */,
          143 /* X86_DISABLE_EXITS */, 157 /* NESTED_STATE */, 163 /* HYPERV_ENLIGHTENED_VMCS */,
          175 /* HYPERV_DIRECT_TLBFLUSH */, 185 /* SMALLER_MAXPHYADDR */, 193 /* X86_BUS_LOCK_EXIT */,
          196 /* SGX_ATTRIBUTE */, 208 /* XSAVE2 */,      212 /* PMU_CAPABILITY */,
          213 /* DISABLE_QUIRKS2 */, 214 /* VM_TSC_CONTROL */, 219 /* X86_NOTIFY_VMEXIT */,
          235 /* VM_TYPES */,      236 /* PRE_FAULT_MEMORY */};
}

// Linux 7.3.4 (Debian cloud build, stock kvm.ko) as measured on the nested oracle by
// traces/nested/caps_probe_7.3.trace: every capability number 0..251 on /dev/kvm and on a DEFAULT VM. Listed:
// every cap answered non-zero; all others answered 0. Values of x86_host_dependent_caps() are the oracle
// host's (one qemu64+svm+npt vCPU under TCG: no XSAVE, no TSC scaling, no PMU).
std::map<u32, CapAnswer> caps_7_3() {
  return {
      {0, same(1)},  // KVM_CAP_IRQCHIP
      {1, same(1)},  // KVM_CAP_HLT
      {2, same(1)},  // KVM_CAP_MMU_SHADOW_CACHE_CONTROL
      {3, same(1)},  // KVM_CAP_USER_MEMORY
      {4, same(1)},  // KVM_CAP_SET_TSS_ADDR
      {6, same(1)},  // KVM_CAP_VAPIC
      {7, same(1)},  // KVM_CAP_EXT_CPUID
      {8, same(1)},  // KVM_CAP_CLOCKSOURCE
      {9, same(1)},  // KVM_CAP_NR_VCPUS
      {10, same(32764)},  // KVM_CAP_NR_MEMSLOTS
      {11, same(1)},  // KVM_CAP_PIT
      {12, same(1)},  // KVM_CAP_NOP_IO_DELAY
      {14, same(1)},  // KVM_CAP_MP_STATE
      {15, same(2)},  // KVM_CAP_COALESCED_MMIO
      {16, same(1)},  // KVM_CAP_SYNC_MMU
      {21, same(1)},  // KVM_CAP_DESTROY_MEMORY_REGION_WORKS
      {22, same(1)},  // KVM_CAP_USER_NMI
      {23, same(1)},  // KVM_CAP_SET_GUEST_DEBUG
      {24, same(1)},  // KVM_CAP_REINJECT_CONTROL
      {25, same(4096)},  // KVM_CAP_IRQ_ROUTING
      {26, same(1)},  // KVM_CAP_IRQ_INJECT_STATUS
      {30, same(1)},  // KVM_CAP_JOIN_MEMORY_REGIONS_WORKS
      {31, same(32)},  // KVM_CAP_MCE
      {32, same(1)},  // KVM_CAP_IRQFD
      {33, same(1)},  // KVM_CAP_PIT2
      {34, same(1)},  // KVM_CAP_SET_BOOT_CPU_ID
      {35, same(1)},  // KVM_CAP_PIT_STATE2
      {36, same(1)},  // KVM_CAP_IOEVENTFD
      {37, same(1)},  // KVM_CAP_SET_IDENTITY_MAP_ADDR
      {38, same(511)},  // KVM_CAP_XEN_HVM
      {39, same(14)},  // KVM_CAP_ADJUST_CLOCK
      {40, same(1)},  // KVM_CAP_INTERNAL_ERROR_DATA
      {41, same(1)},  // KVM_CAP_VCPU_EVENTS
      {44, same(1)},  // KVM_CAP_HYPERV
      {45, same(1)},  // KVM_CAP_HYPERV_VAPIC
      {46, same(1)},  // KVM_CAP_HYPERV_SPIN
      {47, same(1)},  // KVM_CAP_PCI_SEGMENT
      {50, same(1)},  // KVM_CAP_DEBUGREGS
      {51, same(1)},  // KVM_CAP_X86_ROBUST_SINGLESTEP
      {54, same(1)},  // KVM_CAP_ENABLE_CAP
      {55, same(1)},  // KVM_CAP_XSAVE
      {59, same(1)},  // KVM_CAP_ASYNC_PF
      {61, same(1)},  // KVM_CAP_GET_TSC_KHZ
      {66, same(4096)},  // KVM_CAP_MAX_VCPUS
      {70, same(1)},  // KVM_CAP_ONE_REG
      {72, same(1)},  // KVM_CAP_TSC_DEADLINE_TIMER
      {74, same(7)},  // KVM_CAP_SYNC_REGS
      {76, same(1)},  // KVM_CAP_KVMCLOCK_CTRL
      {77, same(1)},  // KVM_CAP_SIGNAL_MSI
      {81, same(1)},  // KVM_CAP_READONLY_MEM
      {82, same(1)},  // KVM_CAP_IRQFD_RESAMPLE
      {89, same(1)},  // KVM_CAP_DEVICE_CTRL
      {95, same(1)},  // KVM_CAP_EXT_EMUL_CPUID
      {96, same(1)},  // KVM_CAP_HYPERV_TIME
      {97, same(1)},  // KVM_CAP_IOAPIC_POLARITY_IGNORED
      {98, same(1)},  // KVM_CAP_ENABLE_CAP_VM
      {100, same(1)},  // KVM_CAP_IOEVENTFD_NO_LENGTH
      {105, same(1)},  // KVM_CAP_CHECK_EXTENSION_VM
      {116, same(1)},  // KVM_CAP_DISABLE_QUIRKS
      {117, same(1)},  // KVM_CAP_X86_SMM
      {118, same(2)},  // KVM_CAP_MULTI_ADDRESS_SPACE
      {121, same(1)},  // KVM_CAP_SPLIT_IRQCHIP
      {122, same(1)},  // KVM_CAP_IOEVENTFD_ANY_LENGTH
      {123, same(1)},  // KVM_CAP_HYPERV_SYNIC
      {127, same(1)},  // KVM_CAP_VCPU_ATTRIBUTES
      {128, same(16384)},  // KVM_CAP_MAX_VCPU_ID
      {129, CapAnswer{15, 11, 11}},  // KVM_CAP_X2APIC_API
      {136, same(1)},  // KVM_CAP_IMMEDIATE_EXIT
      {143, same(14)},  // KVM_CAP_X86_DISABLE_EXITS
      {148, same(1)},  // KVM_CAP_HYPERV_SYNIC2
      {149, same(1)},  // KVM_CAP_HYPERV_VP_INDEX
      {153, same(1)},  // KVM_CAP_GET_MSR_FEATURES
      {154, same(1)},  // KVM_CAP_HYPERV_EVENTFD
      {155, same(1)},  // KVM_CAP_HYPERV_TLBFLUSH
      {157, same(4224)},  // KVM_CAP_NESTED_STATE
      {159, same(1)},  // KVM_CAP_MSR_PLATFORM_INFO
      {161, same(1)},  // KVM_CAP_HYPERV_SEND_IPI
      {162, same(1)},  // KVM_CAP_COALESCED_PIO
      {164, same(1)},  // KVM_CAP_EXCEPTION_PAYLOAD
      {167, same(1)},  // KVM_CAP_HYPERV_CPUID
      {168, same(3)},  // KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2
      {173, same(1)},  // KVM_CAP_PMU_EVENT_FILTER
      {182, same(1)},  // KVM_CAP_HALT_POLL
      {183, same(1)},  // KVM_CAP_ASYNC_PF_INT
      {184, same(1)},  // KVM_CAP_LAST_CPU
      {187, same(1)},  // KVM_CAP_STEAL_TIME
      {188, same(1)},  // KVM_CAP_X86_USER_SPACE_MSR
      {189, same(1)},  // KVM_CAP_X86_MSR_FILTER
      {190, same(1)},  // KVM_CAP_ENFORCE_PV_FEATURE_CPUID
      {191, same(1)},  // KVM_CAP_SYS_HYPERV_CPUID
      {192, same(1048576)},  // KVM_CAP_DIRTY_LOG_RING
      {195, same(2031619)},  // KVM_CAP_SET_GUEST_DEBUG2
      {196, same(1)},  // KVM_CAP_SGX_ATTRIBUTE
      {197, same(1)},  // KVM_CAP_VM_COPY_ENC_CONTEXT_FROM
      {199, same(1)},  // KVM_CAP_HYPERV_ENFORCE_CPUID
      {200, same(1)},  // KVM_CAP_SREGS2
      {201, same(4096)},  // KVM_CAP_EXIT_HYPERCALL
      {203, same(1)},  // KVM_CAP_BINARY_STATS_FD
      {204, same(1)},  // KVM_CAP_EXIT_ON_EMULATION_FAILURE
      {206, same(1)},  // KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM
      {208, same(4096)},  // KVM_CAP_XSAVE2
      {209, same(1)},  // KVM_CAP_SYS_ATTRIBUTES
      {213, same(4095)},  // KVM_CAP_DISABLE_QUIRKS2
      {215, same(1)},  // KVM_CAP_SYSTEM_EVENT_DATA
      {218, same(1)},  // KVM_CAP_X86_TRIPLE_FAULT_EVENT
      {220, same(1)},  // KVM_CAP_VM_DISABLE_NX_HUGE_PAGES
      {223, same(1048576)},  // KVM_CAP_DIRTY_LOG_RING_ACQ_REL
      {226, same(1)},  // KVM_CAP_PMU_EVENT_MASKED_EVENTS
      {231, same(1)},  // KVM_CAP_USER_MEMORY2
      {232, same(1)},  // KVM_CAP_MEMORY_FAULT_INFO
      {234, same(1)},  // KVM_CAP_GUEST_MEMFD
      {235, same(1)},  // KVM_CAP_VM_TYPES
      {236, same(1)},  // KVM_CAP_PRE_FAULT_MEMORY
      {237, same(1)},  // KVM_CAP_X86_APIC_BUS_CYCLES_NS
      {238, same(1)},  // KVM_CAP_X86_GUEST_MODE
      {244, same(3)},  // KVM_CAP_GUEST_MEMFD_FLAGS
  };
}

// The same kernel with kvm.ko/kvm-amd.ko rebuilt with CONFIG_KVM_SW_PROTECTED_VM
// (traces/nested/caps_probe_7.3_swprot.trace, /dev/kvm, DEFAULT and SW_PROTECTED VMs): every other cap
// answers as caps_7_3(), on both VM types.
std::map<u32, CapAnswer> caps_7_3_swprot() {
  std::map<u32, CapAnswer> c = caps_7_3();
  c[KVM_CAP_MULTI_ADDRESS_SPACE] = CapAnswer{2, 2, 1};  // no SMM address space for private VMs
  c[KVM_CAP_MEMORY_ATTRIBUTES] = CapAnswer{KVM_MEMORY_ATTRIBUTE_PRIVATE, 0, KVM_MEMORY_ATTRIBUTE_PRIVATE};
  c[KVM_CAP_VM_TYPES] = same(1u << KVM_X86_DEFAULT_VM | 1u << KVM_X86_SW_PROTECTED_VM);
  c[KVM_CAP_GUEST_MEMFD_FLAGS] = CapAnswer{3, 3, 1};  // MMAP|INIT_SHARED; MMAP only on a private VM
  return c;
}

// Debian's 6.12.117 cloud kernel as measured on the nested oracle by traces/nested/caps_probe.trace (every
// number 0..251 on /dev/kvm and a DEFAULT VM; 6.12's kvm.h ends at 238). Non-zero answers only; host-dependent
// values as in caps_7_3().
std::map<u32, CapAnswer> caps_6_12() {
  return {
      {0, same(1)},  // KVM_CAP_IRQCHIP
      {1, same(1)},  // KVM_CAP_HLT
      {2, same(1)},  // KVM_CAP_MMU_SHADOW_CACHE_CONTROL
      {3, same(1)},  // KVM_CAP_USER_MEMORY
      {4, same(1)},  // KVM_CAP_SET_TSS_ADDR
      {6, same(1)},  // KVM_CAP_VAPIC
      {7, same(1)},  // KVM_CAP_EXT_CPUID
      {8, same(1)},  // KVM_CAP_CLOCKSOURCE
      {9, same(1)},  // KVM_CAP_NR_VCPUS
      {10, same(32764)},  // KVM_CAP_NR_MEMSLOTS
      {11, same(1)},  // KVM_CAP_PIT
      {12, same(1)},  // KVM_CAP_NOP_IO_DELAY
      {14, same(1)},  // KVM_CAP_MP_STATE
      {15, same(2)},  // KVM_CAP_COALESCED_MMIO
      {16, same(1)},  // KVM_CAP_SYNC_MMU
      {21, same(1)},  // KVM_CAP_DESTROY_MEMORY_REGION_WORKS
      {22, same(1)},  // KVM_CAP_USER_NMI
      {23, same(1)},  // KVM_CAP_SET_GUEST_DEBUG
      {24, same(1)},  // KVM_CAP_REINJECT_CONTROL
      {25, same(4096)},  // KVM_CAP_IRQ_ROUTING
      {26, same(1)},  // KVM_CAP_IRQ_INJECT_STATUS
      {30, same(1)},  // KVM_CAP_JOIN_MEMORY_REGIONS_WORKS
      {31, same(32)},  // KVM_CAP_MCE
      {32, same(1)},  // KVM_CAP_IRQFD
      {33, same(1)},  // KVM_CAP_PIT2
      {34, same(1)},  // KVM_CAP_SET_BOOT_CPU_ID
      {35, same(1)},  // KVM_CAP_PIT_STATE2
      {36, same(1)},  // KVM_CAP_IOEVENTFD
      {37, same(1)},  // KVM_CAP_SET_IDENTITY_MAP_ADDR
      {38, same(511)},  // KVM_CAP_XEN_HVM
      {39, same(14)},  // KVM_CAP_ADJUST_CLOCK
      {40, same(1)},  // KVM_CAP_INTERNAL_ERROR_DATA
      {41, same(1)},  // KVM_CAP_VCPU_EVENTS
      {44, same(1)},  // KVM_CAP_HYPERV
      {45, same(1)},  // KVM_CAP_HYPERV_VAPIC
      {46, same(1)},  // KVM_CAP_HYPERV_SPIN
      {47, same(1)},  // KVM_CAP_PCI_SEGMENT
      {50, same(1)},  // KVM_CAP_DEBUGREGS
      {51, same(1)},  // KVM_CAP_X86_ROBUST_SINGLESTEP
      {54, same(1)},  // KVM_CAP_ENABLE_CAP
      {55, same(1)},  // KVM_CAP_XSAVE
      {59, same(1)},  // KVM_CAP_ASYNC_PF
      {61, same(1)},  // KVM_CAP_GET_TSC_KHZ
      {66, same(4096)},  // KVM_CAP_MAX_VCPUS
      {72, same(1)},  // KVM_CAP_TSC_DEADLINE_TIMER
      {74, same(7)},  // KVM_CAP_SYNC_REGS
      {76, same(1)},  // KVM_CAP_KVMCLOCK_CTRL
      {77, same(1)},  // KVM_CAP_SIGNAL_MSI
      {81, same(1)},  // KVM_CAP_READONLY_MEM
      {82, same(1)},  // KVM_CAP_IRQFD_RESAMPLE
      {89, same(1)},  // KVM_CAP_DEVICE_CTRL
      {95, same(1)},  // KVM_CAP_EXT_EMUL_CPUID
      {96, same(1)},  // KVM_CAP_HYPERV_TIME
      {97, same(1)},  // KVM_CAP_IOAPIC_POLARITY_IGNORED
      {98, same(1)},  // KVM_CAP_ENABLE_CAP_VM
      {100, same(1)},  // KVM_CAP_IOEVENTFD_NO_LENGTH
      {105, same(1)},  // KVM_CAP_CHECK_EXTENSION_VM
      {116, same(1)},  // KVM_CAP_DISABLE_QUIRKS
      {117, same(1)},  // KVM_CAP_X86_SMM
      {118, same(2)},  // KVM_CAP_MULTI_ADDRESS_SPACE
      {121, same(1)},  // KVM_CAP_SPLIT_IRQCHIP
      {122, same(1)},  // KVM_CAP_IOEVENTFD_ANY_LENGTH
      {123, same(1)},  // KVM_CAP_HYPERV_SYNIC
      {127, same(1)},  // KVM_CAP_VCPU_ATTRIBUTES
      {128, same(16384)},  // KVM_CAP_MAX_VCPU_ID
      {129, same(3)},  // KVM_CAP_X2APIC_API
      {136, same(1)},  // KVM_CAP_IMMEDIATE_EXIT
      {143, same(14)},  // KVM_CAP_X86_DISABLE_EXITS
      {148, same(1)},  // KVM_CAP_HYPERV_SYNIC2
      {149, same(1)},  // KVM_CAP_HYPERV_VP_INDEX
      {153, same(1)},  // KVM_CAP_GET_MSR_FEATURES
      {154, same(1)},  // KVM_CAP_HYPERV_EVENTFD
      {155, same(1)},  // KVM_CAP_HYPERV_TLBFLUSH
      {157, same(4224)},  // KVM_CAP_NESTED_STATE
      {159, same(1)},  // KVM_CAP_MSR_PLATFORM_INFO
      {161, same(1)},  // KVM_CAP_HYPERV_SEND_IPI
      {162, same(1)},  // KVM_CAP_COALESCED_PIO
      {164, same(1)},  // KVM_CAP_EXCEPTION_PAYLOAD
      {167, same(1)},  // KVM_CAP_HYPERV_CPUID
      {168, same(3)},  // KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2
      {173, same(1)},  // KVM_CAP_PMU_EVENT_FILTER
      {182, same(1)},  // KVM_CAP_HALT_POLL
      {183, same(1)},  // KVM_CAP_ASYNC_PF_INT
      {184, same(1)},  // KVM_CAP_LAST_CPU
      {187, same(1)},  // KVM_CAP_STEAL_TIME
      {188, same(1)},  // KVM_CAP_X86_USER_SPACE_MSR
      {189, same(1)},  // KVM_CAP_X86_MSR_FILTER
      {190, same(1)},  // KVM_CAP_ENFORCE_PV_FEATURE_CPUID
      {191, same(1)},  // KVM_CAP_SYS_HYPERV_CPUID
      {192, same(1048576)},  // KVM_CAP_DIRTY_LOG_RING
      {195, same(2031619)},  // KVM_CAP_SET_GUEST_DEBUG2
      {196, same(1)},  // KVM_CAP_SGX_ATTRIBUTE
      {197, same(1)},  // KVM_CAP_VM_COPY_ENC_CONTEXT_FROM
      {199, same(1)},  // KVM_CAP_HYPERV_ENFORCE_CPUID
      {200, same(1)},  // KVM_CAP_SREGS2
      {201, same(4096)},  // KVM_CAP_EXIT_HYPERCALL
      {203, same(1)},  // KVM_CAP_BINARY_STATS_FD
      {204, same(1)},  // KVM_CAP_EXIT_ON_EMULATION_FAILURE
      {206, same(1)},  // KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM
      {208, same(4096)},  // KVM_CAP_XSAVE2
      {209, same(1)},  // KVM_CAP_SYS_ATTRIBUTES
      {213, same(2047)},  // KVM_CAP_DISABLE_QUIRKS2
      {215, same(1)},  // KVM_CAP_SYSTEM_EVENT_DATA
      {218, same(1)},  // KVM_CAP_X86_TRIPLE_FAULT_EVENT
      {220, same(1)},  // KVM_CAP_VM_DISABLE_NX_HUGE_PAGES
      {223, same(1048576)},  // KVM_CAP_DIRTY_LOG_RING_ACQ_REL
      {226, same(1)},  // KVM_CAP_PMU_EVENT_MASKED_EVENTS
      {231, same(1)},  // KVM_CAP_USER_MEMORY2
      {232, same(1)},  // KVM_CAP_MEMORY_FAULT_INFO
      {235, same(1)},  // KVM_CAP_VM_TYPES
      {236, same(1)},  // KVM_CAP_PRE_FAULT_MEMORY
      {237, same(1)},  // KVM_CAP_X86_APIC_BUS_CYCLES_NS
      {238, same(1)},  // KVM_CAP_X86_GUEST_MODE
  };
}


// Debian's Linux 7.3 cloud kernel (trixie-backports, linux-binary/-modules/-base-7.3.4+deb13-cloud-amd64
// 7.3.4-1~bpo13+1) as the nested TDP oracle runs it: kvm_amd with NPT under QEMU TCG on a qemu64+svm+npt+pdpe1gb
// vCPU (docs/nested.md). The cloud config has CONFIG_KVM_GUEST_MEMFD but not CONFIG_KVM_SW_PROTECTED_VM: guest_memfd
// (with the MMAP and INIT_SHARED flags) on DEFAULT VMs, no memory attributes, no private VM type.
// Cap table: every number 0..251 measured in that guest by traces/nested/caps_probe_7.3.trace (`--update`).
Profile linux_7_3() {
  Profile p;
  p.name = "linux-7.3";
  p.oracle_kernel = "linux-7.3";
  p.description = "Debian 7.3.4 cloud kernel (nested oracle): TDP MMU, guest_memfd on DEFAULT VMs, no private VMs";
  p.caps = caps_7_3();
  p.host_dependent_caps = x86_host_dependent_caps();
  p.caps_host = "nested oracle: one qemu64+svm+npt+pdpe1gb vCPU under QEMU TCG, kvm_amd npt=1";
  p.vm_types = 1u << KVM_X86_DEFAULT_VM;
  p.has_memory_attributes = false;
  p.gmem_flags_shared_vm = 3;
  p.gmem_flags_private_vm = 1;
  // The oracle's vCPU model (qemu64) has MAXPHYADDR 40 (measured by the caps probe, as on 6.12).
  p.max_gfn = (1ull << 28) - 1;
  // A guest write into a 2M range that pre-fault mapped to the huge zero page keeps a 2M leaf: the host
  // replaces the huge zero page with a THP (mm/huge_memory.c do_huge_zero_wp_pmd, v6.13). Measured on 7.3.4 by
  // traces/nested/prefault_thp_then_write_7.3.trace.
  p.huge_zero_wp_allocates_thp = true;
  // A guest_memfd range bound to a second slot: EEXIST on 7.3.4 (virt/kvm/guest_memfd.c
  // kvm_gmem_commit_memory_region, the xa_find over the file's bindings; found pairing traces/gmem/bind.trace,
  // regression traces/nested/gmem_bind_overlap_eexist_7.3.trace).
  p.gmem_binding_overlap_errno = EEXIST;
  return p;
}

// The same 7.3.4 cloud kernel with kvm.ko/kvm-amd.ko rebuilt from linux-source-7.3 with
// CONFIG_KVM_SW_PROTECTED_VM in a trixie build root (scripts/nested/setup.sh --flavour linux-7.3-swprot).
// Cap table: traces/nested/caps_probe_7.3_swprot.trace (`--update`), on /dev/kvm, DEFAULT and SW_PROTECTED VMs.
Profile linux_7_3_swprot() {
  Profile p = linux_7_3();
  p.name = "linux-7.3-swprot";
  p.oracle_kernel = "linux-7.3-swprot";
  p.description = "Debian 7.3.4 cloud kernel + kvm rebuilt with CONFIG_KVM_SW_PROTECTED_VM (nested oracle)";
  p.caps = caps_7_3_swprot();
  p.vm_types = 1u << KVM_X86_DEFAULT_VM | 1u << KVM_X86_SW_PROTECTED_VM;
  p.has_memory_attributes = true;
  return p;
}

// Upstream 6.18 x86 on a TDP host with CONFIG_KVM_SW_PROTECTED_VM (docs/semantics/vm-and-caps.md §4). Derived from the
// measured linux-7.3-swprot: it differs from it only where upstream changed between 6.18 and 7.3, each difference
// naming the change, and by its host (MAXPHYADDR 46, where the oracle's vCPU has 40). A cap on which 6.12.117 and
// 7.3.4 answer alike (caps_6_12() vs caps_7_3()) is taken to answer the same on 6.18, which lies between them.
Profile linux_6_18() {
  Profile p = linux_7_3_swprot();
  p.name = "linux-6.18";
  p.oracle_kernel.clear();  // no oracle boots 6.18: derived from 7.3 by source, not measured
  p.description = "upstream 6.18 semantics, TDP MMU, CONFIG_KVM_SW_PROTECTED_VM, 1G pages, MAXPHYADDR 46";
  p.caps_host = "not measured on a 6.18 host: host-dependent caps are linux-7.3's (nested oracle, one qemu64 vCPU)";
  // KVM_X86_QUIRK_NESTED_SVM_SHARED_PAT (bit 11) came with the nSVM gPAT series ("KVM: x86: Define
  // KVM_X86_QUIRK_NESTED_SVM_SHARED_PAT", 2026), after 6.18. Bits 0-10 are offered by 6.12.117 already.
  p.caps[KVM_CAP_DISABLE_QUIRKS2] = same(0x7ff);
  // KVM_X2APIC_ENABLE/DISABLE_SUPPRESS_EOI_BROADCAST (bits 2-3 of KVM_CAP_X2APIC_API, x86.c
  // KVM_X2APIC_API_VALID_FLAGS) were posted after the 6.18 merge window; 6.12 answers 3 like 6.18.
  p.caps[129] = same(3);  // KVM_CAP_X2APIC_API
  // An overlapping guest_memfd binding is EINVAL up to v7.0 (kvm_gmem_bind); 7.3 answers EEXIST.
  p.gmem_binding_overlap_errno = EINVAL;
  // KVM_CAP_ONE_REG stays 1 (6.12: 0): x86 KVM_{GET,SET}_ONE_REG came with CET virtualization in 6.18
  // ("KVM: x86: Add KVM_{G,S}ET_ONE_REG uAPIs for MSRs").
  p.max_gfn = (1ull << 34) - 1;
  return p;
}

// This development machine: 6.18 with the kvm_pvm vendor module (docs/semantics/host-kvm-pvm.md §1-§3).
Profile linux_6_18_pvm() {
  Profile p = linux_6_18();
  p.name = "linux-6.18-pvm";
  // huge_zero_wp_allocates_thp stays true (from linux-6.18): measured here by kvmsim fuzz
  // (traces/regressions/huge_zero_page_write_allocates_thp.trace).
  // Cap table: the caps `kvmsim probe` asked this host (model/uapi.h's names, 2026-11) are set below; the
  // rest are linux-6.18's. The machines have no /dev/kvm since 2026-12, so the rest cannot be re-probed here.
  p.caps_host = "this development machine's kvm_pvm (only the caps set in linux_6_18_pvm() were probed)";
  p.caps[117] = same(0);  // KVM_CAP_X86_SMM: no SMM (one address space, MULTI_ADDRESS_SPACE 0)
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
  // Measured by `kvmsim probe` (1535): upstream's 0x7ff without IGNORE_GUEST_PAT (bit 9), which
  // kvm_x86_vendor_init drops when TDP is off (shadow paging always ignores guest PAT).
  p.caps[KVM_CAP_DISABLE_QUIRKS2] = same(0x5ff);
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
  p.oracle_kernel = "linux-6.12";
  p.description = "Debian 6.12 cloud kernel (nested oracle): TDP MMU, no guest_memfd/attributes/private VMs";
  p.caps = caps_6_12();
  p.host_dependent_caps = x86_host_dependent_caps();
  p.caps_host = "nested oracle: one qemu64+svm+npt+pdpe1gb vCPU under QEMU TCG, kvm_amd npt=1";
  p.huge_zero_wp_allocates_thp = false;  // do_huge_zero_wp_pmd is v6.13: 6.12 splits the PMD and CoWs 4K
  p.vm_types = 1u << KVM_X86_DEFAULT_VM;
  p.has_guest_memfd = false;
  p.has_memory_attributes = false;
  p.gmem_flags_shared_vm = 0;
  p.gmem_flags_private_vm = 0;
  p.gmem_slot_needs_private_mem = true;  // no VM has private memory here, so the flag is never accepted
  p.dirty_log_disable_recovers_in_place = false;  // 6.13+ only; 6.12 zaps collapsible tables
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
  p.oracle_kernel = "linux-6.12-swprot";
  p.description = "Debian 6.12 generic kernel + kvm rebuilt with CONFIG_KVM_SW_PROTECTED_VM (nested oracle)";
  p.caps[KVM_CAP_GUEST_MEMFD] = CapAnswer{1, 0, 1};
  p.caps[KVM_CAP_MULTI_ADDRESS_SPACE] = CapAnswer{2, 2, 1};
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
  p.caps[185] = same(1);  // KVM_CAP_SMALLER_MAXPHYADDR: svm.c sets allow_smaller_maxphyaddr = !npt_enabled
  // kvm_x86_vendor_init drops KVM_X86_QUIRK_IGNORE_GUEST_PAT (bit 9) without TDP: shadow paging always ignores
  // guest PAT. 0x5ff is also what this machine's shadow-paging kvm_pvm answers (linux-6.18-pvm).
  p.caps[KVM_CAP_DISABLE_QUIRKS2] = same(0x7ff & ~0x200ull);
  // max_gfn stays the vCPU's MAXPHYADDR 40 although kvm_mmu_max_gfn() (arch/x86/kvm/mmu.h) accepts 52-bit slots
  // without TDP: the kvm backend places its guest agent below max_gfn, and above MAXPHYADDR the agent's page
  // tables are refused (KVM_SET_SREGS EINVAL). conformance/KNOWN_DIFFERENCES.md records the slot limit.
  p.tdp = false;
  p.eager_page_split = false;
  // The legacy MMU's fault path, as on this machine's kvm_pvm (found by kvmsim fuzz on the oracle:
  // traces/nested/regression_shadow_prefetch.trace).
  p.drop_large_spte = true;
  p.direct_pte_prefetch = true;
  // kvm_arch_vcpu_pre_fault_memory() reloads the MMU before its "not the TDP fault handler" EOPNOTSUPP;
  // the shadow MMU's root allocation calls make_mmu_pages_available(), which is -ENOSPC while
  // n_max_mmu_pages is 0, i.e. until the first memslot commit sizes it (mmu.c). Found by kvmsim fuzz on
  // the 6.12 oracle (traces/nested/regression_shadow_prefault_no_memslot.trace); 7.3 has the same code.
  p.prefault_no_memslot_errno = ENOSPC;
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

// linux-7.3 booted with kvm.nx_huge_pages=force (the oracle's AMD vCPU defaults to N).
Profile linux_7_3_nx() {
  Profile p = linux_7_3();
  p.name = "linux-7.3-nx";
  p.description = "linux-7.3 (nested oracle) with kvm.nx_huge_pages=force";
  p.nx_huge_pages = true;
  return p;
}

// linux-7.3 with kvm_amd.npt=0: the shadow MMU (see linux_6_12_shadow). KVM_CAP_PRE_FAULT_MEMORY is tdp_enabled
// (x86.c kvm_vm_ioctl_check_extension) and KVM_CAP_SMALLER_MAXPHYADDR is allow_smaller_maxphyaddr, which svm.c
// sets to !npt_enabled.
Profile linux_7_3_shadow() {
  Profile p = linux_7_3();
  p.name = "linux-7.3-shadow";
  p.description = "linux-7.3 (nested oracle) with kvm_amd.npt=0: shadow paging";
  p.caps[KVM_CAP_PRE_FAULT_MEMORY] = same(0);
  p.caps[185] = same(1);  // KVM_CAP_SMALLER_MAXPHYADDR
  // Without TDP kvm_x86_vendor_init drops KVM_X86_QUIRK_IGNORE_GUEST_PAT (bit 9) from the supported quirks.
  p.caps[KVM_CAP_DISABLE_QUIRKS2] = same(0xfff & ~0x200ull);
  // max_gfn stays the vCPU's MAXPHYADDR 40 although kvm_mmu_max_gfn() (arch/x86/kvm/mmu.h) accepts 52-bit slots
  // without TDP: the kvm backend places its guest agent below max_gfn, and above MAXPHYADDR the agent's page
  // tables are refused (KVM_SET_SREGS EINVAL). conformance/KNOWN_DIFFERENCES.md records the slot limit.
  p.tdp = false;
  p.eager_page_split = false;
  p.drop_large_spte = true;
  p.direct_pte_prefetch = true;
  // kvm_arch_vcpu_pre_fault_memory() reloads the MMU before its "not the TDP fault handler" EOPNOTSUPP;
  // the shadow MMU's root allocation calls make_mmu_pages_available(), which is -ENOSPC while
  // n_max_mmu_pages is 0, i.e. until the first memslot commit sizes it (mmu.c). Measured on the 6.12
  // oracle (traces/nested/regression_shadow_prefault_no_memslot.trace); 7.3 has the same code, not measured.
  p.prefault_no_memslot_errno = ENOSPC;
  return p;
}

// linux-7.3 booted with kvm.eager_page_split=N.
Profile linux_7_3_no_eager_split() {
  Profile p = linux_7_3();
  p.name = "linux-7.3-no-eager-split";
  p.description = "linux-7.3 (nested oracle) with kvm.eager_page_split=N";
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
// (236, answering 1). docs/semantics/proposals.md §1; the rest (caps included)
// is linux-6.18's, an approximation: caps added after 6.8 are not removed.
Profile rfc_map_memory_v1() {
  Profile p = linux_6_18();
  p.name = "rfc-map-memory-v1";
  p.description = "KVM_MAP_MEMORY RFC v1 (2024-03) on a 6.8-like base: guest_memfd, attributes, SW_PROTECTED; no pre-fault";
  p.source = "[RFC PATCH 0/8] KVM: Prepopulate guest memory API, Isaku Yamahata, 2024-03-01, and its review thread";
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
  p.huge_zero_wp_allocates_thp = false;  // do_huge_zero_wp_pmd is v6.13: 6.8 splits the PMD and CoWs 4K
  return p;
}

// The proposal "[PATCH v5 00/13] KVM: mm: fd-based approach for supporting KVM guest private memory"
// (Chao Peng, 2022-03): KVM_MEM_PRIVATE slots whose private pages come from a memfd (private_fd,
// private_offset in struct kvm_userspace_memory_region_ext) and MFD_INACCESSIBLE memfds. Its base
// was kvm/queue of early 2022 (5.17-rc); linux-6.1's memslot and TDP MMU rules stand in for it, with
// the caps 5.18..6.1 added removed. docs/semantics/proposals.md §2. No kernel ran the series for us.
Profile private_fd_v5() {
  Profile p = linux_6_1();
  p.name = "private-fd-v5";
  p.description = "private-fd memslots v5 (2022-03): KVM_MEM_PRIVATE + private_fd/private_offset, MFD_INACCESSIBLE";
  p.source = "[PATCH v5 00/13] KVM: mm: fd-based approach for supporting KVM guest private memory, Chao Peng, "
             "2022-03-10, <20220310140911.50924-1-chao.p.peng@linux.intel.com>";
  p.has_private_fd_memslot = true;
  p.caps.erase(KVM_CAP_DIRTY_LOG_RING_ACQ_REL);      // 6.1
  p.caps.erase(KVM_CAP_VM_DISABLE_NX_HUGE_PAGES);    // 5.19
  p.caps.erase(KVM_CAP_DISABLE_QUIRKS2);             // 5.19
  return p;
}

// The guest_memfd in-place conversion series ("guest_memfd: In-place conversion support", Ackerley Tng et
// al.) as posted in v8, the newest revision whose patches we could read in full
// (docs/semantics/gmem-conversion.md). Its base is kvm-x86/next of June 2026; kvmsim takes linux-7.3-swprot
// as that base (an approximation: nothing between them touches the rules modelled here). v8's default
// configuration: gmem_in_place_conversion on, CONFIG_KVM_VM_MEMORY_ATTRIBUTES off.
Profile gmem_inplace_conversion() {
  Profile p = linux_7_3_swprot();
  p.name = "gmem-inplace-conversion";
  p.oracle_kernel.clear();  // not in any kernel we can boot
  p.description = "guest_memfd in-place conversion v8 on linux-7.3-swprot: KVM_SET_MEMORY_ATTRIBUTES2 on guest_memfd";
  p.source = "[PATCH v8 00/46] guest_memfd: In-place conversion support, 2026-06-18, "
             "<20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com>";
  p.gmem_conversion.enabled = true;
  // [PATCH v8 17/46] (kvm.h): 250; v7 used 249. kvm_vm_ioctl_check_extension_generic(): PRIVATE when in-place
  // conversion is on and kvm_supports_private_mem() (!kvm, or a VM with private memory), else 0.
  p.gmem_conversion.cap_nr = 250;
  p.caps[250] = CapAnswer{KVM_MEMORY_ATTRIBUTE_PRIVATE, 0, KVM_MEMORY_ATTRIBUTE_PRIVATE};
  // [PATCH v8 05/46]: CONFIG_KVM_VM_MEMORY_ATTRIBUTES is no longer selected by SW_PROTECTED (default n), so the
  // VM ioctl KVM_SET_MEMORY_ATTRIBUTES is not built (ENOTTY) and KVM_CAP_MEMORY_ATTRIBUTES answers 0.
  p.caps.erase(KVM_CAP_MEMORY_ATTRIBUTES);
  p.has_memory_attributes = false;
  // [PATCH v8 25/46] kvm_arch_supports_gmem_init_shared(): INIT_SHARED for private VMs too.
  p.caps[KVM_CAP_GUEST_MEMFD_FLAGS] = same(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  p.gmem_flags_private_vm = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
  return p;
}

// RFC v5 of the same series ([PATCH RFC v5 22/..] "Apply content modes while setting memory attributes",
// <20260428-gmem-inplace-conversion-v5-22-d8608ccfca22@google.com>): `flags` carries a content mode. Dropped
// from the v8 base. Everything else is taken from the v8 profile; the per-VM-type table is RFC v5's
// kvm_arch_gmem_supported_content_modes(kvm, to_private). kvmsim has only DEFAULT and SW_PROTECTED VMs, so
// the SNP/TDX rows are data the model never reaches (their PRESERVE is allowed only before launch).
Profile gmem_inplace_conversion_content_modes() {
  Profile p = gmem_inplace_conversion();
  p.name = "gmem-inplace-conversion-content-modes";
  p.description = "gmem-inplace-conversion with RFC v5's content modes (ZERO/PRESERVE flags)";
  p.source = "[PATCH RFC v5 22/..] KVM: guest_memfd: content modes, 2026-04-28, "
             "<20260428-gmem-inplace-conversion-v5-22-d8608ccfca22@google.com>";
  p.gmem_conversion.mode_flags = KVM_SET_MEMORY_ATTRIBUTES2_ZERO | KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE;
  const u64 both = KVM_SET_MEMORY_ATTRIBUTES2_ZERO | KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE;
  p.gmem_conversion.modes = {
      {KVM_X86_SW_PROTECTED_VM, ContentModes{both, both}},
      {KVM_X86_SNP_VM, ContentModes{KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE, KVM_SET_MEMORY_ATTRIBUTES2_ZERO}},
      {KVM_X86_TDX_VM, ContentModes{KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE, KVM_SET_MEMORY_ATTRIBUTES2_ZERO}},
  };
  return p;
}

// "[PATCH 0/4] KVM: guest_memfd: add KVM_GUEST_MEMFD_POPULATE ioctl" (Nikita Kalyazin, 2024-10-24) on the
// 6.12-rc base it was posted against (base-commit c8d430db8eec): linux-6.12-swprot, whose guest_memfd, per-VM
// attributes and SW_PROTECTED VMs are that base's (docs/semantics/gmem-populate.md).
Profile gmem_populate_rfc() {
  Profile p = linux_6_12_swprot();
  p.name = "gmem-populate-rfc";
  p.oracle_kernel.clear();
  p.description = "KVM_GUEST_MEMFD_POPULATE RFC (2024-10) on linux-6.12-swprot, callable from another process";
  p.source = "[PATCH 0/4] KVM: guest_memfd: add KVM_GUEST_MEMFD_POPULATE ioctl, 2024-10-24, "
             "<20241024095429.54052-1-kalyazin@amazon.com>";
  p.has_gmem_populate = true;
  p.gmem_populate_other_mm = true;  // [PATCH 3/4] "KVM: allow KVM_GUEST_MEMFD_POPULATE in another mm"
  return p;
}

// "[PATCH v7 0/2] KVM: guest_memfd: use write for population" (Nikita Kalyazin, 2025-11-14): write() on a
// guest_memfd created with GUEST_MEMFD_FLAG_WRITE (docs/semantics/gmem-write.md). Posted against kvm/next of
// November 2025; kvmsim takes linux-7.3-swprot as that base, so a VM with private memory shows the flag refused.
Profile gmem_write_populate() {
  Profile p = linux_7_3_swprot();
  p.name = "gmem-write-populate";
  p.oracle_kernel.clear();
  p.description = "guest_memfd populate via write() v7 on linux-7.3-swprot: GUEST_MEMFD_FLAG_WRITE, pwrite(2)";
  p.source = "[PATCH v7 1/2] KVM: guest_memfd: add generic population via write, 2025-11-14, "
             "<20251114151828.98165-2-kalyazin@amazon.com>";
  // [PATCH v7 1/2] include/uapi/linux/kvm.h: 1 << 2, the bit the no-direct-map series also wanted.
  p.gmem_write_flag = 1ull << 2;
  // kvm_gmem_get_supported_flags(): WRITE joins INIT_SHARED, offered when !kvm or
  // kvm_arch_supports_gmem_init_shared() (x86: a VM without private memory).
  const u64 shared = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED | p.gmem_write_flag;
  p.caps[KVM_CAP_GUEST_MEMFD_FLAGS] = CapAnswer{shared, shared, GUEST_MEMFD_FLAG_MMAP};
  p.gmem_flags_shared_vm = shared;
  p.gmem_flags_private_vm = GUEST_MEMFD_FLAG_MMAP;
  return p;
}

}  // namespace

const std::vector<Profile>& builtin_profiles() {
  // linux-7.3 first: the default is the newest kernel a real TDP MMU (the nested oracle) confirms.
  static const std::vector<Profile> profiles = {linux_7_3(), linux_7_3_swprot(), linux_7_3_nx(), linux_7_3_shadow(),
                                                linux_7_3_no_eager_split(), linux_6_18(), linux_6_18_pvm(),
                                                linux_6_18_nx(), linux_6_1(), linux_6_12(), linux_6_12_swprot(),
                                                linux_6_12_nx(), linux_6_12_shadow(), linux_6_12_no_eager_split(),
                                                linux_6_18_la57(), rfc_map_memory_v1(), private_fd_v5(),
                                                gmem_inplace_conversion(), gmem_inplace_conversion_content_modes(),
                                                gmem_populate_rfc(), gmem_write_populate()};
  return profiles;
}

namespace {
constexpr std::string_view kThpNames[] = {"always", "madvise", "never"};
constexpr std::string_view kShmemThpNames[] = {"always", "within_size", "advise", "never", "deny", "force"};
}  // namespace

const char* thp_policy_name(ThpPolicy p) { return kThpNames[static_cast<int>(p)].data(); }
const char* shmem_thp_policy_name(ShmemThpPolicy p) { return kShmemThpNames[static_cast<int>(p)].data(); }

std::optional<ThpPolicy> thp_policy_named(std::string_view name) {
  for (int i = 0; i < 3; i++)
    if (kThpNames[i] == name) return static_cast<ThpPolicy>(i);
  return std::nullopt;
}

std::optional<ShmemThpPolicy> shmem_thp_policy_named(std::string_view name) {
  for (int i = 0; i < 6; i++)
    if (kShmemThpNames[i] == name) return static_cast<ShmemThpPolicy>(i);
  return std::nullopt;
}

const Profile* find_profile(const std::string& name) {
  for (const auto& p : builtin_profiles())
    if (p.name == name) return &p;
  return nullptr;
}

const Profile& default_profile() { return builtin_profiles().front(); }

}  // namespace kvmsim::model
