// Memory contents through the Kvm (docs/semantics/memory-contents.md): per-backing freeing rules, the
// huge zero page, hugetlb, guest accesses through slots and guest_memfd, SIGBUS, and the O(written) cost.
#include <csignal>

#include "model/test/model_fixture.h"

namespace kvmsim::model::test {
namespace {

u64 value(const Ret& r) {
  EXPECT_TRUE(r.is_ok()) << r.err << " sig " << r.sig;
  return static_cast<u64>(r.ret);
}

TEST_F(ModelTest, DontneedFreesPrivateButNotSharedPages) {  // §2.2
  for (Backing b : {Backing::anon, Backing::thp, Backing::hugetlb_2m, Backing::shmem}) {
    const u64 m = mem(4 * M, b);
    ASSERT_EQ(kvm.poke(m + 8, 0x1234), ok());
    ASSERT_EQ(kvm.madvise(m, 2 * M, MADV_DONTNEED), ok());
    EXPECT_EQ(value(kvm.peek(m + 8)), b == Backing::shmem ? 0x1234u : 0u) << backing_name(b);
  }
}

TEST_F(ModelTest, HugeZeroPageCowKeepsTheRestZero) {  // §2.1
  const u64 m = mem(2 * M, Backing::thp);
  EXPECT_EQ(value(kvm.peek(m)), 0u);
  ASSERT_EQ(kvm.host().chunk_state(m), HostMemory::Chunk::huge_zero);
  ASSERT_EQ(kvm.poke(m + M, 0xff), ok());
  EXPECT_EQ(value(kvm.peek(m + M)), 0xffu);
  EXPECT_EQ(value(kvm.peek(m)), 0u);
  EXPECT_EQ(value(kvm.peek(m + 2 * M - 8)), 0u);
}

TEST_F(ModelTest, RefusedHostAccesses) {  // §4
  const u64 m = mem(8 * K);
  ASSERT_EQ(kvm.mprotect(m + 4 * K, 4 * K, PROT_READ), ok());
  EXPECT_EQ(kvm.poke(m + 4 * K, 1), fail(EFAULT));
  EXPECT_EQ(kvm.poke(m + 4 * K - 4, 1), fail(EFAULT));  // the second page refuses
  EXPECT_EQ(value(kvm.peek(m + 4 * K)), 0u);
  EXPECT_EQ(kvm.peek(m + 8 * K), fail(EFAULT));
  const int vm = new_vm();
  const int g = gmem(vm, 8 * K, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  const u64 h = value(kvm.mmap_fd(g, 12 * K, 0, PROT_READ | PROT_WRITE, MAP_SHARED));
  EXPECT_EQ(kvm.poke(h + 8 * K - 4, 1), Ret::signal(SIGBUS));  // straddles into the page beyond EOF
  EXPECT_EQ(value(kvm.peek(h + 8 * K - 8)), 0u);
  EXPECT_EQ(kvm.touch(h, 12 * K), Ret::signal(SIGBUS));
}

TEST_F(ModelTest, GuestSeesTheSlotsHostPages) {  // §5.2
  const int vm = new_vm();
  const int vcpu = static_cast<int>(kvm.ioctl_create_vcpu(vm, 0).ret);
  const u64 m = mem(2 * M, Backing::hugetlb_2m);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, G, 2 * M, m)), ok());
  ASSERT_EQ(kvm.poke(m + 0x100, 0xabc), ok());
  EXPECT_EQ(kvm.access_value(vcpu, G + 0x100, AccessKind::read, 0).value, 0xabcu);
  EXPECT_EQ(kvm.access_value(vcpu, G + 0x200, AccessKind::write, 0x77).kind, AccessOutcome::Kind::ok);
  EXPECT_EQ(value(kvm.peek(m + 0x200)), 0x77u);
  // A plain write stores the byte 0.
  ASSERT_EQ(kvm.poke(m + 0x300, 0xffff), ok());
  ASSERT_EQ(kvm.access(vcpu, G + 0x300, AccessKind::write).kind, AccessOutcome::Kind::ok);
  EXPECT_EQ(value(kvm.peek(m + 0x300)), 0xff00u);
  // No slot: the access exits to userspace and moves nothing.
  EXPECT_EQ(kvm.access_value(vcpu, 4 * G, AccessKind::write, 1).kind, AccessOutcome::Kind::mmio);
}

TEST_F(ModelTest, PrivateGfnsReachTheGuestMemfd) {  // §5.1
  const int vm = new_vm(KVM_X86_SW_PROTECTED_VM);
  const int vcpu = static_cast<int>(kvm.ioctl_create_vcpu(vm, 0).ret);
  const u64 m = mem(2 * M);
  const int g = gmem(vm, 2 * M);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region2(vm, region2(0, KVM_MEM_GUEST_MEMFD, G, 2 * M, m, g)), ok());
  ASSERT_EQ(kvm.ioctl_set_memory_attributes(vm, {G, 4 * K, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0}), ok());
  ASSERT_EQ(kvm.access_value(vcpu, G + 8, AccessKind::write, 0x5).kind, AccessOutcome::Kind::ok);
  EXPECT_EQ(value(kvm.peek(m + 8)), 0u);
  EXPECT_EQ(kvm.access_value(vcpu, G + 8, AccessKind::read, 0).value, 0x5u);
  // Closing the guest_memfd releases its folios (the slot then faults with EFAULT).
  ASSERT_EQ(kvm.close(g), ok());
  EXPECT_EQ(kvm.host().contents().run_count(), 0u);
}

TEST_F(ModelTest, ContentCostIsTheRangesWritten) {  // §1
  const int vm = new_vm();
  const int vcpu = static_cast<int>(kvm.ioctl_create_vcpu(vm, 0).ret);
  const u64 m = mem(1ull << 40, Backing::anon_nohuge);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 1ull << 40, m)), ok());
  for (u64 gpa = 0; gpa < (1ull << 40); gpa += 1ull << 34)
    ASSERT_EQ(kvm.access_value(vcpu, gpa, AccessKind::read, 0).value, 0u);
  EXPECT_EQ(kvm.host().contents().run_count(), 0u);
  ASSERT_EQ(kvm.poke(m, 1), ok());
  EXPECT_EQ(kvm.host().contents().run_count(), 1u);
}

}  // namespace
}  // namespace kvmsim::model::test
