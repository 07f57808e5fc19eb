// KVM_PRE_FAULT_MEMORY through the TDP fault path (docs/semantics/pre-fault.md).
#include <chrono>
#include <cstdio>

#include "model/test/mmu_fixture.h"

namespace kvmsim::model::test {
namespace {

TEST_F(MmuTest, SelftestShapeTwoMegPlusFourK) {
  open_vm();
  const u64 t = mem(2 * M + 4 * K, Backing::thp);
  ASSERT_EQ(set_slot(10, 0, 3 * G, 2 * M + 4 * K, t), ok());
  u64 left = 0;
  EXPECT_EQ(prefault(3 * G, 2 * M, &left), ok());
  EXPECT_EQ(left, 0u);
  EXPECT_EQ(level(3 * G), 2);
  EXPECT_FALSE(map(3 * G).accessed) << "prefetch never sets Accessed";
  EXPECT_FALSE(map(3 * G).writable) << "untouched THP: huge zero page";
  // 4K mapped (tail page), then no slot: progress hides the ENOENT.
  EXPECT_EQ(prefault(3 * G + 2 * M, 8 * K, &left), ok());
  EXPECT_EQ(left, 4 * K);
  EXPECT_EQ(level(3 * G + 2 * M), 1);
  EXPECT_EQ(prefault(3 * G + 2 * M + 4 * K, 4 * K, &left), fail(ENOENT));
  EXPECT_EQ(left, 4 * K);
}

TEST_F(MmuTest, ProgressIsTheRestOfTheMappedPage) {
  open_vm();
  const u64 h = mem(1 * G, Backing::hugetlb_1g);
  ASSERT_EQ(kvm.touch(h, 1 * G), ok());
  ASSERT_EQ(set_slot(0, 0, 1 * G, 1 * G, h), ok());
  // One step maps the 1G page and consumes the rest of it: from 1G+5M to 2G in one step, but
  // the request is only 12K, so 12K are consumed.
  u64 left = 1;
  EXPECT_EQ(prefault(1 * G + 5 * M, 12 * K, &left), ok());
  EXPECT_EQ(left, 0u);
  EXPECT_EQ(map(1 * G), (Mapping{3, 1 * G, true, true, false, false, true})) << "touched: writable";
  // Spurious: the leaf is already there; progress still counts.
  EXPECT_EQ(prefault(1 * G, 1 * G, &left), ok());
  EXPECT_EQ(left, 0u);
  EXPECT_EQ(stat("pages_1g"), 1u);
}

TEST_F(MmuTest, PrefaultNeverBreaksCowNorReplacesLeaves) {
  open_vm();
  const u64 m = mem(8 * K, Backing::anon_nohuge);
  ASSERT_EQ(set_slot(0, 0, 0, 8 * K, m), ok());
  EXPECT_EQ(kvm.access(vcpu, 0, AccessKind::read), ok_outcome());
  ASSERT_TRUE(map(0).accessed);
  EXPECT_EQ(prefault(0, 8 * K), ok());
  EXPECT_TRUE(map(0).accessed) << "a present leaf is left alone by prefetch";
  EXPECT_FALSE(map(4 * K).writable);
  EXPECT_FALSE(map(4 * K).accessed);
}

TEST_F(MmuTest, ErrorsWithoutProgress) {
  open_vm(KVM_X86_SW_PROTECTED_VM);
  const u64 m = mem(4 * M, Backing::anon_nohuge);
  ASSERT_EQ(set_slot(0, 0, 0, 4 * M, m), ok());
  ASSERT_EQ(attrs(1 * M, 4 * K, KVM_MEMORY_ATTRIBUTE_PRIVATE), ok());
  u64 left = 0;
  EXPECT_EQ(prefault(1 * M, 8 * K, &left), fail(EFAULT)) << "private gfn, slot without guest_memfd";
  EXPECT_EQ(left, 8 * K);
  EXPECT_EQ(prefault(1 * M - 8 * K, 16 * K, &left), ok()) << "two pages done, then EFAULT";
  EXPECT_EQ(left, 8 * K);
  EXPECT_EQ(prefault(8 * M, 4 * K, &left), fail(ENOENT));
  EXPECT_EQ(prefault(0, 0, &left), fail(EINVAL));
  // hva never mmapped: the host fault fails.
  ASSERT_EQ(set_slot(1, 0, 1 * G, 4 * K, 0x7000000000), ok());
  EXPECT_EQ(prefault(1 * G, 4 * K, &left), fail(EFAULT));
}

TEST_F(MmuTest, PrivateGmemPrefaultIs4K) {
  open_vm(KVM_X86_SW_PROTECTED_VM);
  const u64 t = mem(2 * M, Backing::hugetlb_2m);
  const int g = gmem(vm, 2 * M);
  ASSERT_EQ(set_gmem_slot(0, 2 * M, 2 * M, t, g), ok());
  ASSERT_EQ(attrs(2 * M, 2 * M, KVM_MEMORY_ATTRIBUTE_PRIVATE), ok());
  EXPECT_EQ(prefault(2 * M, 2 * M), ok());
  EXPECT_EQ(stats_text(), "nx_lpage_splits=0 pages_1g=0 pages_2m=0 pages_4k=512 ");
  EXPECT_TRUE(map(3 * M).is_private);
  // Converting to shared zaps the range; the region is uniform again, so hugetlb gives 2M.
  ASSERT_EQ(attrs(2 * M, 2 * M, 0), ok());
  EXPECT_EQ(stat("pages_4k"), 0u);
  EXPECT_EQ(prefault(2 * M, 4 * K), ok());
  EXPECT_EQ(level(2 * M), 2);
}

struct PvmPrefault : MmuTest {
  PvmPrefault() : MmuTest("linux-6.18-pvm") {}
};
TEST_F(PvmPrefault, ShadowPagingIsEopnotsupp) {
  open_vm();
  const u64 m = mem(2 * M, Backing::anon_nohuge);
  ASSERT_EQ(set_slot(0, 0, 0, 2 * M, m), ok());
  u64 left = 0;
  EXPECT_EQ(prefault(0, 4 * K, &left), fail(EOPNOTSUPP));
  EXPECT_EQ(left, 4 * K);
}

// Performance: 64 GiB at 4K is 16M pre-fault steps and 16M leaves (no timing assertion).
TEST_F(MmuTest, Prefault64GiBAt4K) {
  open_vm();
  const u64 m = mem(64 * G, Backing::anon_nohuge);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 64 * G, m)), ok());
  const auto t0 = std::chrono::steady_clock::now();
  kvm_pre_fault_memory p{};
  p.gpa = 0;
  p.size = 64 * G;
  ASSERT_EQ(kvm.ioctl_pre_fault_memory(vcpu, p), ok());
  EXPECT_EQ(p.size, 0u);
  const auto t1 = std::chrono::steady_clock::now();
  check();
  const auto t2 = std::chrono::steady_clock::now();
  EXPECT_EQ(stat("pages_4k"), 16ull * M);
  std::printf("pre-fault 64 GiB at 4K: %.2f s, check_invariants: %.2f s\n",
              std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count());
}

}  // namespace
}  // namespace kvmsim::model::test
