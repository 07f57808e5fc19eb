#include "sim/trace/constants.h"
#include "sim/trace/ioctl_names.h"

#include <unordered_map>

#include "model/uapi.h"

namespace kvmsim::trace {

namespace {
namespace u = kvmsim::uapi;

#define C(name) Constant{#name, static_cast<u64>(u::name)}
const std::vector<Constant> kConstants = {
    // memslot flags
    C(KVM_MEM_LOG_DIRTY_PAGES), C(KVM_MEM_READONLY), C(KVM_MEM_GUEST_MEMFD),
    C(KVM_MEM_PRIVATE),  // private-fd v5 proposal: the same bit as GUEST_MEMFD
    // attributes and exits
    C(KVM_MEMORY_ATTRIBUTE_PRIVATE), C(KVM_MEMORY_EXIT_FLAG_PRIVATE),
    C(KVM_EXIT_IO), C(KVM_EXIT_MMIO), C(KVM_EXIT_SHUTDOWN), C(KVM_EXIT_INTERNAL_ERROR), C(KVM_EXIT_MEMORY_FAULT),
    C(KVM_EXIT_MEMORY_ERROR),
    // guest_memfd
    C(GUEST_MEMFD_FLAG_MMAP), C(GUEST_MEMFD_FLAG_INIT_SHARED),
    // dirty log
    C(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE), C(KVM_DIRTY_LOG_INITIALLY_SET),
    // quirks
    C(KVM_X86_QUIRK_SLOT_ZAP_ALL),
    // VM types
    C(KVM_X86_DEFAULT_VM), C(KVM_X86_SW_PROTECTED_VM), C(KVM_X86_SEV_VM), C(KVM_X86_SEV_ES_VM),
    C(KVM_X86_SNP_VM), C(KVM_X86_TDX_VM),
    // capabilities
    C(KVM_CAP_USER_MEMORY), C(KVM_CAP_NR_MEMSLOTS), C(KVM_CAP_SYNC_MMU), C(KVM_CAP_READONLY_MEM),
    C(KVM_CAP_MULTI_ADDRESS_SPACE), C(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2), C(KVM_CAP_DIRTY_LOG_RING),
    C(KVM_CAP_BINARY_STATS_FD), C(KVM_CAP_DISABLE_QUIRKS2), C(KVM_CAP_VM_DISABLE_NX_HUGE_PAGES),
    C(KVM_CAP_DIRTY_LOG_RING_ACQ_REL), C(KVM_CAP_USER_MEMORY2), C(KVM_CAP_MEMORY_FAULT_INFO),
    C(KVM_CAP_MEMORY_ATTRIBUTES), C(KVM_CAP_GUEST_MEMFD), C(KVM_CAP_VM_TYPES), C(KVM_CAP_PRE_FAULT_MEMORY),
    C(KVM_CAP_GUEST_MEMFD_FLAGS),
    // KVM_MAP_MEMORY flags (proposal, RFC v1)
    C(KVM_MEMORY_MAPPING_FLAG_WRITE), C(KVM_MEMORY_MAPPING_FLAG_EXEC), C(KVM_MEMORY_MAPPING_FLAG_USER),
    C(KVM_MEMORY_MAPPING_FLAG_PRIVATE),
    // KVM_SET_MEMORY_ATTRIBUTES2 content modes (proposal, RFC v5 of the in-place conversion series)
    C(KVM_SET_MEMORY_ATTRIBUTES2_ZERO), C(KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE),
    // limits
    C(KVM_MEM_SLOTS_NUM), C(KVM_INTERNAL_MEM_SLOTS), C(KVM_USER_MEM_SLOTS), C(KVM_MEM_MAX_NR_PAGES),
    C(KVM_MAX_NR_ADDRESS_SPACES), C(KVM_API_VERSION),
    // host-side
    C(MFD_CLOEXEC), C(MFD_ALLOW_SEALING), C(MFD_INACCESSIBLE),
    C(FALLOC_FL_KEEP_SIZE), C(FALLOC_FL_PUNCH_HOLE), C(FALLOC_FL_COLLAPSE_RANGE), C(FALLOC_FL_ZERO_RANGE),
    C(MADV_DONTNEED), C(MADV_HUGEPAGE), C(MADV_NOHUGEPAGE), C(MADV_DONTFORK), C(MADV_DOFORK),
    C(MADV_MERGEABLE), C(MADV_UNMERGEABLE), C(MADV_DONTDUMP), C(MADV_DODUMP),
    C(PROT_NONE), C(PROT_READ), C(PROT_WRITE), C(PROT_EXEC), C(MAP_SHARED), C(MAP_PRIVATE),
    C(MAP_FIXED), C(MAP_ANONYMOUS), C(MAP_NORESERVE), C(MAP_FIXED_NOREPLACE),
};
#undef C

// Every KVM_CAP_* of Linux 7.3.4's include/uapi/linux/kvm.h (0..251; 5, 17, 19, 20, 27 and 28 have no name
// there), so that a probe of every capability reads and prints by name. Names kConstants
// already holds (from model/uapi.h) keep their entry there; the values are the same.
const Constant kUpstreamCaps[] = {
    {"KVM_CAP_IRQCHIP", 0}, {"KVM_CAP_HLT", 1}, {"KVM_CAP_MMU_SHADOW_CACHE_CONTROL", 2}, {"KVM_CAP_USER_MEMORY", 3},
    {"KVM_CAP_SET_TSS_ADDR", 4}, {"KVM_CAP_VAPIC", 6}, {"KVM_CAP_EXT_CPUID", 7}, {"KVM_CAP_CLOCKSOURCE", 8},
    {"KVM_CAP_NR_VCPUS", 9}, {"KVM_CAP_NR_MEMSLOTS", 10}, {"KVM_CAP_PIT", 11}, {"KVM_CAP_NOP_IO_DELAY", 12},
    {"KVM_CAP_PV_MMU", 13}, {"KVM_CAP_MP_STATE", 14}, {"KVM_CAP_COALESCED_MMIO", 15}, {"KVM_CAP_SYNC_MMU", 16},
    {"KVM_CAP_IOMMU", 18}, {"KVM_CAP_DESTROY_MEMORY_REGION_WORKS", 21}, {"KVM_CAP_USER_NMI", 22}, {"KVM_CAP_SET_GUEST_DEBUG", 23},
    {"KVM_CAP_REINJECT_CONTROL", 24}, {"KVM_CAP_IRQ_ROUTING", 25}, {"KVM_CAP_IRQ_INJECT_STATUS", 26}, {"KVM_CAP_ASSIGN_DEV_IRQ", 29},
    {"KVM_CAP_JOIN_MEMORY_REGIONS_WORKS", 30}, {"KVM_CAP_MCE", 31}, {"KVM_CAP_IRQFD", 32}, {"KVM_CAP_PIT2", 33},
    {"KVM_CAP_SET_BOOT_CPU_ID", 34}, {"KVM_CAP_PIT_STATE2", 35}, {"KVM_CAP_IOEVENTFD", 36}, {"KVM_CAP_SET_IDENTITY_MAP_ADDR", 37},
    {"KVM_CAP_XEN_HVM", 38}, {"KVM_CAP_ADJUST_CLOCK", 39}, {"KVM_CAP_INTERNAL_ERROR_DATA", 40}, {"KVM_CAP_VCPU_EVENTS", 41},
    {"KVM_CAP_S390_PSW", 42}, {"KVM_CAP_PPC_SEGSTATE", 43}, {"KVM_CAP_HYPERV", 44}, {"KVM_CAP_HYPERV_VAPIC", 45},
    {"KVM_CAP_HYPERV_SPIN", 46}, {"KVM_CAP_PCI_SEGMENT", 47}, {"KVM_CAP_PPC_PAIRED_SINGLES", 48}, {"KVM_CAP_INTR_SHADOW", 49},
    {"KVM_CAP_DEBUGREGS", 50}, {"KVM_CAP_X86_ROBUST_SINGLESTEP", 51}, {"KVM_CAP_PPC_OSI", 52}, {"KVM_CAP_PPC_UNSET_IRQ", 53},
    {"KVM_CAP_ENABLE_CAP", 54}, {"KVM_CAP_XSAVE", 55}, {"KVM_CAP_XCRS", 56}, {"KVM_CAP_PPC_GET_PVINFO", 57},
    {"KVM_CAP_PPC_IRQ_LEVEL", 58}, {"KVM_CAP_ASYNC_PF", 59}, {"KVM_CAP_TSC_CONTROL", 60}, {"KVM_CAP_GET_TSC_KHZ", 61},
    {"KVM_CAP_PPC_BOOKE_SREGS", 62}, {"KVM_CAP_SPAPR_TCE", 63}, {"KVM_CAP_PPC_SMT", 64}, {"KVM_CAP_PPC_RMA", 65},
    {"KVM_CAP_MAX_VCPUS", 66}, {"KVM_CAP_PPC_HIOR", 67}, {"KVM_CAP_PPC_PAPR", 68}, {"KVM_CAP_SW_TLB", 69},
    {"KVM_CAP_ONE_REG", 70}, {"KVM_CAP_S390_GMAP", 71}, {"KVM_CAP_TSC_DEADLINE_TIMER", 72}, {"KVM_CAP_S390_UCONTROL", 73},
    {"KVM_CAP_SYNC_REGS", 74}, {"KVM_CAP_PCI_2_3", 75}, {"KVM_CAP_KVMCLOCK_CTRL", 76}, {"KVM_CAP_SIGNAL_MSI", 77},
    {"KVM_CAP_PPC_GET_SMMU_INFO", 78}, {"KVM_CAP_S390_COW", 79}, {"KVM_CAP_PPC_ALLOC_HTAB", 80}, {"KVM_CAP_READONLY_MEM", 81},
    {"KVM_CAP_IRQFD_RESAMPLE", 82}, {"KVM_CAP_PPC_BOOKE_WATCHDOG", 83}, {"KVM_CAP_PPC_HTAB_FD", 84}, {"KVM_CAP_S390_CSS_SUPPORT", 85},
    {"KVM_CAP_PPC_EPR", 86}, {"KVM_CAP_ARM_PSCI", 87}, {"KVM_CAP_ARM_SET_DEVICE_ADDR", 88}, {"KVM_CAP_DEVICE_CTRL", 89},
    {"KVM_CAP_IRQ_MPIC", 90}, {"KVM_CAP_PPC_RTAS", 91}, {"KVM_CAP_IRQ_XICS", 92}, {"KVM_CAP_ARM_EL1_32BIT", 93},
    {"KVM_CAP_SPAPR_MULTITCE", 94}, {"KVM_CAP_EXT_EMUL_CPUID", 95}, {"KVM_CAP_HYPERV_TIME", 96}, {"KVM_CAP_IOAPIC_POLARITY_IGNORED", 97},
    {"KVM_CAP_ENABLE_CAP_VM", 98}, {"KVM_CAP_S390_IRQCHIP", 99}, {"KVM_CAP_IOEVENTFD_NO_LENGTH", 100}, {"KVM_CAP_VM_ATTRIBUTES", 101},
    {"KVM_CAP_ARM_PSCI_0_2", 102}, {"KVM_CAP_PPC_FIXUP_HCALL", 103}, {"KVM_CAP_PPC_ENABLE_HCALL", 104}, {"KVM_CAP_CHECK_EXTENSION_VM", 105},
    {"KVM_CAP_S390_USER_SIGP", 106}, {"KVM_CAP_S390_VECTOR_REGISTERS", 107}, {"KVM_CAP_S390_MEM_OP", 108}, {"KVM_CAP_S390_USER_STSI", 109},
    {"KVM_CAP_S390_SKEYS", 110}, {"KVM_CAP_MIPS_FPU", 111}, {"KVM_CAP_MIPS_MSA", 112}, {"KVM_CAP_S390_INJECT_IRQ", 113},
    {"KVM_CAP_S390_IRQ_STATE", 114}, {"KVM_CAP_PPC_HWRNG", 115}, {"KVM_CAP_DISABLE_QUIRKS", 116}, {"KVM_CAP_X86_SMM", 117},
    {"KVM_CAP_MULTI_ADDRESS_SPACE", 118}, {"KVM_CAP_GUEST_DEBUG_HW_BPS", 119}, {"KVM_CAP_GUEST_DEBUG_HW_WPS", 120}, {"KVM_CAP_SPLIT_IRQCHIP", 121},
    {"KVM_CAP_IOEVENTFD_ANY_LENGTH", 122}, {"KVM_CAP_HYPERV_SYNIC", 123}, {"KVM_CAP_S390_RI", 124}, {"KVM_CAP_SPAPR_TCE_64", 125},
    {"KVM_CAP_ARM_PMU_V3", 126}, {"KVM_CAP_VCPU_ATTRIBUTES", 127}, {"KVM_CAP_MAX_VCPU_ID", 128}, {"KVM_CAP_X2APIC_API", 129},
    {"KVM_CAP_S390_USER_INSTR0", 130}, {"KVM_CAP_MSI_DEVID", 131}, {"KVM_CAP_PPC_HTM", 132}, {"KVM_CAP_SPAPR_RESIZE_HPT", 133},
    {"KVM_CAP_PPC_MMU_RADIX", 134}, {"KVM_CAP_PPC_MMU_HASH_V3", 135}, {"KVM_CAP_IMMEDIATE_EXIT", 136}, {"KVM_CAP_MIPS_VZ", 137},
    {"KVM_CAP_MIPS_TE", 138}, {"KVM_CAP_MIPS_64BIT", 139}, {"KVM_CAP_S390_GS", 140}, {"KVM_CAP_S390_AIS", 141},
    {"KVM_CAP_SPAPR_TCE_VFIO", 142}, {"KVM_CAP_X86_DISABLE_EXITS", 143}, {"KVM_CAP_ARM_USER_IRQ", 144}, {"KVM_CAP_S390_CMMA_MIGRATION", 145},
    {"KVM_CAP_PPC_FWNMI", 146}, {"KVM_CAP_PPC_SMT_POSSIBLE", 147}, {"KVM_CAP_HYPERV_SYNIC2", 148}, {"KVM_CAP_HYPERV_VP_INDEX", 149},
    {"KVM_CAP_S390_AIS_MIGRATION", 150}, {"KVM_CAP_PPC_GET_CPU_CHAR", 151}, {"KVM_CAP_S390_BPB", 152}, {"KVM_CAP_GET_MSR_FEATURES", 153},
    {"KVM_CAP_HYPERV_EVENTFD", 154}, {"KVM_CAP_HYPERV_TLBFLUSH", 155}, {"KVM_CAP_S390_HPAGE_1M", 156}, {"KVM_CAP_NESTED_STATE", 157},
    {"KVM_CAP_ARM_INJECT_SERROR_ESR", 158}, {"KVM_CAP_MSR_PLATFORM_INFO", 159}, {"KVM_CAP_PPC_NESTED_HV", 160}, {"KVM_CAP_HYPERV_SEND_IPI", 161},
    {"KVM_CAP_COALESCED_PIO", 162}, {"KVM_CAP_HYPERV_ENLIGHTENED_VMCS", 163}, {"KVM_CAP_EXCEPTION_PAYLOAD", 164}, {"KVM_CAP_ARM_VM_IPA_SIZE", 165},
    {"KVM_CAP_MANUAL_DIRTY_LOG_PROTECT", 166}, {"KVM_CAP_HYPERV_CPUID", 167}, {"KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2", 168}, {"KVM_CAP_PPC_IRQ_XIVE", 169},
    {"KVM_CAP_ARM_SVE", 170}, {"KVM_CAP_ARM_PTRAUTH_ADDRESS", 171}, {"KVM_CAP_ARM_PTRAUTH_GENERIC", 172}, {"KVM_CAP_PMU_EVENT_FILTER", 173},
    {"KVM_CAP_ARM_IRQ_LINE_LAYOUT_2", 174}, {"KVM_CAP_HYPERV_DIRECT_TLBFLUSH", 175}, {"KVM_CAP_PPC_GUEST_DEBUG_SSTEP", 176}, {"KVM_CAP_ARM_NISV_TO_USER", 177},
    {"KVM_CAP_ARM_INJECT_EXT_DABT", 178}, {"KVM_CAP_S390_VCPU_RESETS", 179}, {"KVM_CAP_S390_PROTECTED", 180}, {"KVM_CAP_PPC_SECURE_GUEST", 181},
    {"KVM_CAP_HALT_POLL", 182}, {"KVM_CAP_ASYNC_PF_INT", 183}, {"KVM_CAP_LAST_CPU", 184}, {"KVM_CAP_SMALLER_MAXPHYADDR", 185},
    {"KVM_CAP_S390_DIAG318", 186}, {"KVM_CAP_STEAL_TIME", 187}, {"KVM_CAP_X86_USER_SPACE_MSR", 188}, {"KVM_CAP_X86_MSR_FILTER", 189},
    {"KVM_CAP_ENFORCE_PV_FEATURE_CPUID", 190}, {"KVM_CAP_SYS_HYPERV_CPUID", 191}, {"KVM_CAP_DIRTY_LOG_RING", 192}, {"KVM_CAP_X86_BUS_LOCK_EXIT", 193},
    {"KVM_CAP_PPC_DAWR1", 194}, {"KVM_CAP_SET_GUEST_DEBUG2", 195}, {"KVM_CAP_SGX_ATTRIBUTE", 196}, {"KVM_CAP_VM_COPY_ENC_CONTEXT_FROM", 197},
    {"KVM_CAP_PTP_KVM", 198}, {"KVM_CAP_HYPERV_ENFORCE_CPUID", 199}, {"KVM_CAP_SREGS2", 200}, {"KVM_CAP_EXIT_HYPERCALL", 201},
    {"KVM_CAP_PPC_RPT_INVALIDATE", 202}, {"KVM_CAP_BINARY_STATS_FD", 203}, {"KVM_CAP_EXIT_ON_EMULATION_FAILURE", 204}, {"KVM_CAP_ARM_MTE", 205},
    {"KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM", 206}, {"KVM_CAP_VM_GPA_BITS", 207}, {"KVM_CAP_XSAVE2", 208}, {"KVM_CAP_SYS_ATTRIBUTES", 209},
    {"KVM_CAP_PPC_AIL_MODE_3", 210}, {"KVM_CAP_S390_MEM_OP_EXTENSION", 211}, {"KVM_CAP_PMU_CAPABILITY", 212}, {"KVM_CAP_DISABLE_QUIRKS2", 213},
    {"KVM_CAP_VM_TSC_CONTROL", 214}, {"KVM_CAP_SYSTEM_EVENT_DATA", 215}, {"KVM_CAP_ARM_SYSTEM_SUSPEND", 216}, {"KVM_CAP_S390_PROTECTED_DUMP", 217},
    {"KVM_CAP_X86_TRIPLE_FAULT_EVENT", 218}, {"KVM_CAP_X86_NOTIFY_VMEXIT", 219}, {"KVM_CAP_VM_DISABLE_NX_HUGE_PAGES", 220}, {"KVM_CAP_S390_ZPCI_OP", 221},
    {"KVM_CAP_S390_CPU_TOPOLOGY", 222}, {"KVM_CAP_DIRTY_LOG_RING_ACQ_REL", 223}, {"KVM_CAP_S390_PROTECTED_ASYNC_DISABLE", 224}, {"KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP", 225},
    {"KVM_CAP_PMU_EVENT_MASKED_EVENTS", 226}, {"KVM_CAP_COUNTER_OFFSET", 227}, {"KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE", 228}, {"KVM_CAP_ARM_SUPPORTED_BLOCK_SIZES", 229},
    {"KVM_CAP_ARM_SUPPORTED_REG_MASK_RANGES", 230}, {"KVM_CAP_USER_MEMORY2", 231}, {"KVM_CAP_MEMORY_FAULT_INFO", 232}, {"KVM_CAP_MEMORY_ATTRIBUTES", 233},
    {"KVM_CAP_GUEST_MEMFD", 234}, {"KVM_CAP_VM_TYPES", 235}, {"KVM_CAP_PRE_FAULT_MEMORY", 236}, {"KVM_CAP_X86_APIC_BUS_CYCLES_NS", 237},
    {"KVM_CAP_X86_GUEST_MODE", 238}, {"KVM_CAP_ARM_WRITABLE_IMP_ID_REGS", 239}, {"KVM_CAP_ARM_EL2", 240}, {"KVM_CAP_ARM_EL2_E2H0", 241},
    {"KVM_CAP_RISCV_MP_STATE_RESET", 242}, {"KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED", 243}, {"KVM_CAP_GUEST_MEMFD_FLAGS", 244}, {"KVM_CAP_ARM_SEA_TO_USER", 245},
    {"KVM_CAP_S390_USER_OPEREXEC", 246}, {"KVM_CAP_S390_KEYOP", 247}, {"KVM_CAP_S390_VSIE_ESAMODE", 248}, {"KVM_CAP_S390_HPAGE_2G", 249},
    {"KVM_CAP_PPC_COMPAT_CAPS", 250}, {"KVM_CAP_ARM_PMU_V3_STRICT", 251}
};

// kvmsim's proposed uAPI (docs/semantics/gmem-conversion.md §1). Its number 250 (v8 of the in-place conversion
// series) is KVM_CAP_PPC_COMPAT_CAPS in Linux 7.3's kvm.h; it comes after the upstream names so a printed 250
// reads as upstream's.
const Constant kProposalCaps[] = {
    {"KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES", static_cast<u64>(u::KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES)},
    {"KVM_CAP_MAP_MEMORY", static_cast<u64>(u::KVM_CAP_MAP_MEMORY)},  // RFC v1; upstream's 236 is PRE_FAULT_MEMORY
};

const std::vector<Constant>& all_constants() {
  static const std::vector<Constant> all = [] {
    std::vector<Constant> v = kConstants;
    auto add = [&v](const Constant& c) {
      for (const Constant& have : v)
        if (std::string_view(have.name) == c.name) return;
      v.push_back(c);
    };
    for (const Constant& c : kUpstreamCaps) add(c);
    for (const Constant& c : kProposalCaps) add(c);
    return v;
  }();
  return all;
}

struct Errno {
  const char* name;
  int value;
};
// Linux x86-64: asm-generic/errno-base.h, asm-generic/errno.h, then the kernel-internal codes
// (include/linux/errno.h) that can leak to userspace through buggy paths. Aliases come after
// their primary name so value->name finds the primary one.
const Errno kErrnos[] = {
    {"EPERM", 1}, {"ENOENT", 2}, {"ESRCH", 3}, {"EINTR", 4}, {"EIO", 5}, {"ENXIO", 6}, {"E2BIG", 7},
    {"ENOEXEC", 8}, {"EBADF", 9}, {"ECHILD", 10}, {"EAGAIN", 11}, {"ENOMEM", 12}, {"EACCES", 13},
    {"EFAULT", 14}, {"ENOTBLK", 15}, {"EBUSY", 16}, {"EEXIST", 17}, {"EXDEV", 18}, {"ENODEV", 19},
    {"ENOTDIR", 20}, {"EISDIR", 21}, {"EINVAL", 22}, {"ENFILE", 23}, {"EMFILE", 24}, {"ENOTTY", 25},
    {"ETXTBSY", 26}, {"EFBIG", 27}, {"ENOSPC", 28}, {"ESPIPE", 29}, {"EROFS", 30}, {"EMLINK", 31},
    {"EPIPE", 32}, {"EDOM", 33}, {"ERANGE", 34}, {"EDEADLK", 35}, {"ENAMETOOLONG", 36}, {"ENOLCK", 37},
    {"ENOSYS", 38}, {"ENOTEMPTY", 39}, {"ELOOP", 40}, {"ENOMSG", 42}, {"EIDRM", 43}, {"ECHRNG", 44},
    {"EL2NSYNC", 45}, {"EL3HLT", 46}, {"EL3RST", 47}, {"ELNRNG", 48}, {"EUNATCH", 49}, {"ENOCSI", 50},
    {"EL2HLT", 51}, {"EBADE", 52}, {"EBADR", 53}, {"EXFULL", 54}, {"ENOANO", 55}, {"EBADRQC", 56},
    {"EBADSLT", 57}, {"EBFONT", 59}, {"ENOSTR", 60}, {"ENODATA", 61}, {"ETIME", 62}, {"ENOSR", 63},
    {"ENONET", 64}, {"ENOPKG", 65}, {"EREMOTE", 66}, {"ENOLINK", 67}, {"EADV", 68}, {"ESRMNT", 69},
    {"ECOMM", 70}, {"EPROTO", 71}, {"EMULTIHOP", 72}, {"EDOTDOT", 73}, {"EBADMSG", 74}, {"EOVERFLOW", 75},
    {"ENOTUNIQ", 76}, {"EBADFD", 77}, {"EREMCHG", 78}, {"ELIBACC", 79}, {"ELIBBAD", 80}, {"ELIBSCN", 81},
    {"ELIBMAX", 82}, {"ELIBEXEC", 83}, {"EILSEQ", 84}, {"ERESTART", 85}, {"ESTRPIPE", 86}, {"EUSERS", 87},
    {"ENOTSOCK", 88}, {"EDESTADDRREQ", 89}, {"EMSGSIZE", 90}, {"EPROTOTYPE", 91}, {"ENOPROTOOPT", 92},
    {"EPROTONOSUPPORT", 93}, {"ESOCKTNOSUPPORT", 94}, {"EOPNOTSUPP", 95}, {"EPFNOSUPPORT", 96},
    {"EAFNOSUPPORT", 97}, {"EADDRINUSE", 98}, {"EADDRNOTAVAIL", 99}, {"ENETDOWN", 100}, {"ENETUNREACH", 101},
    {"ENETRESET", 102}, {"ECONNABORTED", 103}, {"ECONNRESET", 104}, {"ENOBUFS", 105}, {"EISCONN", 106},
    {"ENOTCONN", 107}, {"ESHUTDOWN", 108}, {"ETOOMANYREFS", 109}, {"ETIMEDOUT", 110}, {"ECONNREFUSED", 111},
    {"EHOSTDOWN", 112}, {"EHOSTUNREACH", 113}, {"EALREADY", 114}, {"EINPROGRESS", 115}, {"ESTALE", 116},
    {"EUCLEAN", 117}, {"ENOTNAM", 118}, {"ENAVAIL", 119}, {"EISNAM", 120}, {"EREMOTEIO", 121},
    {"EDQUOT", 122}, {"ENOMEDIUM", 123}, {"EMEDIUMTYPE", 124}, {"ECANCELED", 125}, {"ENOKEY", 126},
    {"EKEYEXPIRED", 127}, {"EKEYREVOKED", 128}, {"EKEYREJECTED", 129}, {"EOWNERDEAD", 130},
    {"ENOTRECOVERABLE", 131}, {"ERFKILL", 132}, {"EHWPOISON", 133},
    // kernel-internal (include/linux/errno.h)
    {"ERESTARTSYS", 512}, {"ERESTARTNOINTR", 513}, {"ERESTARTNOHAND", 514}, {"ENOIOCTLCMD", 515},
    {"ERESTART_RESTARTBLOCK", 516}, {"EPROBE_DEFER", 517}, {"EOPENSTALE", 518}, {"ENOPARAM", 519},
    {"EBADHANDLE", 521}, {"ENOTSYNC", 522}, {"EBADCOOKIE", 523}, {"ENOTSUPP", 524}, {"ETOOSMALL", 525},
    {"ESERVERFAULT", 526}, {"EBADTYPE", 527}, {"EJUKEBOX", 528}, {"EIOCBQUEUED", 529}, {"ERECALLCONFLICT", 530},
    {"ENOGRACE", 531},
    // aliases
    {"EWOULDBLOCK", 11}, {"EDEADLOCK", 35}, {"ENOTSUP", 95},
};
}  // namespace

const std::vector<Constant>& constants() { return all_constants(); }

// Name lookups run for every identifier a trace uses: hashed once, over the static names (the
// first entry of a name wins, as a scan in table order would).
std::optional<u64> constant_value(std::string_view name) {
  static const std::unordered_map<std::string_view, u64> by_name = [] {
    std::unordered_map<std::string_view, u64> m;
    for (const auto& c : all_constants()) m.emplace(c.name, c.value);
    return m;
  }();
  auto it = by_name.find(name);
  if (it != by_name.end()) return it->second;
  return ioctl_request_value(name);  // KVM ioctl request names (the recorded-only `ioctl` statement)
}

std::optional<int> errno_value(std::string_view name) {
  static const std::unordered_map<std::string_view, int> by_name = [] {
    std::unordered_map<std::string_view, int> m;
    for (const auto& e : kErrnos) m.emplace(e.name, e.value);
    return m;
  }();
  auto it = by_name.find(name);
  return it == by_name.end() ? std::nullopt : std::optional<int>(it->second);
}

const char* errno_name(int err) {
  for (const auto& e : kErrnos)
    if (e.value == err) return e.name;
  return nullptr;
}

std::vector<Constant> flag_family(std::string_view prefix) {
  std::vector<Constant> out;
  for (const auto& c : all_constants()) {
    std::string_view n(c.name);
    if (n.substr(0, prefix.size()) == prefix && c.value != 0 && (c.value & (c.value - 1)) == 0) out.push_back(c);
  }
  return out;
}

}  // namespace kvmsim::trace
