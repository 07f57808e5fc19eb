// Guest accesses and what KVM_RUN reports: ok, MMIO exits, -EFAULT, KVM_EXIT_MEMORY_FAULT
// (docs/semantics/guest-memfd.md §4, docs/semantics/tdp-mmu.md §4 step 2; docs/semantics/host-kvm-pvm.md §4; private_mem_kvm_exits_test.c).
#include <cerrno>

#include "conformance/case.h"

using namespace kvmsim;
using namespace kvmsim::conf;
using namespace kvmsim::uapi;

namespace {

using Guest = Check::VmVcpu;

AccessOutcome run(Check& c, const Guest& g, u64 gpa, AccessKind kind) { return c.api().access(g.vcpu, gpa, kind); }

std::string what(const char* kind, u64 gpa) { return std::string("access(") + kind + ", " + hex(gpa) + ")"; }

constexpr u64 kBase = 1ull << 30;

}  // namespace

KVMSIM_CASE(access, read_write_ok, Need::guest_access) {
  Guest g = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(g.vm, make_region(1, kBase, 2 * MiB, mem));
  c.expect_outcome(run(c, g, kBase, AccessKind::read), outcome_ok(), what("read", kBase));
  c.expect_outcome(run(c, g, kBase + 4 * KiB, AccessKind::write), outcome_ok(), what("write", kBase + 4 * KiB));
}

KVMSIM_CASE(access, no_memslot_is_mmio, Need::guest_access) {
  Guest g = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(g.vm, make_region(1, kBase, 2 * MiB, mem));
  c.expect_outcome(run(c, g, kBase + 2 * MiB, AccessKind::read), outcome_mmio(), what("read", kBase + 2 * MiB));
  c.expect_outcome(run(c, g, kBase + 2 * MiB, AccessKind::write), outcome_mmio(), what("write", kBase + 2 * MiB));
}

KVMSIM_CASE(access, readonly_slot_write_is_mmio, Need::guest_access, Need::readonly_mem) {
  Guest g = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(g.vm, make_region(1, kBase, 2 * MiB, mem, KVM_MEM_READONLY));
  c.expect_outcome(run(c, g, kBase, AccessKind::read), outcome_ok(), what("read", kBase));
  c.expect_outcome(run(c, g, kBase, AccessKind::write), outcome_mmio(), what("write", kBase));
}

KVMSIM_CASE(access, deleted_slot_is_mmio, Need::guest_access) {
  Guest g = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(g.vm, make_region(1, kBase, 2 * MiB, mem));
  c.expect_outcome(run(c, g, kBase, AccessKind::write), outcome_ok(), what("write", kBase));
  c.add_slot(g.vm, make_region(1, kBase, 0, mem));
  c.expect_outcome(run(c, g, kBase, AccessKind::read), outcome_mmio(), what("read after delete", kBase));
}

KVMSIM_CASE(access, moved_slot, Need::guest_access) {
  Guest g = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(g.vm, make_region(1, kBase, 2 * MiB, mem));
  c.expect_outcome(run(c, g, kBase, AccessKind::write), outcome_ok(), what("write", kBase));
  c.add_slot(g.vm, make_region(1, 2 * kBase, 2 * MiB, mem));
  c.expect_outcome(run(c, g, kBase, AccessKind::read), outcome_mmio(), what("read at the old GPA", kBase));
  c.expect_outcome(run(c, g, 2 * kBase, AccessKind::read), outcome_ok(), what("read at the new GPA", 2 * kBase));
}

// A slot whose host range is not mapped: KVM_RUN fails with EFAULT when the guest touches it.
KVMSIM_CASE(access, unmapped_uaddr_is_efault, Need::guest_access) {
  Guest g = c.create_vm_with_vcpu();
  c.add_slot(g.vm, make_region(1, kBase, 64 * KiB, 0x7000000000ull));
  c.expect_outcome(run(c, g, kBase, AccessKind::read), outcome_error(EFAULT), what("read", kBase));
}

KVMSIM_CASE(access, prot_read_uaddr_write_is_efault, Need::guest_access) {
  Guest g = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(64 * KiB, Backing::anon_nohuge);
  c.must({c.api().mprotect(mem, 64 * KiB, PROT_READ), "mprotect(PROT_READ)"});
  c.add_slot(g.vm, make_region(1, kBase, 64 * KiB, mem));
  c.expect_outcome(run(c, g, kBase, AccessKind::read), outcome_ok(), what("read", kBase));
  c.expect_outcome(run(c, g, kBase + 4 * KiB, AccessKind::write), outcome_error(EFAULT), what("write", kBase + 4 * KiB));
}

KVMSIM_CASE(access, prot_none_uaddr_is_efault, Need::guest_access) {
  Guest g = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(64 * KiB, Backing::anon_nohuge);
  c.must({c.api().mprotect(mem, 64 * KiB, PROT_NONE), "mprotect(PROT_NONE)"});
  c.add_slot(g.vm, make_region(1, kBase, 64 * KiB, mem));
  c.expect_outcome(run(c, g, kBase, AccessKind::read), outcome_error(EFAULT), what("read", kBase));
}

// Host mm changes after the guest mapped the page reach KVM through the MMU notifier.
KVMSIM_CASE(access, munmap_after_mapping_is_efault, Need::guest_access) {
  Guest g = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(64 * KiB, Backing::anon_nohuge);
  c.add_slot(g.vm, make_region(1, kBase, 64 * KiB, mem));
  c.expect_outcome(run(c, g, kBase, AccessKind::write), outcome_ok(), what("write", kBase));
  c.must({c.api().munmap(mem, 64 * KiB), "munmap"});
  c.expect_outcome(run(c, g, kBase, AccessKind::read), outcome_error(EFAULT), what("read after munmap", kBase));
}

KVMSIM_CASE(access, mprotect_after_mapping_write_is_efault, Need::guest_access) {
  Guest g = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(64 * KiB, Backing::anon_nohuge);
  c.add_slot(g.vm, make_region(1, kBase, 64 * KiB, mem));
  c.expect_outcome(run(c, g, kBase, AccessKind::write), outcome_ok(), what("write", kBase));
  c.must({c.api().mprotect(mem, 64 * KiB, PROT_READ), "mprotect(PROT_READ)"});
  c.expect_outcome(run(c, g, kBase, AccessKind::write), outcome_error(EFAULT), what("write after mprotect", kBase));
  c.expect_outcome(run(c, g, kBase, AccessKind::read), outcome_ok(), what("read after mprotect", kBase));
}

KVMSIM_CASE(access, madvise_dontneed_then_access, Need::guest_access) {
  Guest g = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(64 * KiB, Backing::anon_nohuge);
  c.add_slot(g.vm, make_region(1, kBase, 64 * KiB, mem));
  c.expect_outcome(run(c, g, kBase, AccessKind::write), outcome_ok(), what("write", kBase));
  c.must({c.api().madvise(mem, 64 * KiB, MADV_DONTNEED), "madvise(MADV_DONTNEED)"});
  c.expect_outcome(run(c, g, kBase, AccessKind::read), outcome_ok(), what("read after DONTNEED", kBase));
}

// Two slots over the same host memory both work.
KVMSIM_CASE(access, aliased_slots, Need::guest_access) {
  Guest g = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(64 * KiB, Backing::anon_nohuge);
  c.add_slot(g.vm, make_region(1, kBase, 64 * KiB, mem));
  c.add_slot(g.vm, make_region(2, 2 * kBase, 64 * KiB, mem));
  c.expect_outcome(run(c, g, kBase, AccessKind::write), outcome_ok(), what("write", kBase));
  c.expect_outcome(run(c, g, 2 * kBase, AccessKind::read), outcome_ok(), what("read via alias", 2 * kBase));
}

// gmem-only slots (MMAP) are served from the file even without INIT_SHARED.
KVMSIM_CASE(access, gmem_only_slot, Need::guest_access, Need::gmem_mmap, Need::user_memory2) {
  Guest g = c.create_vm_with_vcpu();
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(g.vm, 2 * MiB, GUEST_MEMFD_FLAG_MMAP);
  c.add_slot(g.vm, make_gmem_region(1, kBase, 2 * MiB, mem, fd));
  c.expect_outcome(run(c, g, kBase, AccessKind::write), outcome_ok(), what("write", kBase));
  c.expect_outcome(run(c, g, kBase + 4 * KiB, AccessKind::read), outcome_ok(), what("read", kBase + 4 * KiB));
}

// ---- private memory (SW_PROTECTED VMs) ----

KVMSIM_CASE(access, private_in_gmem_slot, Need::guest_access, Need::sw_protected_vm, Need::memory_attributes,
            Need::guest_memfd) {
  Guest g = c.create_vm_with_vcpu(KVM_X86_SW_PROTECTED_VM);
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(g.vm, 2 * MiB);
  c.add_slot(g.vm, make_gmem_region(1, kBase, 2 * MiB, mem, fd));
  c.must(c.set_attributes(g.vm, kBase, 1 * MiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  c.expect_outcome(run(c, g, kBase, AccessKind::write), outcome_ok(), what("private write", kBase));
  c.expect_outcome(run(c, g, kBase + 1 * MiB, AccessKind::write), outcome_ok(), what("shared write", kBase + 1 * MiB));
}

// A private gfn in a slot without guest_memfd: EFAULT with KVM_EXIT_MEMORY_FAULT {PRIVATE, gpa, 4K}.
KVMSIM_CASE(access, private_without_gmem_is_memory_fault, Need::guest_access, Need::sw_protected_vm,
            Need::memory_attributes) {
  Guest g = c.create_vm_with_vcpu(KVM_X86_SW_PROTECTED_VM);
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(g.vm, make_region(1, kBase, 2 * MiB, mem));
  c.must(c.set_attributes(g.vm, kBase + 8 * KiB, 4 * KiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  c.expect_outcome(run(c, g, kBase, AccessKind::read), outcome_ok(), what("shared read", kBase));
  c.expect_outcome(run(c, g, kBase + 8 * KiB + 16, AccessKind::read),
                   outcome_memory_fault(KVM_MEMORY_EXIT_FLAG_PRIVATE, kBase + 8 * KiB, 4 * KiB),
                   what("private read", kBase + 8 * KiB + 16));
}

// Private access to a gfn whose slot was deleted (private_mem_kvm_exits_test).
KVMSIM_CASE(access, private_deleted_slot_is_memory_fault, Need::guest_access, Need::sw_protected_vm,
            Need::memory_attributes, Need::guest_memfd) {
  Guest g = c.create_vm_with_vcpu(KVM_X86_SW_PROTECTED_VM);
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(g.vm, 2 * MiB);
  c.add_slot(g.vm, make_gmem_region(1, kBase, 2 * MiB, mem, fd));
  c.must(c.set_attributes(g.vm, kBase, 2 * MiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  c.expect_outcome(run(c, g, kBase, AccessKind::write), outcome_ok(), what("private write", kBase));
  c.must(c.region2(g.vm, make_region(1, kBase, 0, mem)));
  c.expect_outcome(run(c, g, kBase, AccessKind::read),
                   outcome_memory_fault(KVM_MEMORY_EXIT_FLAG_PRIVATE, kBase, 4 * KiB), what("private read", kBase));
}

// Closing the guest_memfd zaps its mappings and leaves the slot without a file.
KVMSIM_CASE(access, private_after_gmem_close_is_memory_fault, Need::guest_access, Need::sw_protected_vm,
            Need::memory_attributes, Need::guest_memfd) {
  Guest g = c.create_vm_with_vcpu(KVM_X86_SW_PROTECTED_VM);
  const u64 mem = c.mmap(2 * MiB);
  const int fd = c.create_gmem(g.vm, 2 * MiB);
  c.add_slot(g.vm, make_gmem_region(1, kBase, 2 * MiB, mem, fd));
  c.must(c.set_attributes(g.vm, kBase, 2 * MiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  c.expect_outcome(run(c, g, kBase, AccessKind::write), outcome_ok(), what("private write", kBase));
  c.must(c.close(fd));
  c.expect_outcome(run(c, g, kBase, AccessKind::read),
                   outcome_memory_fault(KVM_MEMORY_EXIT_FLAG_PRIVATE, kBase, 4 * KiB), what("private read", kBase));
}

// Converting back to shared makes the page reachable through the uaddr again.
KVMSIM_CASE(access, convert_private_to_shared, Need::guest_access, Need::sw_protected_vm, Need::memory_attributes) {
  Guest g = c.create_vm_with_vcpu(KVM_X86_SW_PROTECTED_VM);
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(g.vm, make_region(1, kBase, 2 * MiB, mem));
  c.must(c.set_attributes(g.vm, kBase, 4 * KiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  c.expect_outcome(run(c, g, kBase, AccessKind::read),
                   outcome_memory_fault(KVM_MEMORY_EXIT_FLAG_PRIVATE, kBase, 4 * KiB), what("private read", kBase));
  c.must(c.set_attributes(g.vm, kBase, 4 * KiB, 0));
  c.expect_outcome(run(c, g, kBase, AccessKind::read), outcome_ok(), what("shared read", kBase));
}
