// x86 vCPU state structs and ioctls the real backend needs to run its guest agent: kvm_regs,
// kvm_sregs, kvm_cpuid2 and the kvm_run page. model/uapi.h mirrors only the memory uAPI and
// /usr/include is Linux 6.1, so these are our own copies of arch/x86/include/uapi/asm/kvm.h and
// include/uapi/linux/kvm.h. Layouts are pinned with static_asserts (sizes and offsets match the
// kernel's, which is what the _IOC size field of each ioctl number encodes).
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/uapi.h"

namespace kvmsim::x86 {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;

struct kvm_regs {
  u64 rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
  u64 r8, r9, r10, r11, r12, r13, r14, r15;
  u64 rip, rflags;
};

struct kvm_segment {
  u64 base;
  u32 limit;
  u16 selector;
  u8 type;
  u8 present, dpl, db, s, l, g, avl;
  u8 unusable;
  u8 padding;
};

struct kvm_dtable {
  u64 base;
  u16 limit;
  u16 padding[3];
};

struct kvm_sregs {
  kvm_segment cs, ds, es, fs, gs, ss;
  kvm_segment tr, ldt;
  kvm_dtable gdt, idt;
  u64 cr0, cr2, cr3, cr4, cr8;
  u64 efer;
  u64 apic_base;
  u64 interrupt_bitmap[4];
};

struct kvm_cpuid_entry2 {
  u32 function;
  u32 index;
  u32 flags;
  u32 eax, ebx, ecx, edx;
  u32 padding[3];
};

struct kvm_cpuid2_header {
  u32 nent;
  u32 padding;
  // kvm_cpuid_entry2 entries[] follow
};

// The shared kvm_run page: the fixed header and the exit-reason union at offset 32.
struct kvm_run_io {
  u8 direction;
  u8 size;
  u16 port;
  u32 count;
  u64 data_offset;
};
struct kvm_run_mmio {
  u64 phys_addr;
  u8 data[8];
  u32 len;
  u8 is_write;
};
struct kvm_run_internal {
  u32 suberror;
  u32 ndata;
  u64 data[16];
};
struct kvm_run {
  u8 request_interrupt_window;
  u8 immediate_exit;
  u8 padding1[6];
  u32 exit_reason;
  u8 ready_for_interrupt_injection;
  u8 if_flag;
  u16 flags;
  u64 cr8;
  u64 apic_base;
  union {
    kvm_run_io io;
    kvm_run_mmio mmio;
    kvm_run_internal internal;
    uapi::kvm_memory_fault memory_fault;
    char padding[256];
  } u;
};

static_assert(sizeof(kvm_regs) == 144);
static_assert(offsetof(kvm_regs, rip) == 128);
static_assert(sizeof(kvm_segment) == 24);
static_assert(sizeof(kvm_dtable) == 16);
static_assert(sizeof(kvm_sregs) == 312);
static_assert(offsetof(kvm_sregs, gdt) == 192);
static_assert(offsetof(kvm_sregs, cr0) == 224);
static_assert(offsetof(kvm_sregs, efer) == 264);
static_assert(sizeof(kvm_cpuid_entry2) == 40);
static_assert(sizeof(kvm_cpuid2_header) == 8);
static_assert(offsetof(kvm_run, exit_reason) == 8);
static_assert(offsetof(kvm_run, u) == 32);
static_assert(offsetof(kvm_run_mmio, data) == 8);
static_assert(offsetof(kvm_run_mmio, len) == 16);
static_assert(offsetof(kvm_run_mmio, is_write) == 20);
static_assert(offsetof(kvm_run_io, data_offset) == 8);

constexpr u32 ior(u32 nr, u32 size) { return uapi::ioc(uapi::kIocRead, nr, size); }

constexpr u32 KVM_GET_SUPPORTED_CPUID = uapi::iowr(0x05, sizeof(kvm_cpuid2_header));
constexpr u32 KVM_GET_REGS = ior(0x81, sizeof(kvm_regs));
constexpr u32 KVM_SET_REGS = uapi::iow(0x82, sizeof(kvm_regs));
constexpr u32 KVM_GET_SREGS = ior(0x83, sizeof(kvm_sregs));
constexpr u32 KVM_SET_SREGS = uapi::iow(0x84, sizeof(kvm_sregs));
constexpr u32 KVM_SET_CPUID2 = uapi::iow(0x90, sizeof(kvm_cpuid2_header));

static_assert(KVM_GET_SUPPORTED_CPUID == 0xC008AE05);
static_assert(KVM_GET_REGS == 0x8090AE81);
static_assert(KVM_SET_REGS == 0x4090AE82);
static_assert(KVM_GET_SREGS == 0x8138AE83);
static_assert(KVM_SET_SREGS == 0x4138AE84);
static_assert(KVM_SET_CPUID2 == 0x4008AE90);

}  // namespace kvmsim::x86
