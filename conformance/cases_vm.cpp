// VM creation and KVM_CHECK_EXTENSION (docs/semantics/vm-and-caps.md §2-§4; docs/semantics/host-kvm-pvm.md §1).
#include <cerrno>

#include "conformance/case.h"

using namespace kvmsim;
using namespace kvmsim::conf;
using namespace kvmsim::uapi;

KVMSIM_CASE(vm, create_default_vm) {
  c.expect_ok(c.create_vm_raw(KVM_X86_DEFAULT_VM));
}

// Every type below 32 is accepted iff its bit is in KVM_CAP_VM_TYPES; 32 and above never.
KVMSIM_CASE(vm, create_vm_types_follow_cap) {
  const u64 types = c.caps().vm_types ? c.caps().vm_types : 1;
  for (u64 type = 0; type <= 8; ++type) {
    if (types & (1ull << type))
      c.expect_ok(c.create_vm_raw(type));
    else
      c.expect_err(c.create_vm_raw(type), EINVAL);
  }
  c.expect_err(c.create_vm_raw(31), EINVAL);
  c.expect_err(c.create_vm_raw(32), EINVAL);
  c.expect_err(c.create_vm_raw(1ull << 40), EINVAL);
}

KVMSIM_CASE(vm, create_sw_protected_vm, Need::sw_protected_vm) {
  c.expect_ok(c.create_vm_raw(KVM_X86_SW_PROTECTED_VM));
}

KVMSIM_CASE(vm, cap_unknown_is_zero) {
  const int vm = c.create_vm();
  c.expect_ret(c.check_extension(c.api().kvm_fd(), 100000), Ret::ok(0));
  c.expect_ret(c.check_extension(vm, 100000), Ret::ok(0));
}

// Fixed upstream answers on x86 (docs/semantics/vm-and-caps.md §4).
KVMSIM_CASE(vm, cap_fixed_values) {
  const int kvm = c.api().kvm_fd();
  const int vm = c.create_vm();
  for (int fd : {kvm, vm}) {
    c.expect_ret(c.check_extension(fd, KVM_CAP_USER_MEMORY), Ret::ok(1));
    c.expect_ret(c.check_extension(fd, KVM_CAP_NR_MEMSLOTS), Ret::ok(KVM_USER_MEM_SLOTS));
    c.expect_ret(c.check_extension(fd, KVM_CAP_SYNC_MMU), Ret::ok(1));
  }
}

KVMSIM_CASE(vm, cap_readonly_mem_default_vm, Need::readonly_mem) {
  const int vm = c.create_vm();
  c.expect_ret(c.check_extension(vm, KVM_CAP_READONLY_MEM), Ret::ok(1));
}

KVMSIM_CASE(vm, cap_manual_dirty_log_protect2, Need::manual_dirty_log) {
  c.expect_ret(c.check_extension(c.api().kvm_fd(), KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2),
               Ret::ok(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET));
}

KVMSIM_CASE(vm, cap_user_memory2_and_fault_info, Need::user_memory2) {
  c.expect_ret(c.check_extension(c.api().kvm_fd(), KVM_CAP_USER_MEMORY2), Ret::ok(1));
  c.expect_ret(c.check_extension(c.api().kvm_fd(), KVM_CAP_MEMORY_FAULT_INFO), Ret::ok(1));
}

// KVM_CAP_GUEST_MEMFD_FLAGS: the default VM may use INIT_SHARED, a VM with private memory not.
KVMSIM_CASE(vm, cap_guest_memfd_flags_per_vm_type, Need::guest_memfd, Need::sw_protected_vm) {
  const int vm = c.create_vm();
  const int pvm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
  const u64 sys = static_cast<u64>(c.must(c.check_extension(c.api().kvm_fd(), KVM_CAP_GUEST_MEMFD_FLAGS)));
  c.expect_ret(c.check_extension(vm, KVM_CAP_GUEST_MEMFD_FLAGS), Ret::ok(static_cast<i64>(sys)));
  c.expect_ret(c.check_extension(pvm, KVM_CAP_GUEST_MEMFD_FLAGS),
               Ret::ok(static_cast<i64>(sys & GUEST_MEMFD_FLAG_MMAP)));
}

// KVM_CAP_MEMORY_ATTRIBUTES: PRIVATE on /dev/kvm, 0 on a default VM, PRIVATE on a private VM.
KVMSIM_CASE(vm, cap_memory_attributes_per_vm_type, Need::memory_attributes) {
  const int vm = c.create_vm();
  c.expect_ret(c.check_extension(c.api().kvm_fd(), KVM_CAP_MEMORY_ATTRIBUTES),
               Ret::ok(static_cast<i64>(KVM_MEMORY_ATTRIBUTE_PRIVATE)));
  c.expect_ret(c.check_extension(vm, KVM_CAP_MEMORY_ATTRIBUTES), Ret::ok(0));
  if (c.has(Need::sw_protected_vm)) {
    const int pvm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
    c.expect_ret(c.check_extension(pvm, KVM_CAP_MEMORY_ATTRIBUTES),
                 Ret::ok(static_cast<i64>(KVM_MEMORY_ATTRIBUTE_PRIVATE)));
  }
}

// A VM with private memory has a single memslot address space.
KVMSIM_CASE(vm, cap_multi_address_space_private_vm, Need::sw_protected_vm, Need::smm_address_space) {
  const int vm = c.create_vm();
  const int pvm = c.create_vm(KVM_X86_SW_PROTECTED_VM);
  c.expect_ret(c.check_extension(vm, KVM_CAP_MULTI_ADDRESS_SPACE), Ret::ok(2));
  c.expect_ret(c.check_extension(pvm, KVM_CAP_MULTI_ADDRESS_SPACE), Ret::ok(1));
}

KVMSIM_CASE(vm, cap_pre_fault_matches_ioctl, Need::pre_fault) {
  c.expect_ret(c.check_extension(c.api().kvm_fd(), KVM_CAP_PRE_FAULT_MEMORY), Ret::ok(1));
}

// Two VMs are independent: a slot in one does not collide with the same slot in the other.
KVMSIM_CASE(vm, vms_have_independent_memslots) {
  const int a = c.create_vm();
  const int b = c.create_vm();
  const u64 mem = c.mmap(2 * MiB);
  c.expect_ok(c.region(a, make_region(0, 0, 2 * MiB, mem)));
  c.expect_ok(c.region(b, make_region(0, 0, 2 * MiB, mem)));
}

KVMSIM_CASE(vm, create_vcpu_ok) {
  const int vm = c.create_vm();
  c.create_vcpu(vm, 0);
  c.create_vcpu(vm, 1);
}

// KVM_CAP_VM_DISABLE_NX_HUGE_PAGES: flags and args[0] must be 0, and only before vCPUs exist.
// Enabling it also needs CAP_SYS_BOOT (EPERM otherwise); the suite runs privileged.
KVMSIM_CASE(vm, disable_nx_huge_pages_rules) {
  const int vm = c.create_vm();
  if (c.check_extension(vm, KVM_CAP_VM_DISABLE_NX_HUGE_PAGES).r.ret <= 0)
    c.skip("needs KVM_CAP_VM_DISABLE_NX_HUGE_PAGES");
  c.expect_err(c.enable_cap(vm, KVM_CAP_VM_DISABLE_NX_HUGE_PAGES, 1), EINVAL);
  c.expect_err(c.enable_cap(vm, KVM_CAP_VM_DISABLE_NX_HUGE_PAGES, 0, 1), EINVAL);
  c.expect_ok(c.enable_cap(vm, KVM_CAP_VM_DISABLE_NX_HUGE_PAGES, 0));
  const int late = c.create_vm();
  c.create_vcpu(late);
  c.expect_err(c.enable_cap(late, KVM_CAP_VM_DISABLE_NX_HUGE_PAGES, 0), EINVAL);
}

// KVM_CAP_DISABLE_QUIRKS2 accepts exactly the quirks it reports.
KVMSIM_CASE(vm, disable_quirks2_rules) {
  const int vm = c.create_vm();
  const Call cap = c.check_extension(vm, KVM_CAP_DISABLE_QUIRKS2);
  if (cap.r.ret <= 0) c.skip("needs KVM_CAP_DISABLE_QUIRKS2");
  const u64 mask = static_cast<u64>(cap.r.ret);
  c.expect_err(c.enable_cap(vm, KVM_CAP_DISABLE_QUIRKS2, 1ull << 40), EINVAL);
  c.expect_err(c.enable_cap(vm, KVM_CAP_DISABLE_QUIRKS2, mask, 1), EINVAL);
  c.expect_ok(c.enable_cap(vm, KVM_CAP_DISABLE_QUIRKS2, mask));
}
