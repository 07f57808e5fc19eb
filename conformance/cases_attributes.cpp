// KVM_SET_MEMORY_ATTRIBUTES (docs/semantics/memory-attributes.md §1; docs/semantics/host-kvm-pvm.md §3).
#include <cerrno>

#include "conformance/case.h"

using namespace kvmsim;
using namespace kvmsim::conf;
using namespace kvmsim::uapi;

// Without CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES the VM ioctl does not exist.
KVMSIM_CASE(attributes, ioctl_absent_without_cap, Need::no_memory_attributes) {
  const int vm = c.create_vm();
  c.expect_err(c.set_attributes(vm, 0, 4 * KiB, KVM_MEMORY_ATTRIBUTE_PRIVATE), ENOTTY);
  c.expect_err(c.set_attributes(vm, 0, 4 * KiB, 0), ENOTTY);
}

KVMSIM_CASE(attributes, flags_nonzero, Need::memory_attributes) {
  const int vm = c.create_vm();
  c.expect_err(c.set_attributes(vm, 0, 4 * KiB, 0, 1), EINVAL);
  c.expect_err(c.set_attributes(vm, 0, 4 * KiB, 0, 1ull << 63), EINVAL);
}

// A default VM supports no attribute: PRIVATE is EINVAL, 0 is an accepted no-op.
KVMSIM_CASE(attributes, default_vm_private_rejected, Need::memory_attributes) {
  const int vm = c.create_vm();
  c.expect_err(c.set_attributes(vm, 0, 4 * KiB, KVM_MEMORY_ATTRIBUTE_PRIVATE), EINVAL);
  c.expect_ok(c.set_attributes(vm, 0, 2 * MiB, 0));
}

KVMSIM_CASE(attributes, unknown_attribute_bits, Need::memory_attributes, Need::sw_protected_vm) {
  const int vm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
  for (int bit = 0; bit < 64; ++bit) {
    if ((1ull << bit) == KVM_MEMORY_ATTRIBUTE_PRIVATE) continue;
    c.expect_err(c.set_attributes(vm, 0, 4 * KiB, 1ull << bit), EINVAL);
  }
}

KVMSIM_CASE(attributes, size_zero_and_wrap, Need::memory_attributes, Need::sw_protected_vm) {
  const int vm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
  c.expect_err(c.set_attributes(vm, 0, 0, KVM_MEMORY_ATTRIBUTE_PRIVATE), EINVAL);
  c.expect_err(c.set_attributes(vm, 0xfffffffffffff000ull, 8 * KiB, KVM_MEMORY_ATTRIBUTE_PRIVATE), EINVAL);
}

KVMSIM_CASE(attributes, unaligned, Need::memory_attributes, Need::sw_protected_vm) {
  const int vm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
  c.expect_err(c.set_attributes(vm, 0x800, 4 * KiB, KVM_MEMORY_ATTRIBUTE_PRIVATE), EINVAL);
  c.expect_err(c.set_attributes(vm, 0, 0x1800, KVM_MEMORY_ATTRIBUTE_PRIVATE), EINVAL);
  c.expect_err(c.set_attributes(vm, 1, 1, KVM_MEMORY_ATTRIBUTE_PRIVATE), EINVAL);
}

// Memslots are not required: any GPA range may carry attributes.
KVMSIM_CASE(attributes, private_without_memslots, Need::memory_attributes, Need::sw_protected_vm) {
  const int vm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
  c.expect_ok(c.set_attributes(vm, 4 * GiB, 2 * MiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  c.expect_ok(c.set_attributes(vm, 4 * GiB, 2 * MiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));  // already set: no-op
  c.expect_ok(c.set_attributes(vm, 4 * GiB + 4 * KiB, 4 * KiB, 0));
  c.expect_ok(c.set_attributes(vm, 4 * GiB, 2 * MiB, 0));
}

KVMSIM_CASE(attributes, private_over_gmem_slot, Need::memory_attributes, Need::sw_protected_vm, Need::guest_memfd) {
  const int vm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
  const u64 mem = c.mmap(4 * MiB);
  const int fd = c.create_gmem(vm, 4 * MiB);
  c.add_slot(vm, make_gmem_region(0, 0, 4 * MiB, mem, fd));
  c.expect_ok(c.set_attributes(vm, 0, 4 * MiB, KVM_MEMORY_ATTRIBUTE_PRIVATE));
  c.expect_ok(c.set_attributes(vm, 1 * MiB, 4 * KiB, 0));
  c.expect_ok(c.set_attributes(vm, 0, 8 * MiB, 0));  // range larger than the slot
}

// A 1 GiB range far above any slot is accepted.
KVMSIM_CASE(attributes, large_range_without_slots, Need::memory_attributes, Need::sw_protected_vm) {
  const int vm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
  c.expect_ok(c.set_attributes(vm, 1ull << 40, 1ull << 30, KVM_MEMORY_ATTRIBUTE_PRIVATE));
}
