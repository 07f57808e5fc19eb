// Dirty logging and the TDP MMU (docs/semantics/tdp-mmu.md §5.2-§5.3, docs/semantics/dirty-log.md): eager split + write-protect on
// enable, dirty bits from write faults, GET/CLEAR re-protection, recovery or zap on disable,
// and the lazy INITIALLY_SET path.
#include "model/test/mmu_fixture.h"

namespace kvmsim::model::test {
namespace {

using AK = AccessKind;

struct DirtyLogMmu : MmuTest {
  explicit DirtyLogMmu(const char* profile = "linux-6.18") : MmuTest(profile) {}
  // 4M hugetlb_2m slot at 1G, touched and pre-faulted: two writable 2M leaves.
  void setup(u64 manual = 0) {
    vm = new_vm();
    if (manual) {
      EXPECT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, manual)), ok());
    }
    vcpu = static_cast<int>(kvm.ioctl_create_vcpu(vm, 0).ret);
    hva = mem(4 * M, Backing::hugetlb_2m);
    ASSERT_EQ(kvm.touch(hva, 4 * M), ok());
    ASSERT_EQ(set_slot(0, 0, 1 * G, 4 * M, hva), ok());
    ASSERT_EQ(prefault(1 * G, 4 * M), ok());
    ASSERT_EQ(stats_text(), "nx_lpage_splits=0 pages_1g=0 pages_2m=2 pages_4k=0 ");
  }
  std::vector<u64> get() {
    std::vector<u64> bm;
    EXPECT_EQ(kvm.ioctl_get_dirty_log(vm, 0, bm), ok());
    check();
    return bm;
  }
  u64 hva = 0;
};

TEST_F(DirtyLogMmu, EnableSplitsAndProtectsDisableRecovers) {
  setup();
  ASSERT_EQ(set_slot(0, KVM_MEM_LOG_DIRTY_PAGES, 1 * G, 4 * M, hva), ok());
  EXPECT_EQ(stats_text(), "nx_lpage_splits=0 pages_1g=0 pages_2m=0 pages_4k=1024 ");
  EXPECT_FALSE(map(1 * G + 3 * M).writable);
  EXPECT_EQ(access(1 * G + 4 * K, AK::write), ok_outcome());
  EXPECT_EQ(access(1 * G + 8 * K, AK::read), ok_outcome());
  EXPECT_TRUE(map(1 * G + 4 * K).writable);
  EXPECT_FALSE(map(1 * G + 8 * K).writable) << "a read of a present leaf does not fault";
  std::vector<u64> bm = get();
  EXPECT_EQ(bm[0], 2u);
  EXPECT_FALSE(map(1 * G + 4 * K).writable) << "GET re-protects the reported page";
  EXPECT_EQ(get()[0], 0u);
  // Disable: recovered in place (6.13+), one 2M leaf per table.
  ASSERT_EQ(set_slot(0, 0, 1 * G, 4 * M, hva), ok());
  EXPECT_EQ(stats_text(), "nx_lpage_splits=0 pages_1g=0 pages_2m=2 pages_4k=0 ");
}

TEST_F(DirtyLogMmu, ReadOnlySlotIsNotSplit) {
  vm = new_vm();
  vcpu = static_cast<int>(kvm.ioctl_create_vcpu(vm, 0).ret);
  hva = mem(2 * M, Backing::hugetlb_2m);
  ASSERT_EQ(set_slot(0, KVM_MEM_READONLY, 0, 2 * M, hva), ok());
  ASSERT_EQ(prefault(0, 2 * M), ok());
  ASSERT_EQ(set_slot(0, KVM_MEM_READONLY | KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * M, hva), ok());
  EXPECT_EQ(level(0), 2);
}

TEST_F(DirtyLogMmu, InitiallySetSplitsLazilyPerClearedChunk) {
  setup(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET);
  ASSERT_EQ(set_slot(0, KVM_MEM_LOG_DIRTY_PAGES, 1 * G, 4 * M, hva), ok());
  EXPECT_EQ(level(1 * G), 2);
  EXPECT_TRUE(map(1 * G).writable);
  std::vector<u64> all(1, ~0ull);
  ASSERT_EQ(kvm.ioctl_clear_dirty_log(vm, 0, 512, 64, all), ok());
  check();
  EXPECT_EQ(level(1 * G), 2) << "the other 2M region is untouched";
  EXPECT_EQ(map(1 * G + 2 * M + 63 * 4 * K), (Mapping{1, 1 * G + 2 * M + 63 * 4 * K, false, true, false, false, true}));
  EXPECT_TRUE(map(1 * G + 2 * M + 64 * 4 * K).writable) << "only the cleared chunk is protected";
  EXPECT_EQ(stats_text(), "nx_lpage_splits=0 pages_1g=0 pages_2m=1 pages_4k=512 ");
}

struct DirtyLogMmu61 : DirtyLogMmu {
  DirtyLogMmu61() : DirtyLogMmu("linux-6.1") {}
};

TEST_F(DirtyLogMmu61, DisableZapsCollapsibleTables) {
  vm = new_vm();
  vcpu = static_cast<int>(kvm.ioctl_create_vcpu(vm, 0).ret);
  hva = mem(4 * M, Backing::hugetlb_2m);
  ASSERT_EQ(kvm.touch(hva, 4 * M), ok());
  ASSERT_EQ(set_slot(0, 0, 1 * G, 4 * M, hva), ok());
  EXPECT_EQ(access(1 * G, AK::write), ok_outcome());
  ASSERT_EQ(set_slot(0, KVM_MEM_LOG_DIRTY_PAGES, 1 * G, 4 * M, hva), ok());
  EXPECT_EQ(stat("pages_4k"), 512u);
  ASSERT_EQ(set_slot(0, 0, 1 * G, 4 * M, hva), ok());
  EXPECT_EQ(stats_text(), "nx_lpage_splits=0 pages_1g=0 pages_2m=0 pages_4k=0 ");
  EXPECT_EQ(access(1 * G, AK::read), ok_outcome());
  EXPECT_EQ(level(1 * G), 2);
}

TEST_F(DirtyLogMmu, WithoutEagerSplitHugeLeavesAreProtectedThenSplitByWrites) {
  Profile p = *find_profile("linux-6.18");
  p.eager_page_split = false;
  Kvm k(p);
  const int vmfd = static_cast<int>(k.ioctl_create_vm(k.kvm_fd(), KVM_X86_DEFAULT_VM).ret);
  const int cpu = static_cast<int>(k.ioctl_create_vcpu(vmfd, 0).ret);
  const u64 h = static_cast<u64>(k.mmap(2 * M, Backing::hugetlb_2m, 0).ret);
  ASSERT_EQ(k.touch(h, 2 * M), ok());
  ASSERT_EQ(k.ioctl_set_user_memory_region(vmfd, region(0, 0, 0, 2 * M, h)), ok());
  EXPECT_EQ(k.access(cpu, 0, AK::write), ok_outcome());
  ASSERT_EQ(k.ioctl_set_user_memory_region(vmfd, region(0, KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * M, h)), ok());
  EXPECT_EQ(*k.mapping(vmfd, 0), (Mapping{2, 0, false, true, false, true, true}));
  check_invariants(*k.vm(vmfd));
  EXPECT_EQ(k.access(cpu, 8 * K, AK::write), ok_outcome());
  EXPECT_EQ(k.mapping(vmfd, 8 * K)->level, 1);
  EXPECT_TRUE(k.mapping(vmfd, 8 * K)->writable);
  EXPECT_FALSE(k.mapping(vmfd, 0)->writable) << "split children inherit the write protection";
  check_invariants(*k.vm(vmfd));
}

}  // namespace
}  // namespace kvmsim::model::test
