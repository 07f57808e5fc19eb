#include "sim/kvm/guest_agent.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "model/uapi.h"

namespace kvmsim::kvm {

namespace {

constexpr u64 kPml4 = 0, kPdpt = 1, kPd = 2, kPt = 3, kCode = 4, kGdt = 5;
constexpr u64 kP = 1, kW = 2, kU = 4, kPS = 0x80, kAD = 0x60;
constexpr u64 kTable = kP | kW | kU;  // A/D left 0: KVM sets them as it walks
constexpr u64 k2M = 2ull << 20;

// Entry points in the code page (hand-assembled, see guest_agent.h).
constexpr u64 kEntryRead = 0x00, kEntryWrite = 0x10, kEntryExec = 0x20, kEntryLoad64 = 0x30, kEntryStore64 = 0x40;
constexpr u8 kCodeBytes[] = {
    0x8A, 0x07, 0xE6, 0x10, 0xEB, 0xFC, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // mov al,[rdi]; out 0x10,al; jmp out
    0xC6, 0x07, 0x00, 0xE6, 0x10, 0xEB, 0xFC, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // mov byte [rdi],0; out; jmp
    0xFF, 0xD7, 0xE6, 0x10, 0xEB, 0xFC, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // call rdi; out; jmp
    0x48, 0x8B, 0x07, 0xE6, 0x10, 0xEB, 0xFC, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // mov rax,[rdi]; out; jmp
    0x48, 0x89, 0x37, 0xE6, 0x10, 0xEB, 0xFC, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // mov [rdi],rsi; out; jmp
};
constexpr u64 kScratchOff = 0x800;   // rax points here (exec of raw bytes `00 00` = add [rax],al)
constexpr u64 kStackTop = 0xff0;

constexpr u16 kSelTss = 0x10, kSelUserData = 0x2b, kSelUserCode = 0x33;
constexpr u64 kTssOff = 0x800, kTssLimit = 0x67;

u64 pml4_index(u64 va) { return (va >> 39) & 511; }
u64 pdpt_index(u64 va) { return (va >> 30) & 511; }
u64 pd_index(u64 va) { return (va >> 21) & 511; }
u64 pt_index(u64 va) { return (va >> 12) & 511; }

void store(u64* p, u64 v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }

x86::kvm_segment user_segment(u16 sel, bool code) {
  x86::kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = sel;
  s.type = code ? 11 : 3;  // execute/read accessed : read/write accessed
  s.present = 1;
  s.dpl = 3;
  s.db = code ? 0 : 1;
  s.s = 1;
  s.l = code ? 1 : 0;
  s.g = 1;
  return s;
}

}  // namespace

std::unique_ptr<GuestAgent> GuestAgent::create(int vm_fd, AgentPlacement where, std::string* error) {
  std::unique_ptr<GuestAgent> a(new GuestAgent(vm_fd, where));
  if (!a->build(error)) return nullptr;
  return a;
}

GuestAgent::~GuestAgent() {
  if (host_) ::munmap(host_, kSize);
  if (memfd_ >= 0) ::close(memfd_);
}

bool GuestAgent::build(std::string* error) {
  auto fail = [&](const char* what) {
    if (error) *error = std::string("guest agent: ") + what + ": " + std::strerror(errno);
    return false;
  };
  memfd_ = ::memfd_create("kvmsim-agent", MFD_CLOEXEC);
  if (memfd_ < 0) return fail("memfd_create");
  if (::ftruncate(memfd_, static_cast<off_t>(kSize)) != 0) return fail("ftruncate");
  void* m = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0);
  if (m == MAP_FAILED) return fail("mmap");
  host_ = static_cast<u8*>(m);

  // Identity map of the code and GDT pages, 4K user pages.
  const u64 base = where_.gpa;
  page(kPml4)[pml4_index(base)] = page_gpa(kPdpt) | kTable;
  page(kPdpt)[pdpt_index(base)] = page_gpa(kPd) | kTable;
  page(kPd)[pd_index(base)] = page_gpa(kPt) | kTable;
  page(kPt)[pt_index(page_gpa(kCode))] = page_gpa(kCode) | kTable;
  page(kPt)[pt_index(page_gpa(kGdt))] = page_gpa(kGdt) | kTable;
  std::memcpy(page(kCode), kCodeBytes, sizeof kCodeBytes);

  // GDT: [2..3] 64-bit TSS (busy), [5] user data DPL3, [6] user code 64-bit DPL3.
  u64* gdt = page(kGdt);
  const u64 tss = page_gpa(kGdt) + kTssOff;
  gdt[2] = (kTssLimit & 0xffff) | (tss & 0xffffff) << 16 | 0xBull << 40 | 1ull << 47 | ((tss >> 24) & 0xff) << 56;
  gdt[3] = tss >> 32;
  gdt[5] = 0x00cff3000000ffffull;
  gdt[6] = 0x00affb000000ffffull;

  uapi::kvm_userspace_memory_region r{};
  r.slot = where_.slot;
  r.guest_phys_addr = base;
  r.memory_size = kSize;
  r.userspace_addr = reinterpret_cast<u64>(host_);
  if (::ioctl(vm_fd_, uapi::KVM_SET_USER_MEMORY_REGION, &r) != 0) return fail("KVM_SET_USER_MEMORY_REGION");
  slot_registered_ = true;
  return true;
}

void GuestAgent::remove_slot() {
  if (!slot_registered_) return;
  uapi::kvm_userspace_memory_region r{};
  r.slot = where_.slot;
  ::ioctl(vm_fd_, uapi::KVM_SET_USER_MEMORY_REGION, &r);
  slot_registered_ = false;
}

bool GuestAgent::setup_vcpu(int vcpu_fd, std::string* error) const {
  x86::kvm_sregs s{};
  if (::ioctl(vcpu_fd, x86::KVM_GET_SREGS, &s) != 0) {
    if (error) *error = std::string("KVM_GET_SREGS: ") + std::strerror(errno);
    return false;
  }
  s.cs = user_segment(kSelUserCode, true);
  s.ds = s.es = s.fs = s.gs = s.ss = user_segment(kSelUserData, false);
  s.tr = x86::kvm_segment{};
  s.tr.base = page_gpa(kGdt) + kTssOff;
  s.tr.limit = kTssLimit;
  s.tr.selector = kSelTss;
  s.tr.type = 11;
  s.tr.present = 1;
  s.ldt = x86::kvm_segment{};
  s.ldt.type = 2;
  s.ldt.unusable = 1;
  s.gdt.base = page_gpa(kGdt);
  s.gdt.limit = 8 * 8 - 1;
  s.idt.base = 0;
  s.idt.limit = 0;  // no IDT: a guest exception ends in KVM_EXIT_SHUTDOWN
  s.cr0 = 0x80050033;  // PG | AM | WP | NE | ET | MP | PE
  s.cr3 = page_gpa(kPml4);
  s.cr4 = 0x20;        // PAE
  s.efer = 0xd00;      // NXE | LMA | LME
  if (::ioctl(vcpu_fd, x86::KVM_SET_SREGS, &s) != 0) {
    if (error) *error = std::string("KVM_SET_SREGS: ") + std::strerror(errno);
    return false;
  }
  return true;
}

u64 GuestAgent::alloc_page() {
  if (next_pool_page_ >= kSize / 4096) return 0;
  return next_pool_page_++;  // memfd pages start zeroed
}

u64 GuestAgent::new_window(u64 gpa, std::string* error) {
  // One window per 2M guest-physical region, reused for every later access to it: its PDE never
  // changes, so a shadow entry built for it stays valid, and the region gets exactly one shadow
  // mapping (a fresh window per access would add a second 2M shadow leaf for the same region).
  const u64 region = gpa & ~(k2M - 1);
  if (auto it = window_for_region_.find(region); it != window_for_region_.end()) return it->second;
  constexpr u64 kPerPml4 = 512ull * 512;
  const u64 n = next_window_;
  // Window PML4 slots: 1..255 (canonical lower half), skipping the identity map's slot.
  u64 pml4i = 1 + n / kPerPml4;
  if (pml4i >= pml4_index(where_.gpa)) ++pml4i;
  if (pml4i > 255) {
    if (error) *error = "guest agent: window address space exhausted";
    return 0;
  }
  const u64 pdpti = (n / 512) % 512, pdi = n % 512;
  if (pdpt_for_pml4_[pml4i] == 0) {
    u64 p = alloc_page();
    if (!p) {
      if (error) *error = "guest agent: page-table pool exhausted";
      return 0;
    }
    pdpt_for_pml4_[pml4i] = p;
    store(&page(kPml4)[pml4i], page_gpa(p) | kTable);
  }
  if (pdi == 0) {
    u64 p = alloc_page();
    if (!p) {
      if (error) *error = "guest agent: page-table pool exhausted";
      return 0;
    }
    pd_for_window_block_ = p;
    store(&page(pdpt_for_pml4_[pml4i])[pdpti], page_gpa(p) | kTable);
  }
  store(&page(pd_for_window_block_)[pdi], region | kP | kW | kU | kPS | kAD);
  ++next_window_;
  const u64 va = pml4i << 39 | pdpti << 30 | pdi << 21;
  window_for_region_.emplace(region, va);
  return va;
}

AccessOutcome GuestAgent::run(int vcpu_fd, x86::kvm_run* run, u64 gpa, AccessKind kind, u64 stub_hva,
                              std::string* diag, const Value* value) {
  AccessOutcome out;
  auto error = [&](int err, const std::string& why) {
    out = AccessOutcome{};
    out.kind = AccessOutcome::Kind::error;
    out.err = err;
    if (diag) *diag = why;
    return out;
  };
  if (gpa >= (1ull << 52)) return error(EINVAL, "gpa beyond the 52-bit physical address width");
  std::string why;
  const u64 window = new_window(gpa, &why);
  if (!window) return error(ENOSPC, why);
  const u64 target_va = window + (gpa & (k2M - 1));

  x86::kvm_regs regs{};
  const u64 code = page_gpa(kCode);  // identity mapped
  regs.rip = code + (kind == AccessKind::read ? (value ? kEntryLoad64 : kEntryRead)
                     : kind == AccessKind::write ? (value ? kEntryStore64 : kEntryWrite)
                                                 : kEntryExec);
  if (value) regs.rsi = value->store;
  regs.rsp = code + kStackTop;
  regs.rdi = target_va;
  regs.rax = code + kScratchOff;
  regs.rflags = 0x3002;  // IOPL=3 so `out` is allowed at CPL3
  if (::ioctl(vcpu_fd, x86::KVM_SET_REGS, &regs) != 0) return error(errno, "KVM_SET_REGS failed");

  u8 saved = 0;
  if (stub_hva) {
    saved = *reinterpret_cast<volatile u8*>(stub_hva);
    *reinterpret_cast<volatile u8*>(stub_hva) = 0xC3;  // ret
  }
  bool mmio = false;
  error(EIO, "no completion after 64 KVM_RUN exits");  // replaced by the loop's verdict
  for (int iter = 0; iter < 64; ++iter) {
    run->exit_reason = 0;
    int r = ::ioctl(vcpu_fd, uapi::KVM_RUN, 0);
    if (r < 0) {
      int e = errno;
      if (e == EINTR || e == EAGAIN) continue;
      if (e == EFAULT && run->exit_reason == uapi::KVM_EXIT_MEMORY_FAULT) {
        out = AccessOutcome{};
        out.kind = AccessOutcome::Kind::memory_fault;
        out.err = EFAULT;
        out.flags = run->u.memory_fault.flags;
        out.gpa = run->u.memory_fault.gpa;
        out.size = run->u.memory_fault.size;
        break;
      }
      error(e, std::string("KVM_RUN failed: ") + std::strerror(e));
      break;
    }
    if (run->exit_reason == uapi::KVM_EXIT_IO && run->u.io.port == kDonePort && run->u.io.direction == 1) {
      out = AccessOutcome{};
      out.kind = mmio ? AccessOutcome::Kind::mmio : AccessOutcome::Kind::ok;
      if (value && kind == AccessKind::read && !mmio) {
        x86::kvm_regs done{};
        if (::ioctl(vcpu_fd, x86::KVM_GET_REGS, &done) != 0) {
          error(errno, "KVM_GET_REGS failed");
          break;
        }
        out.value = done.rax;
      }
      break;
    }
    if (run->exit_reason == uapi::KVM_EXIT_MMIO) {
      // Complete it (zero data for reads) by running again, then continue to the `out`.
      if ((run->u.mmio.phys_addr >> 12) != (gpa >> 12)) {
        error(EIO, "KVM_EXIT_MMIO at an unexpected gpa " + std::to_string(run->u.mmio.phys_addr));
        break;
      }
      mmio = true;
      if (!run->u.mmio.is_write) std::memset(run->u.mmio.data, 0, sizeof run->u.mmio.data);
      continue;
    }
    if (run->exit_reason == uapi::KVM_EXIT_SHUTDOWN) {
      error(EIO, "KVM_EXIT_SHUTDOWN: the guest took an exception (e.g. reserved-bit #PF beyond MAXPHYADDR)");
      break;
    }
    if (run->exit_reason == uapi::KVM_EXIT_INTERNAL_ERROR) {
      error(EIO, "KVM_EXIT_INTERNAL_ERROR suberror " + std::to_string(run->u.internal.suberror));
      break;
    }
    error(EIO, "unexpected exit reason " + std::to_string(run->exit_reason));
    break;
  }
  if (stub_hva) *reinterpret_cast<volatile u8*>(stub_hva) = saved;
  if (out.kind != AccessOutcome::Kind::error && diag) diag->clear();
  return out;
}

void GuestAgent::drop_host_ptes() {
  if (host_) ::madvise(host_, kSize, MADV_DONTNEED);
}

}  // namespace kvmsim::kvm
