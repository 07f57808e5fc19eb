// Helpers for the TDP MMU integration tests: a ModelTest with one VM and vCPU, short calls for
// pre-fault / access / stats / mapping, and check_invariants after every operation.
#pragma once

#include <string>

#include "model/mmu/invariants.h"
#include "model/test/model_fixture.h"

namespace kvmsim::model::test {

struct MmuTest : ModelTest {
  explicit MmuTest(const char* profile = "linux-6.18") : ModelTest(profile) {}

  void open_vm(u64 type = KVM_X86_DEFAULT_VM) {
    vm = new_vm(type);
    Ret r = kvm.ioctl_create_vcpu(vm, 0);
    ASSERT_TRUE(r.is_ok()) << r.err;
    vcpu = static_cast<int>(r.ret);
  }
  void check() { check_invariants(*kvm.vm(vm)); }
  Ret set_slot(u32 slot, u32 flags, u64 gpa, u64 size, u64 hva) {
    Ret r = kvm.ioctl_set_user_memory_region(vm, region(slot, flags, gpa, size, hva));
    check();
    return r;
  }
  Ret set_gmem_slot(u32 slot, u64 gpa, u64 size, u64 hva, int gmem_fd, u64 off = 0) {
    Ret r = kvm.ioctl_set_user_memory_region2(vm, region2(slot, KVM_MEM_GUEST_MEMFD, gpa, size, hva, gmem_fd, off));
    check();
    return r;
  }
  Ret attrs(u64 gpa, u64 size, u64 a) {
    kvm_memory_attributes m{gpa, size, a, 0};
    Ret r = kvm.ioctl_set_memory_attributes(vm, m);
    check();
    return r;
  }
  // Returns the ioctl result; `left` receives the remaining size.
  Ret prefault(u64 gpa, u64 size, u64* left = nullptr) {
    kvm_pre_fault_memory p{};
    p.gpa = gpa;
    p.size = size;
    Ret r = kvm.ioctl_pre_fault_memory(vcpu, p);
    if (left) *left = p.size;
    EXPECT_EQ(p.gpa + p.size, gpa + size) << "gpa/size must move together";
    check();
    return r;
  }
  AccessOutcome access(u64 gpa, AccessKind k) {
    AccessOutcome o = kvm.access(vcpu, gpa, k);
    check();
    return o;
  }
  Mapping map(u64 gpa) { return *kvm.mapping(vm, gpa); }
  int level(u64 gpa) { return map(gpa).level; }
  u64 stat(const std::string& name) { return kvm.stats(vm)->at(name); }
  std::string stats_text() {
    std::string s;
    const Stats st = kvm.stats(vm).value();
    for (const auto& [k, v] : st) s += k + "=" + std::to_string(v) + " ";
    return s;
  }
  Vm& v() { return *kvm.vm(vm); }

  int vm = -1;
  int vcpu = -1;
};

inline AccessOutcome ok_outcome() { return AccessOutcome{AccessOutcome::Kind::ok}; }
inline AccessOutcome mmio_outcome() { return AccessOutcome{AccessOutcome::Kind::mmio}; }
inline AccessOutcome error_outcome(int e) { return AccessOutcome{AccessOutcome::Kind::error, e}; }
inline AccessOutcome memory_fault_outcome(u64 flags, u64 gpa) {
  return AccessOutcome{AccessOutcome::Kind::memory_fault, EFAULT, flags, gpa, 4096};
}

}  // namespace kvmsim::model::test
