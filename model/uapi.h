// Our own mirror of the KVM memory uAPI (linux/kvm.h, asm/kvm.h) as of Linux 6.18, plus the
// in-flight proposals kvmsim models. /usr/include on the build machines is 6.1, so nothing here
// may come from system headers. Every struct's size and field offsets are pinned with
// static_asserts against docs/semantics/uapi.md §2; ioctl numbers are computed with the kernel's
// _IOC encoding and checked against the literal values in docs/semantics/uapi.md §1.
// Invariant: layouts equal the kernel's (the static_asserts fail the build otherwise); nothing
// here has behaviour.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvmsim::uapi {

using u8 = std::uint8_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;

// ---- ioctl encoding (asm-generic/ioctl.h) ----
constexpr u32 kIocNone = 0, kIocWrite = 1, kIocRead = 2;
constexpr u32 ioc(u32 dir, u32 nr, u32 size) { return dir << 30 | size << 16 | 0xAEu << 8 | nr; }
constexpr u32 io(u32 nr) { return ioc(kIocNone, nr, 0); }
constexpr u32 iow(u32 nr, u32 size) { return ioc(kIocWrite, nr, size); }
constexpr u32 iowr(u32 nr, u32 size) { return ioc(kIocRead | kIocWrite, nr, size); }

// ---- structs (docs/semantics/uapi.md §2) ----
struct kvm_userspace_memory_region {
  u32 slot;
  u32 flags;
  u64 guest_phys_addr;
  u64 memory_size;
  u64 userspace_addr;
};

// Proposal "KVM: mm: fd-based approach for supporting KVM guest private memory" v5 (2022-03), patch 05/13:
// struct kvm_userspace_memory_region_ext { struct kvm_userspace_memory_region region; __u64 private_offset;
// __u32 private_fd; __u32 padding[5]; }, flattened here so the trace schema can name every field.
// KVM_SET_USER_MEMORY_REGION copies the tail only when flags has KVM_MEM_PRIVATE (patch 06/13).
struct kvm_userspace_memory_region_ext {
  u32 slot;
  u32 flags;
  u64 guest_phys_addr;
  u64 memory_size;
  u64 userspace_addr;
  u64 private_offset;
  u32 private_fd;
  u32 padding[5];
};

struct kvm_userspace_memory_region2 {
  u32 slot;
  u32 flags;
  u64 guest_phys_addr;
  u64 memory_size;
  u64 userspace_addr;
  u64 guest_memfd_offset;
  u32 guest_memfd;
  u32 pad1;
  u64 pad2[14];
};

struct kvm_memory_attributes {
  u64 address;
  u64 size;
  u64 attributes;
  u64 flags;
};

// Proposed guest_memfd ioctl (docs/semantics/gmem-conversion.md §1, series v5-v8, not merged).
struct kvm_memory_attributes2 {
  u64 offset;  // union { address, offset }
  u64 size;
  u64 attributes;
  u64 flags;
  u64 error_offset;
  u64 reserved[11];
};

// Proposal: [PATCH 2/4] KVM: add KVM_GUEST_MEMFD_POPULATE ioctl for guest_memfd, 2024-10 (Firecracker RFC,
// docs/semantics/gmem-populate.md). Never merged.
struct kvm_guest_memfd_populate {
  u64 gpa;
  u64 size;
  u64 from;  // void __user *
  u64 flags;
};

struct kvm_create_guest_memfd {
  u64 size;
  u64 flags;
  u64 reserved[6];
};

struct kvm_pre_fault_memory {
  u64 gpa;
  u64 size;
  u64 flags;
  u64 padding[5];
};

// Proposal: [RFC PATCH 2/8] KVM: Add KVM_MAP_MEMORY vcpu ioctl to pre-populate guest memory,
// 2024-03 (docs/semantics/proposals.md §1). Never merged; KVM_PRE_FAULT_MEMORY replaced it.
struct kvm_memory_mapping {
  u64 base_gfn;
  u64 nr_pages;
  u64 flags;
  u64 source;
};

struct kvm_dirty_log {
  u32 slot;
  u32 padding1;
  u64 dirty_bitmap;  // user pointer
};

struct kvm_clear_dirty_log {
  u32 slot;
  u32 num_pages;
  u64 first_page;
  u64 dirty_bitmap;  // user pointer
};

struct kvm_enable_cap {
  u32 cap;
  u32 flags;
  u64 args[4];
  u8 pad[64];
};

struct kvm_memory_fault {  // kvm_run.memory_fault
  u64 flags;
  u64 gpa;
  u64 size;
};

struct kvm_dirty_gfn {
  u32 flags;
  u32 slot;
  u64 offset;
};

static_assert(sizeof(kvm_userspace_memory_region) == 32);
static_assert(sizeof(kvm_userspace_memory_region_ext) == 64);
static_assert(offsetof(kvm_userspace_memory_region_ext, userspace_addr) == 24);
static_assert(offsetof(kvm_userspace_memory_region_ext, private_offset) == 32);
static_assert(offsetof(kvm_userspace_memory_region_ext, private_fd) == 40);
static_assert(offsetof(kvm_userspace_memory_region, slot) == 0);
static_assert(offsetof(kvm_userspace_memory_region, flags) == 4);
static_assert(offsetof(kvm_userspace_memory_region, guest_phys_addr) == 8);
static_assert(offsetof(kvm_userspace_memory_region, memory_size) == 16);
static_assert(offsetof(kvm_userspace_memory_region, userspace_addr) == 24);
static_assert(sizeof(kvm_userspace_memory_region2) == 160);
static_assert(offsetof(kvm_userspace_memory_region2, slot) == 0);
static_assert(offsetof(kvm_userspace_memory_region2, flags) == 4);
static_assert(offsetof(kvm_userspace_memory_region2, guest_phys_addr) == 8);
static_assert(offsetof(kvm_userspace_memory_region2, memory_size) == 16);
static_assert(offsetof(kvm_userspace_memory_region2, userspace_addr) == 24);
static_assert(offsetof(kvm_userspace_memory_region2, guest_memfd_offset) == 32);
static_assert(offsetof(kvm_userspace_memory_region2, guest_memfd) == 40);
static_assert(offsetof(kvm_userspace_memory_region2, pad1) == 44);
static_assert(offsetof(kvm_userspace_memory_region2, pad2) == 48);
static_assert(sizeof(kvm_memory_attributes) == 32);
static_assert(offsetof(kvm_memory_attributes, address) == 0);
static_assert(offsetof(kvm_memory_attributes, size) == 8);
static_assert(offsetof(kvm_memory_attributes, attributes) == 16);
static_assert(offsetof(kvm_memory_attributes, flags) == 24);
static_assert(sizeof(kvm_memory_attributes2) == 128);
static_assert(offsetof(kvm_memory_attributes2, error_offset) == 32);
static_assert(offsetof(kvm_memory_attributes2, reserved) == 40);
static_assert(sizeof(kvm_create_guest_memfd) == 64);
static_assert(offsetof(kvm_create_guest_memfd, size) == 0);
static_assert(offsetof(kvm_create_guest_memfd, flags) == 8);
static_assert(offsetof(kvm_create_guest_memfd, reserved) == 16);
static_assert(sizeof(kvm_pre_fault_memory) == 64);
static_assert(offsetof(kvm_pre_fault_memory, gpa) == 0);
static_assert(offsetof(kvm_pre_fault_memory, size) == 8);
static_assert(offsetof(kvm_pre_fault_memory, flags) == 16);
static_assert(offsetof(kvm_pre_fault_memory, padding) == 24);
static_assert(sizeof(kvm_dirty_log) == 16);
static_assert(offsetof(kvm_dirty_log, dirty_bitmap) == 8);
static_assert(sizeof(kvm_clear_dirty_log) == 24);
static_assert(offsetof(kvm_clear_dirty_log, num_pages) == 4);
static_assert(offsetof(kvm_clear_dirty_log, first_page) == 8);
static_assert(offsetof(kvm_clear_dirty_log, dirty_bitmap) == 16);
static_assert(sizeof(kvm_enable_cap) == 104);
static_assert(offsetof(kvm_enable_cap, args) == 8);
static_assert(offsetof(kvm_enable_cap, pad) == 40);
static_assert(sizeof(kvm_memory_fault) == 24);
static_assert(sizeof(kvm_dirty_gfn) == 16);

// ---- ioctl numbers (docs/semantics/uapi.md §1) ----
constexpr u32 KVM_GET_API_VERSION = io(0x00);
constexpr u32 KVM_CREATE_VM = io(0x01);
constexpr u32 KVM_CHECK_EXTENSION = io(0x03);
constexpr u32 KVM_GET_VCPU_MMAP_SIZE = io(0x04);
constexpr u32 KVM_CREATE_VCPU = io(0x41);
constexpr u32 KVM_GET_DIRTY_LOG = iow(0x42, sizeof(kvm_dirty_log));
constexpr u32 KVM_SET_USER_MEMORY_REGION = iow(0x46, sizeof(kvm_userspace_memory_region));
constexpr u32 KVM_SET_USER_MEMORY_REGION2 = iow(0x49, sizeof(kvm_userspace_memory_region2));
constexpr u32 KVM_RUN = io(0x80);
constexpr u32 KVM_ENABLE_CAP = iow(0xA3, sizeof(kvm_enable_cap));
constexpr u32 KVM_CLEAR_DIRTY_LOG = iowr(0xC0, sizeof(kvm_clear_dirty_log));
constexpr u32 KVM_RESET_DIRTY_RINGS = io(0xC7);
constexpr u32 KVM_GET_STATS_FD = io(0xCE);
constexpr u32 KVM_SET_MEMORY_ATTRIBUTES = iow(0xD2, sizeof(kvm_memory_attributes));
constexpr u32 KVM_CREATE_GUEST_MEMFD = iowr(0xD4, sizeof(kvm_create_guest_memfd));
constexpr u32 KVM_PRE_FAULT_MEMORY = iowr(0xD5, sizeof(kvm_pre_fault_memory));
constexpr u32 KVM_SET_MEMORY_ATTRIBUTES2 = iowr(0xD2, sizeof(kvm_memory_attributes2));  // proposal
constexpr u32 KVM_MAP_MEMORY = iowr(0xD5, sizeof(kvm_memory_mapping));  // proposal (RFC v1)
constexpr u32 KVM_GUEST_MEMFD_POPULATE = iow(0xD6, sizeof(kvm_guest_memfd_populate));  // proposal (RFC, 2024-10)

static_assert(KVM_CREATE_VM == 0xAE01);
static_assert(KVM_CHECK_EXTENSION == 0xAE03);
static_assert(KVM_CREATE_VCPU == 0xAE41);
static_assert(KVM_GET_DIRTY_LOG == 0x4010AE42);
static_assert(KVM_SET_USER_MEMORY_REGION == 0x4020AE46);
static_assert(KVM_SET_USER_MEMORY_REGION2 == 0x40A0AE49);
static_assert(KVM_RUN == 0xAE80);
static_assert(KVM_ENABLE_CAP == 0x4068AEA3);
static_assert(KVM_CLEAR_DIRTY_LOG == 0xC018AEC0);
static_assert(KVM_RESET_DIRTY_RINGS == 0xAEC7);
static_assert(KVM_GET_STATS_FD == 0xAECE);
static_assert(KVM_SET_MEMORY_ATTRIBUTES == 0x4020AED2);
static_assert(KVM_CREATE_GUEST_MEMFD == 0xC040AED4);
static_assert(KVM_PRE_FAULT_MEMORY == 0xC040AED5);
static_assert(KVM_SET_MEMORY_ATTRIBUTES2 == 0xC080AED2);
static_assert(KVM_MAP_MEMORY == 0xC020AED5);
static_assert(sizeof(kvm_memory_mapping) == 32);
static_assert(sizeof(kvm_guest_memfd_populate) == 32);
static_assert(offsetof(kvm_guest_memfd_populate, from) == 16);
static_assert(KVM_GUEST_MEMFD_POPULATE == 0x4020AED6);

// kvm_memory_mapping::flags (RFC v1; the fault's error code bits, plus PRIVATE).
constexpr u64 KVM_MEMORY_MAPPING_FLAG_WRITE = 1ull << 0;
constexpr u64 KVM_MEMORY_MAPPING_FLAG_EXEC = 1ull << 1;
constexpr u64 KVM_MEMORY_MAPPING_FLAG_USER = 1ull << 2;
constexpr u64 KVM_MEMORY_MAPPING_FLAG_PRIVATE = 1ull << 3;

constexpr int KVM_API_VERSION = 12;

// ---- memslot flags (docs/semantics/uapi.md §3) ----
constexpr u32 KVM_MEM_LOG_DIRTY_PAGES = 1u << 0;
constexpr u32 KVM_MEM_READONLY = 1u << 1;
constexpr u32 KVM_MEM_GUEST_MEMFD = 1u << 2;
// The same bit, as the private-fd v5 proposal named it (docs/semantics/proposals.md §2): upstream
// later gave bit 2 to KVM_MEM_GUEST_MEMFD.
constexpr u32 KVM_MEM_PRIVATE = 1u << 2;

// ---- attributes, exits ----
constexpr u64 KVM_MEMORY_ATTRIBUTE_PRIVATE = 1ull << 3;
constexpr u64 KVM_MEMORY_EXIT_FLAG_PRIVATE = 1ull << 3;
constexpr u32 KVM_EXIT_IO = 2;
constexpr u32 KVM_EXIT_MMIO = 6;
constexpr u32 KVM_EXIT_SHUTDOWN = 8;
constexpr u32 KVM_EXIT_INTERNAL_ERROR = 17;
constexpr u32 KVM_EXIT_MEMORY_FAULT = 39;
// private-fd v5, patch 07/13: the exit a shared access to a page allocated in the private fd takes.
constexpr u32 KVM_EXIT_MEMORY_ERROR = 36;

// ---- guest_memfd flags ----
constexpr u64 GUEST_MEMFD_FLAG_MMAP = 1ull << 0;
constexpr u64 GUEST_MEMFD_FLAG_INIT_SHARED = 1ull << 1;

// ---- KVM_SET_MEMORY_ATTRIBUTES2 content modes (proposal, RFC v5; dropped from v8) ----
constexpr u64 KVM_SET_MEMORY_ATTRIBUTES2_ZERO = 1ull << 0;
constexpr u64 KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE = 1ull << 1;

// ---- dirty log ----
constexpr u64 KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE = 1ull << 0;
constexpr u64 KVM_DIRTY_LOG_INITIALLY_SET = 1ull << 1;

// ---- quirks ----
constexpr u64 KVM_X86_QUIRK_SLOT_ZAP_ALL = 1ull << 7;

// ---- x86 VM types (docs/semantics/vm-and-caps.md §2) ----
constexpr u64 KVM_X86_DEFAULT_VM = 0;
constexpr u64 KVM_X86_SW_PROTECTED_VM = 1;
constexpr u64 KVM_X86_SEV_VM = 2;
constexpr u64 KVM_X86_SEV_ES_VM = 3;
constexpr u64 KVM_X86_SNP_VM = 4;
constexpr u64 KVM_X86_TDX_VM = 5;

// ---- capabilities (docs/semantics/vm-and-caps.md §4) ----
constexpr u32 KVM_CAP_USER_MEMORY = 3;
constexpr u32 KVM_CAP_NR_MEMSLOTS = 10;
constexpr u32 KVM_CAP_SYNC_MMU = 16;
constexpr u32 KVM_CAP_READONLY_MEM = 81;
constexpr u32 KVM_CAP_MULTI_ADDRESS_SPACE = 118;
constexpr u32 KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 = 168;
constexpr u32 KVM_CAP_DIRTY_LOG_RING = 192;
constexpr u32 KVM_CAP_BINARY_STATS_FD = 203;
constexpr u32 KVM_CAP_DISABLE_QUIRKS2 = 213;
constexpr u32 KVM_CAP_VM_DISABLE_NX_HUGE_PAGES = 220;
constexpr u32 KVM_CAP_DIRTY_LOG_RING_ACQ_REL = 223;
constexpr u32 KVM_CAP_USER_MEMORY2 = 231;
constexpr u32 KVM_CAP_MEMORY_FAULT_INFO = 232;
constexpr u32 KVM_CAP_MEMORY_ATTRIBUTES = 233;
constexpr u32 KVM_CAP_GUEST_MEMFD = 234;
constexpr u32 KVM_CAP_VM_TYPES = 235;
constexpr u32 KVM_CAP_PRE_FAULT_MEMORY = 236;
constexpr u32 KVM_CAP_MAP_MEMORY = 236;  // proposal (RFC v1): the number upstream later gave PRE_FAULT_MEMORY
constexpr u32 KVM_CAP_GUEST_MEMFD_FLAGS = 244;
// Proposal: 249 in the in-place conversion series v7, 250 in v8 (which collides with another posting). The
// number a profile answers is Profile::gmem_conversion.cap_nr; this name is v8's.
constexpr u32 KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES = 250;

// ---- limits (docs/semantics/uapi.md §4) ----
constexpr u32 KVM_MEM_SLOTS_NUM = 32767;
constexpr u32 KVM_INTERNAL_MEM_SLOTS = 3;
constexpr u32 KVM_USER_MEM_SLOTS = KVM_MEM_SLOTS_NUM - KVM_INTERNAL_MEM_SLOTS;  // 32764
constexpr u64 KVM_MEM_MAX_NR_PAGES = (1ull << 31) - 1;
constexpr u32 KVM_MAX_NR_ADDRESS_SPACES = 2;

// ---- host-side constants used by traces (Linux x86-64 values) ----
// memfd_create(2) flags. MFD_INACCESSIBLE is the private-fd v5 proposal's (patch 02/13); upstream
// 6.3 gave 0x0008 to MFD_NOEXEC_SEAL.
constexpr u64 MFD_CLOEXEC = 0x0001;
constexpr u64 MFD_ALLOW_SEALING = 0x0002;
constexpr u64 MFD_INACCESSIBLE = 0x0008;
constexpr int FALLOC_FL_KEEP_SIZE = 0x01;
constexpr int FALLOC_FL_PUNCH_HOLE = 0x02;
constexpr int FALLOC_FL_COLLAPSE_RANGE = 0x08;
constexpr int FALLOC_FL_ZERO_RANGE = 0x10;
constexpr int MADV_DONTNEED = 4;
constexpr int MADV_HUGEPAGE = 14;
constexpr int MADV_NOHUGEPAGE = 15;
// Advice VMMs give guest RAM that changes nothing KVM sees (QEMU: MADV_DONTFORK on RAM blocks,
// MADV_MERGEABLE for KSM, MADV_DODUMP/DONTDUMP): kept in recordings as statements.
constexpr int MADV_DONTFORK = 10, MADV_DOFORK = 11, MADV_MERGEABLE = 12, MADV_UNMERGEABLE = 13;
constexpr int MADV_DONTDUMP = 16, MADV_DODUMP = 17;
constexpr int PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
constexpr int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02;
constexpr int MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000, MAP_FIXED_NOREPLACE = 0x100000;

constexpr u64 kPageSize = 4096;
constexpr u64 kPageShift = 12;

}  // namespace kvmsim::uapi
