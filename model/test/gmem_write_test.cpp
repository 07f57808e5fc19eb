// guest_memfd "populate via write()" v7 (model/vm/gmem_write.cpp, docs/semantics/gmem-write.md): one test per
// errno path of kvm_gmem_write_begin() and generic_perform_write() as posted, plus what host and guest read.
#include "model/test/mmu_fixture.h"

namespace kvmsim::model::test {
namespace {

constexpr u64 kWrite = 1ull << 2;  // GUEST_MEMFD_FLAG_WRITE in v7 (profile data)
constexpr u64 kShared = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;

struct GmemWriteTest : MmuTest {
  GmemWriteTest() : MmuTest("gmem-write-populate") {}
  // A DEFAULT VM with a 64K MMAP|INIT_SHARED|WRITE guest_memfd bound at 1G (a guest_memfd-only slot).
  void SetUp() override {
    open_vm(KVM_X86_DEFAULT_VM);
    fd = gmem(vm, 64 * K, kShared | kWrite);
    ASSERT_EQ(set_gmem_slot(0, 1 * G, 64 * K, mem(64 * K, Backing::anon_nohuge), fd), ok());
  }
  int fd = -1;
};

TEST_F(GmemWriteTest, ProfileCarriesTheFlagBitAndItsTable) {
  EXPECT_EQ(kvm.profile().gmem_write_flag, kWrite);
  EXPECT_EQ(kvm.ioctl_check_extension(kvm.kvm_fd(), KVM_CAP_GUEST_MEMFD_FLAGS), ok(kShared | kWrite));
  EXPECT_EQ(kvm.ioctl_check_extension(vm, KVM_CAP_GUEST_MEMFD_FLAGS), ok(kShared | kWrite));
}

TEST_F(GmemWriteTest, PageAlignedWriteSucceedsAndBothSidesReadIt) {
  EXPECT_EQ(kvm.pwrite(fd, 4 * K, 8 * K, 0xfeed), ok(8 * K));
  const Ret h = kvm.mmap_fd(fd, 64 * K, 0, PROT_READ | PROT_WRITE, MAP_SHARED);
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(kvm.peek(static_cast<u64>(h.ret) + 8 * K), ok(0xfeed));
  const AccessOutcome o = kvm.access_value(vcpu, 1 * G + 4 * K, AccessKind::read, 0);
  EXPECT_EQ(o.kind, AccessOutcome::Kind::ok);
  EXPECT_EQ(o.value, 0xfeedu);
  EXPECT_FALSE(o.unspecified);
}

TEST_F(GmemWriteTest, NoWriteFlagIsEnodevBeforeAnyOtherCheck) {
  const int plain = gmem(vm, 64 * K, kShared);
  EXPECT_EQ(kvm.pwrite(plain, 0, 4 * K, 1), fail(ENODEV));
  EXPECT_EQ(kvm.pwrite(plain, 1, 1, 1), fail(ENODEV)) << "unaligned, but the flag is checked first";
  EXPECT_EQ(kvm.pwrite(plain, 1 * M, 4 * K, 1), fail(ENODEV)) << "beyond EOF, but the flag is checked first";
}

TEST_F(GmemWriteTest, BeyondEofIsEinval) { EXPECT_EQ(kvm.pwrite(fd, 64 * K, 4 * K, 1), fail(EINVAL)); }

TEST_F(GmemWriteTest, UnalignedOffsetOrCountIsEinval) {
  EXPECT_EQ(kvm.pwrite(fd, 0, 1, 1), fail(EINVAL)) << "the selftest's unaligned count";
  EXPECT_EQ(kvm.pwrite(fd, 1, 4 * K, 1), fail(EINVAL)) << "the selftest's unaligned offset";
}

TEST_F(GmemWriteTest, LaterChunkFailingReturnsTheBytesWritten) {
  EXPECT_EQ(kvm.pwrite(fd, 0, 6 * K, 7), ok(4 * K)) << "the 2K tail chunk is unaligned";
  EXPECT_EQ(kvm.pwrite(fd, 60 * K, 8 * K, 7), ok(4 * K)) << "the second page is beyond EOF";
}

TEST_F(GmemWriteTest, ZeroLengthWriteIsEfaultAndReported) {
  EXPECT_EQ(kvm.pwrite(fd, 0, 0, 0), fail(EFAULT));
  EXPECT_EQ(kvm.take_diagnostic().text.rfind("kernel-bug:", 0), 0u);
}

TEST_F(GmemWriteTest, NegativeOffsetIsEinvalBeforeTheFile) { EXPECT_EQ(kvm.pwrite(fd, ~0ull, 4 * K, 1), fail(EINVAL)); }

TEST_F(GmemWriteTest, WriteAdvancesTheFilePosition) {
  EXPECT_EQ(kvm.write(fd, 4 * K), ok(4 * K));
  EXPECT_EQ(kvm.write(fd, 2 * K), fail(EINVAL)) << "the position is 4K, the count unaligned";
}

TEST_F(GmemWriteTest, NoReadEvenWithTheFlag) {
  EXPECT_EQ(kvm.read(fd, 4 * K), fail(EINVAL)) << "no read_iter: FMODE_CAN_READ clear";
  EXPECT_EQ(kvm.pread(fd, 4 * K, 0), fail(ESPIPE)) << "no FMODE_PREAD";
}

TEST_F(GmemWriteTest, PrivateVmCannotCreateTheFlag) {
  open_vm(KVM_X86_SW_PROTECTED_VM);
  kvm_create_guest_memfd g{64 * K, kWrite, {}};
  EXPECT_EQ(kvm.ioctl_create_guest_memfd(vm, g), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_check_extension(vm, KVM_CAP_GUEST_MEMFD_FLAGS), ok(GUEST_MEMFD_FLAG_MMAP));
}

TEST(GmemWriteUpstream, GuestMemfdHasNoWriteOnLinux73) {
  Kvm kvm(*find_profile("linux-7.3"));
  const int vm = static_cast<int>(kvm.ioctl_create_vm(kvm.kvm_fd(), KVM_X86_DEFAULT_VM).ret);
  kvm_create_guest_memfd with_flag{64 * K, kWrite, {}};
  EXPECT_EQ(kvm.ioctl_create_guest_memfd(vm, with_flag), fail(EINVAL)) << "bit 2 is unknown";
  kvm_create_guest_memfd g{64 * K, kShared, {}};
  const Ret fd = kvm.ioctl_create_guest_memfd(vm, g);
  ASSERT_TRUE(fd.is_ok());
  EXPECT_EQ(kvm.pwrite(static_cast<int>(fd.ret), 0, 4 * K, 1), fail(ESPIPE));
  EXPECT_EQ(kvm.write(static_cast<int>(fd.ret), 4 * K), fail(EINVAL));
}

}  // namespace
}  // namespace kvmsim::model::test
