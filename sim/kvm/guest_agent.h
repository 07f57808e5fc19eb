// GuestAgent: the tiny guest program through which the real backend performs one guest access
// (trace `access(vcpu, gpa, read|write|exec)`), one per VM, created lazily on the VM's first access.
//
// Why CPL3: on this host (kvm_pvm, shadow paging; docs/semantics/host-kvm-pvm.md §0) only 64-bit CPL3 guest code runs
// natively on the shadow MMU; CPL0 code goes through the instruction emulator, which never touches
// the MMU. So the agent runs in long mode at CPL3 (CS 0x33, SS/DS 0x2b, DPL3 descriptors, IOPL=3)
// on user-accessible page tables, and signals completion with `out 0x10` (KVM_EXIT_IO).
//
// Memory: a private memfd of kSize bytes (sparse), registered as memslot `slot()` at `gpa()` — by
// default slot 32763 at 2^46 - kSize, the top of the 46-bit guest physical space. Layout (pages):
// 0 PML4, 1 PDPT, 2 PD, 3 PT of the agent's own 4K identity mapping; 4 code + stack; 5 GDT + TSS;
// 6.. a bump-allocated pool of window PDPT/PD pages.
//
// Reaching an arbitrary GPA — windows: for every access the host writes a *fresh, never-used* PDE
// (P|W|U|PS: a 2M guest page) pointing at the 2M-aligned guest-physical region containing the
// target, directly into the agent's PD page through the host mapping, and the agent accesses
// window_va + (gpa & 2M-1). A never-used PDE is safe under shadow paging: no shadow entry exists
// for it, so KVM walks the guest table afresh on the fault. Windows are 2M guest pages rather
// than 4K PTEs because the shadow MMU never maps a guest page larger than the guest's own page:
// 2M windows are what lets a THP-backed slot reach pages_2m (docs/semantics/host-kvm-pvm.md §6), i.e. the mapping
// level is decided by the host and the memslot, as on TDP. Window PDEs are created with A=1 and
// D=1: with D=0 a read fault strips W from the shadow role, so a later write through another
// window would build a second direct shadow page for the same 2M region and count the page twice
// in pages_4k (measured). Each 2M region gets one window, reused by every later access to it
// (its PDE never changes, so shadow entries built for it stay valid). Exec of a gpa without RAM (no memslot)
// ends in KVM_EXIT_INTERNAL_ERROR (emulation failure) and is reported as an error (EIO).
//
// Value accesses (trace `access(..., write, value=V)`, `= ok {value=V}`): `mov rax,[rdi]` and
// `mov [rdi],rsi`, one u64; the loaded rax is read back with KVM_GET_REGS after the `out`.
// Accesses: read = `mov al,[rdi]`; write = `mov byte [rdi],0` (a pure store: one write fault; it
// stores 0 in that byte, which the model mirrors: docs/semantics/memory-contents.md §5); exec = `call rdi`. Not a
// read-modify-write such as `lock or [rdi],0`: QEMU TCG (the nested oracle) faults an RMW in for read
// first, so untouched THP memory got the host's huge zero page and then a 4K CoW instead of a THP. For exec of ordinary RAM the backend first places a `ret`
// (0xC3) at the target through the host mapping and restores the original byte afterwards; a
// target the host cannot write (no slot, read-only or unmapped host memory) is called as is.
//
// Observation hygiene: drop_host_ptes() MADV_DONTNEEDs the agent's shared mapping; the MMU notifier
// then zaps every leaf SPTE of the agent slot (its code page, and any page the shadow MMU mapped
// for it) while the memfd keeps the contents, so stats read right after include only the trace's
// leaves. The agent's page-table pages are shadow pages, not leaves, so they never count in pages_*.
#pragma once

#include <memory>
#include <map>
#include <string>

#include "model/types.h"
#include "sim/kvm/x86_state.h"

namespace kvmsim::kvm {

using x86::u16;

struct AgentPlacement {
  u32 slot = 32763;
  u64 gpa = 0;
};

class GuestAgent {
 public:
  static constexpr u64 kSize = 64ull << 20;
  static constexpr u64 kDefaultGpa = (1ull << 46) - kSize;
  static constexpr u16 kDonePort = 0x10;

  // Creates the memory, page tables and code, and registers the memslot on `vm_fd`.
  static std::unique_ptr<GuestAgent> create(int vm_fd, AgentPlacement where, std::string* error);
  ~GuestAgent();  // unmaps and closes its memory; the memslot is left to the VM (see remove_slot)
  GuestAgent(const GuestAgent&) = delete;
  GuestAgent& operator=(const GuestAgent&) = delete;

  // Deletes the agent's memslot (relocation): KVM then zaps as for any slot deletion.
  void remove_slot();

  u32 slot() const { return where_.slot; }
  u64 gpa() const { return where_.gpa; }
  bool overlaps(u64 gpa, u64 size) const { return gpa < where_.gpa + kSize && where_.gpa < gpa + size; }

  // Long-mode CPL3 state for a vCPU: sregs pointing at the agent's GDT and page tables.
  bool setup_vcpu(int vcpu_fd, std::string* error) const;

  // Runs one access of `gpa` on an already set-up vCPU. `stub_hva` != 0: host address of the
  // target byte, where a `ret` is placed for an exec access. *diag explains error outcomes.
  // `value` set: a u64 access (read: the loaded value lands in AccessOutcome::value; write: stores
  // value->store). The caller keeps it inside one 2M window.
  struct Value {
    u64 store = 0;
  };
  AccessOutcome run(int vcpu_fd, x86::kvm_run* run, u64 gpa, AccessKind kind, u64 stub_hva, std::string* diag,
                    const Value* value = nullptr);

  // Zaps the agent's own leaves through the MMU notifier (see header comment).
  void drop_host_ptes();

 private:
  GuestAgent(int vm_fd, AgentPlacement where) : vm_fd_(vm_fd), where_(where) {}
  u64* page(u64 index) const { return reinterpret_cast<u64*>(host_ + index * 4096); }
  u64 page_gpa(u64 index) const { return where_.gpa + index * 4096; }
  bool build(std::string* error);
  // The 2M window mapping `gpa`'s region: reused if it exists, else a fresh PDE; returns the
  // window's guest-virtual base (0 if exhausted).
  u64 new_window(u64 gpa, std::string* error);
  u64 alloc_page();  // index of a zeroed pool page, 0 if exhausted

  int vm_fd_;
  AgentPlacement where_;
  int memfd_ = -1;
  u8* host_ = nullptr;
  bool slot_registered_ = false;
  u64 next_pool_page_ = 6;
  u64 next_window_ = 0;
  u64 pdpt_for_pml4_[512] = {};  // pool page index of the window PDPT under each PML4 slot
  u64 pd_for_window_block_ = 0;  // pool page index of the PD for the current 512-window block
  std::map<u64, u64> window_for_region_;  // 2M-aligned gpa -> window guest-virtual base
};

}  // namespace kvmsim::kvm
