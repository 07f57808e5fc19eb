// KVM_PRE_FAULT_MEMORY (docs/semantics/pre-fault.md; pre_fault_memory_test.c; docs/semantics/nested-observations.md).
#include <cerrno>

#include "conformance/case.h"

using namespace kvmsim;
using namespace kvmsim::conf;
using namespace kvmsim::uapi;

namespace {

kvm_pre_fault_memory range(u64 gpa, u64 size, u64 flags = 0) {
  kvm_pre_fault_memory p{};
  p.gpa = gpa;
  p.size = size;
  p.flags = flags;
  return p;
}

// Expects `ret` and the written-back {gpa, size}.
void expect_prefault(Check& c, int vcpu, u64 gpa, u64 size, Ret ret, u64 out_gpa, u64 out_size,
                     std::source_location loc = std::source_location::current()) {
  kvm_pre_fault_memory p = range(gpa, size);
  Call call = c.pre_fault(vcpu, p);
  c.expect_ret(call, ret, loc);
  c.expect_eq(p.gpa, out_gpa, call.what + " written-back gpa", loc);
  c.expect_eq(p.size, out_size, call.what + " written-back size", loc);
}

}  // namespace

// Without TDP (shadow paging) the vCPU ioctl exists but refuses; kernels before 6.10 do not
// know it (x86's unknown-vCPU-ioctl EINVAL).
KVMSIM_CASE(prefault, unsupported_without_cap, Need::no_pre_fault) {
  const int vm = c.create_vm();
  const int vcpu = c.create_vcpu(vm);
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  kvm_pre_fault_memory p = range(0, 4 * KiB);
  c.expect_err(c.pre_fault(vcpu, p), c.profile().has_pre_fault ? EOPNOTSUPP : EINVAL);
}

// KVM_PRE_FAULT_MEMORY is a vCPU ioctl; the VM fd does not know it.
KVMSIM_CASE(prefault, on_vm_fd_is_enotty) {
  const int vm = c.create_vm();
  kvm_pre_fault_memory p = range(0, 4 * KiB);
  c.expect_err(c.pre_fault(vm, p), ENOTTY);
}

KVMSIM_CASE(prefault, flags_nonzero, Need::pre_fault) {
  const int vm = c.create_vm();
  const int vcpu = c.create_vcpu(vm);
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  kvm_pre_fault_memory p = range(0, 4 * KiB, 1);
  c.expect_err(c.pre_fault(vcpu, p), EINVAL);
  c.expect_eq(p.size, 4 * KiB, "size after EINVAL (unchanged)");
}

KVMSIM_CASE(prefault, unaligned, Need::pre_fault) {
  const int vm = c.create_vm();
  const int vcpu = c.create_vcpu(vm);
  const u64 mem = c.mmap(2 * MiB);
  c.add_slot(vm, make_region(0, 0, 2 * MiB, mem));
  expect_prefault(c, vcpu, 0x800, 4 * KiB, Ret::fail(EINVAL), 0x800, 4 * KiB);
  expect_prefault(c, vcpu, 0, 0x1800, Ret::fail(EINVAL), 0, 0x1800);
}

KVMSIM_CASE(prefault, size_zero_and_wrap, Need::pre_fault) {
  const int vm = c.create_vm();
  const int vcpu = c.create_vcpu(vm);
  expect_prefault(c, vcpu, 0, 0, Ret::fail(EINVAL), 0, 0);
  expect_prefault(c, vcpu, 0xfffffffffffff000ull, 8 * KiB, Ret::fail(EINVAL), 0xfffffffffffff000ull, 8 * KiB);
}

KVMSIM_CASE(prefault, no_memslot_is_enoent, Need::pre_fault) {
  const int vm = c.create_vm();
  const int vcpu = c.create_vcpu(vm);
  expect_prefault(c, vcpu, 1 * GiB, 4 * KiB, Ret::fail(ENOENT), 1 * GiB, 4 * KiB);
}

// The pre_fault_memory_test scenario: slot of 2M+4K at a 2M-aligned GPA.
KVMSIM_CASE(prefault, selftest_scenario, Need::pre_fault) {
  const int vm = c.create_vm();
  const int vcpu = c.create_vcpu(vm);
  const u64 gpa = 3 * GiB;
  const u64 mem = c.mmap(2 * MiB + 4 * KiB, Backing::anon_nohuge);
  c.add_slot(vm, make_region(10, gpa, 2 * MiB + 4 * KiB, mem));
  expect_prefault(c, vcpu, gpa, 2 * MiB, Ret::ok(0), gpa + 2 * MiB, 0);
  expect_prefault(c, vcpu, gpa + 2 * MiB, 8 * KiB, Ret::ok(0), gpa + 2 * MiB + 4 * KiB, 4 * KiB);
  expect_prefault(c, vcpu, gpa + 2 * MiB + 4 * KiB, 4 * KiB, Ret::fail(ENOENT), gpa + 2 * MiB + 4 * KiB, 4 * KiB);
}

// Partial progress returns 0 even though the next step fails.
KVMSIM_CASE(prefault, partial_progress_returns_zero, Need::pre_fault) {
  const int vm = c.create_vm();
  const int vcpu = c.create_vcpu(vm);
  const u64 mem = c.mmap(64 * KiB, Backing::anon_nohuge);
  c.add_slot(vm, make_region(0, 1 * GiB, 64 * KiB, mem));
  expect_prefault(c, vcpu, 1 * GiB, 1 * MiB, Ret::ok(0), 1 * GiB + 64 * KiB, 1 * MiB - 64 * KiB);
}

KVMSIM_CASE(prefault, readonly_slot, Need::pre_fault, Need::readonly_mem) {
  const int vm = c.create_vm();
  const int vcpu = c.create_vcpu(vm);
  const u64 mem = c.mmap(64 * KiB, Backing::anon_nohuge);
  c.add_slot(vm, make_region(0, 1 * GiB, 64 * KiB, mem, KVM_MEM_READONLY));
  expect_prefault(c, vcpu, 1 * GiB, 64 * KiB, Ret::ok(0), 1 * GiB + 64 * KiB, 0);
}

KVMSIM_CASE(prefault, after_slot_delete_is_enoent, Need::pre_fault) {
  const int vm = c.create_vm();
  const int vcpu = c.create_vcpu(vm);
  const u64 mem = c.mmap(64 * KiB, Backing::anon_nohuge);
  c.add_slot(vm, make_region(0, 1 * GiB, 64 * KiB, mem));
  expect_prefault(c, vcpu, 1 * GiB, 4 * KiB, Ret::ok(0), 1 * GiB + 4 * KiB, 0);
  c.add_slot(vm, make_region(0, 1 * GiB, 0, mem));
  // The delete zapped everything (SLOT_ZAP_ALL): on 6.12 a pre-fault on the old vCPU never returns.
  const int after = c.profile().prefault_hangs_after_zap_all ? c.create_vcpu(vm, 1) : vcpu;
  expect_prefault(c, after, 1 * GiB, 4 * KiB, Ret::fail(ENOENT), 1 * GiB, 4 * KiB);
}

// One step consumes the remainder of the mapped huge page: a 2M leaf covers gpa+4K..2M.
KVMSIM_CASE(prefault, step_consumes_rest_of_huge_page, Need::pre_fault, Need::mapping) {
  const int vm = c.create_vm();
  const int vcpu = c.create_vcpu(vm);
  const u64 mem = c.mmap(2 * MiB, Backing::thp);
  c.must({c.api().touch(mem, 2 * MiB), "touch"});
  c.add_slot(vm, make_region(0, 1 * GiB, 2 * MiB, mem));
  expect_prefault(c, vcpu, 1 * GiB + 4 * KiB, 8 * KiB, Ret::ok(0), 1 * GiB + 12 * KiB, 0);
  c.expect_level(vm, 1 * GiB, 2);  // the leaf starts below the requested gpa
}

// Private memory: the fault is private iff the gfn's attribute is PRIVATE; a private gfn needs a
// guest_memfd slot, else EFAULT (partial progress still returns 0).
KVMSIM_CASE(prefault, private_without_guest_memfd, Need::pre_fault, Need::sw_protected_vm, Need::memory_attributes) {
  const int vm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
  const int vcpu = c.create_vcpu(vm);
  const u64 mem = c.mmap(4 * MiB, Backing::anon_nohuge);
  c.add_slot(vm, make_region(0, 0, 4 * MiB, mem));
  c.must(c.set_attributes(vm, 2 * MiB, 2 * MiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  expect_prefault(c, vcpu, 0, 4 * MiB, Ret::ok(0), 2 * MiB, 2 * MiB);
  expect_prefault(c, vcpu, 2 * MiB, 2 * MiB, Ret::fail(EFAULT), 2 * MiB, 2 * MiB);
}

KVMSIM_CASE(prefault, private_with_guest_memfd, Need::pre_fault, Need::sw_protected_vm, Need::memory_attributes,
            Need::guest_memfd) {
  const int vm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
  const int vcpu = c.create_vcpu(vm);
  const u64 mem = c.mmap(4 * MiB, Backing::anon_nohuge);
  const int fd = c.create_gmem(vm, 4 * MiB);
  c.add_slot(vm, make_gmem_region(0, 0, 4 * MiB, mem, fd));
  c.must(c.set_attributes(vm, 2 * MiB, 2 * MiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  expect_prefault(c, vcpu, 0, 4 * MiB, Ret::ok(0), 4 * MiB, 0);
}

// A private gfn whose guest_memfd was closed cannot be faulted: EFAULT.
KVMSIM_CASE(prefault, private_after_gmem_close, Need::pre_fault, Need::sw_protected_vm, Need::memory_attributes,
            Need::guest_memfd) {
  const int vm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
  const int vcpu = c.create_vcpu(vm);
  const u64 mem = c.mmap(2 * MiB, Backing::anon_nohuge);
  const int fd = c.create_gmem(vm, 2 * MiB);
  c.add_slot(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd));
  c.must(c.set_attributes(vm, 0, 2 * MiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  c.must(c.close(fd));
  expect_prefault(c, vcpu, 0, 4 * KiB, Ret::fail(EFAULT), 0, 4 * KiB);
}

// Pre-faulting a gmem-only (MMAP) slot maps from the file, at 4K.
KVMSIM_CASE(prefault, gmem_only_slot, Need::pre_fault, Need::gmem_mmap, Need::user_memory2) {
  const int vm = c.create_vm();
  const int vcpu = c.create_vcpu(vm);
  const u64 mem = c.mmap(2 * MiB, Backing::thp);
  const int fd = c.create_gmem(vm, 2 * MiB, GUEST_MEMFD_FLAG_MMAP);
  c.add_slot(vm, make_gmem_region(0, 0, 2 * MiB, mem, fd));
  expect_prefault(c, vcpu, 0, 2 * MiB, Ret::ok(0), 2 * MiB, 0);
  c.expect_level(vm, 0, 1);
}
