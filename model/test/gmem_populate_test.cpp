// The KVM_GUEST_MEMFD_POPULATE RFC (model/vm/gmem_populate.cpp, docs/semantics/gmem-populate.md): one test per
// errno path of the posted ioctl and of the base's kvm_gmem_populate() loop.
#include "model/test/mmu_fixture.h"

namespace kvmsim::model::test {
namespace {

struct GmemPopulateTest : MmuTest {
  GmemPopulateTest() : MmuTest("gmem-populate-rfc") {}
  // A SW_PROTECTED VM, a 2M guest_memfd slot at 1G whose first 64K are PRIVATE, and a 64K source buffer.
  void SetUp() override {
    open_vm(KVM_X86_SW_PROTECTED_VM);
    fd = gmem(vm, 2 * M);
    ASSERT_EQ(set_gmem_slot(0, 1 * G, 2 * M, mem(2 * M, Backing::anon_nohuge), fd), ok());
    ASSERT_EQ(attrs(1 * G, 64 * K, KVM_MEMORY_ATTRIBUTE_PRIVATE), ok());
    src = mem(64 * K, Backing::anon_nohuge);
    ASSERT_EQ(kvm.touch(src, 64 * K), ok());
  }
  Ret populate(u64 gpa, u64 size, u64 from = 0, u32 process = 1) {
    kvm_guest_memfd_populate p{gpa, size, from, 0};
    Ret r = kvm.ioctl_guest_memfd_populate(vm, p, process);
    check();
    return r;
  }
  int fd = -1;
  u64 src = 0;
};

TEST_F(GmemPopulateTest, PagesDoneThenEexistUntilPunched) {
  EXPECT_EQ(populate(1 * G, 16 * K, src), ok(4));
  EXPECT_EQ(kvm.take_diagnostic().text.rfind("kernel-bug:", 0), 0u) << "the missing slots_lock";
  EXPECT_EQ(populate(1 * G, 16 * K, src), fail(EEXIST));
  EXPECT_EQ(populate(1 * G + 12 * K, 8 * K), fail(EEXIST)) << "stops at the first prepared page";
  EXPECT_EQ(populate(1 * G + 16 * K, 8 * K), ok(2));
  EXPECT_EQ(kvm.fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, 8 * K), ok());
  EXPECT_EQ(populate(1 * G, 16 * K), ok(2)) << "progress hides the EEXIST of page 2";
}

TEST_F(GmemPopulateTest, NotPrivateIsEinval) { EXPECT_EQ(populate(1 * G + 64 * K, 4 * K), fail(EINVAL)); }

TEST_F(GmemPopulateTest, NoGuestMemfdSlotIsEinval) {
  EXPECT_EQ(populate(2 * G, 4 * K), fail(EINVAL));
  ASSERT_EQ(kvm.ioctl_set_user_memory_region2(vm, region2(1, 0, 0, 2 * M, mem(2 * M, Backing::anon_nohuge))), ok());
  EXPECT_EQ(populate(0, 4 * K), fail(EINVAL));
}

TEST_F(GmemPopulateTest, UnreadableSourceIsEinval) { EXPECT_EQ(populate(1 * G, 4 * K, 0x1000), fail(EINVAL)); }

TEST_F(GmemPopulateTest, ClosedFileIsEfault) {
  ASSERT_EQ(kvm.close(fd), ok());
  EXPECT_EQ(populate(1 * G, 4 * K), fail(EFAULT));
}

TEST_F(GmemPopulateTest, SignalIsEintrWithoutProgress) {
  kvm.faults().arm(FaultRule{FaultSite::pre_fault_signal, 0, 1});
  EXPECT_EQ(populate(1 * G, 8 * K), fail(EINTR));
  kvm.faults().arm(FaultRule{FaultSite::pre_fault_signal, 1, 1});
  EXPECT_EQ(populate(1 * G, 8 * K), ok(1));
}

TEST_F(GmemPopulateTest, GuestPrivateFaultPreparesTheFolio) {
  ASSERT_EQ(kvm.access(vcpu, 1 * G + 4 * K, AccessKind::read).kind, AccessOutcome::Kind::ok);
  EXPECT_EQ(populate(1 * G + 4 * K, 4 * K), fail(EEXIST));
}

TEST_F(GmemPopulateTest, AnotherProcessMayCallIt) { EXPECT_EQ(populate(1 * G, 4 * K, 0, 2), ok(1)); }

TEST(GmemPopulateUpstream, UnknownIoctlAndOtherMmIsEio) {
  Kvm kvm(*find_profile("linux-6.12-swprot"));
  const int vm = static_cast<int>(kvm.ioctl_create_vm(kvm.kvm_fd(), KVM_X86_SW_PROTECTED_VM).ret);
  kvm_guest_memfd_populate p{1 * G, 4 * K, 0, 0};
  EXPECT_EQ(kvm.ioctl_guest_memfd_populate(vm, p, 1), fail(ENOTTY));
  EXPECT_EQ(kvm.ioctl_guest_memfd_populate(vm, p, 2), fail(EIO));
  EXPECT_EQ(kvm.ioctl_guest_memfd_populate(kvm.kvm_fd(), p, 1), fail(EINVAL));
}

}  // namespace
}  // namespace kvmsim::model::test
