// SMM: address space 1's memslots and roots (docs/semantics/smm.md §2, §3): a vCPU in SMM faults through
// the slots of address space 1 into its own root; a zap of an as_id 1 slot leaves the normal root alone,
// and the other way round; the host MMU notifier reaches both; a VM with one address space answers nothing.
#include "model/test/model_fixture.h"

namespace kvmsim::model::test {
namespace {

constexpr u32 kSmm = 1u << 16;

struct SmmTest : ModelTest {
  SmmTest() : ModelTest("linux-6.12") {}
  int vcpu(int vm) {
    Ret r = kvm.ioctl_create_vcpu(vm, 0);
    EXPECT_TRUE(r.is_ok()) << r.err;
    return static_cast<int>(r.ret);
  }
  AccessOutcome smm(int cpu, u64 gpa, AccessKind k = AccessKind::read) {
    auto o = kvm.access_smm(cpu, gpa, k, false, 0);
    EXPECT_TRUE(o.has_value());
    return o.value_or(AccessOutcome{AccessOutcome::Kind::error, EINVAL});
  }
  int level(int vm, u64 gpa, bool in_smm) {
    auto m = in_smm ? kvm.mapping_smm(vm, gpa) : kvm.mapping(vm, gpa);
    EXPECT_TRUE(m.has_value());
    return m ? m->level : -1;
  }
};

TEST_F(SmmTest, SeparateSlotsAndRoots) {
  const int vm = new_vm();
  // Slot deletes zap only their slot's range (docs/semantics/tdp-mmu.md §5.1).
  ASSERT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_DISABLE_QUIRKS2, KVM_X86_QUIRK_SLOT_ZAP_ALL)), ok());
  const int cpu = vcpu(vm);
  const u64 low = mem(2 * M), smram = mem(128 * K);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 2 * M, low)), ok());
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(kSmm | 0, 0, 0, 2 * M, low)), ok());
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(kSmm | 1, 0, 4 * G, 128 * K, smram)), ok());
  // A GPA only address space 1 covers: MMIO normally, RAM in SMM.
  EXPECT_EQ(kvm.access(cpu, 4 * G, AccessKind::write).kind, AccessOutcome::Kind::mmio);
  EXPECT_EQ(smm(cpu, 4 * G, AccessKind::write).kind, AccessOutcome::Kind::ok);
  EXPECT_EQ(level(vm, 4 * G, true), 1);
  EXPECT_EQ(level(vm, 4 * G, false), 0);
  // The same GPA in both views is two leaves, one per root.
  EXPECT_EQ(kvm.access(cpu, 8 * K, AccessKind::write).kind, AccessOutcome::Kind::ok);
  EXPECT_EQ(level(vm, 8 * K, true), 0);
  EXPECT_EQ(smm(cpu, 8 * K).kind, AccessOutcome::Kind::ok);
  EXPECT_EQ(level(vm, 8 * K, true), level(vm, 8 * K, false));
  EXPECT_NE(level(vm, 8 * K, true), 0);
  // Deleting the normal slot zaps only the normal root.
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 0, low)), ok());
  EXPECT_EQ(level(vm, 8 * K, false), 0);
  EXPECT_NE(level(vm, 8 * K, true), 0);
  EXPECT_EQ(kvm.access(cpu, 8 * K, AccessKind::read).kind, AccessOutcome::Kind::mmio);
  // Deleting an SMM slot zaps only the SMM root.
  EXPECT_EQ(kvm.access(cpu, 4 * G, AccessKind::read).kind, AccessOutcome::Kind::mmio);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(kSmm | 1, 0, 4 * G, 0, smram)), ok());
  EXPECT_EQ(level(vm, 4 * G, true), 0);
  EXPECT_EQ(smm(cpu, 4 * G).kind, AccessOutcome::Kind::mmio);
}

TEST_F(SmmTest, HostInvalidationReachesBothRoots) {
  const int vm = new_vm();
  const int cpu = vcpu(vm);
  const u64 m = mem(2 * M);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * G, 2 * M, m)), ok());
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(kSmm | 0, 0, 1 * G, 2 * M, m)), ok());
  ASSERT_EQ(kvm.access(cpu, 1 * G, AccessKind::write).kind, AccessOutcome::Kind::ok);
  ASSERT_EQ(smm(cpu, 1 * G).kind, AccessOutcome::Kind::ok);
  ASSERT_EQ(kvm.madvise(m, 2 * M, MADV_DONTNEED), ok());
  EXPECT_EQ(level(vm, 1 * G, false), 0);
  EXPECT_EQ(level(vm, 1 * G, true), 0);
}

TEST_F(SmmTest, OneAddressSpaceAnswersNothing) {
  Kvm k(*find_profile("linux-6.12-swprot"));
  Ret vm = k.ioctl_create_vm(k.kvm_fd(), KVM_X86_SW_PROTECTED_VM);
  ASSERT_TRUE(vm.is_ok());
  Ret cpu = k.ioctl_create_vcpu(static_cast<int>(vm.ret), 0);
  ASSERT_TRUE(cpu.is_ok());
  EXPECT_FALSE(k.access_smm(static_cast<int>(cpu.ret), 0, AccessKind::read, false, 0).has_value());
  EXPECT_FALSE(k.mapping_smm(static_cast<int>(vm.ret), 0).has_value());
}

}  // namespace
}  // namespace kvmsim::model::test
