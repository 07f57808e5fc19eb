// When mappings are zapped (docs/semantics/tdp-mmu.md §5): memslot delete/move (zap all vs. slot
// range), attribute changes, guest_memfd punch hole, host munmap/DONTNEED/mprotect; lpage_info
// recomputed on MOVE and kept on FLAGS_ONLY.
#include "model/test/mmu_fixture.h"

namespace kvmsim::model::test {
namespace {

using AK = AccessKind;

struct ZapTest : MmuTest {
  explicit ZapTest(const char* profile = "linux-6.18") : MmuTest(profile) {}
  // Two hugetlb_2m slots: 0 at 1G (2M), 1 at 2G (2M), both pre-faulted at 2M.
  void two_slots(u64 type = KVM_X86_DEFAULT_VM) {
    open_vm(type);
    a = mem(2 * M, Backing::hugetlb_2m);
    b = mem(2 * M, Backing::hugetlb_2m);
    ASSERT_EQ(set_slot(0, 0, 1 * G, 2 * M, a), ok());
    ASSERT_EQ(set_slot(1, 0, 2 * G, 2 * M, b), ok());
    ASSERT_EQ(prefault(1 * G, 2 * M), ok());
    ASSERT_EQ(prefault(2 * G, 2 * M), ok());
    ASSERT_EQ(stat("pages_2m"), 2u);
  }
  u64 a = 0, b = 0;
};

TEST_F(ZapTest, DeleteWithQuirkZapsEverything) {
  two_slots();
  ASSERT_EQ(set_slot(0, 0, 1 * G, 0, a), ok());
  EXPECT_EQ(stat("pages_2m"), 0u);
  EXPECT_EQ(level(2 * G), 0);
}

TEST_F(ZapTest, DeleteWithoutQuirkZapsOnlyTheSlot) {
  two_slots();
  ASSERT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_DISABLE_QUIRKS2, KVM_X86_QUIRK_SLOT_ZAP_ALL)), ok());
  ASSERT_EQ(set_slot(0, 0, 1 * G, 0, a), ok());
  EXPECT_EQ(level(1 * G), 0);
  EXPECT_EQ(level(2 * G), 2);
}

TEST_F(ZapTest, NonDefaultVmZapsOnlyTheSlot) {
  two_slots(KVM_X86_SW_PROTECTED_VM);
  ASSERT_EQ(set_slot(1, 0, 2 * G, 0, b), ok());
  EXPECT_EQ(level(1 * G), 2);
  EXPECT_EQ(level(2 * G), 0);
}

TEST_F(ZapTest, MoveRecomputesLpageInfo) {
  two_slots();
  ASSERT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_DISABLE_QUIRKS2, KVM_X86_QUIRK_SLOT_ZAP_ALL)), ok());
  // Move slot 0 to a 4K-aligned (not 2M-aligned) gpa: its old leaves go, new faults map 4K.
  ASSERT_EQ(set_slot(0, 0, 3 * G + 4 * K, 2 * M, a), ok());
  EXPECT_EQ(level(1 * G), 0);
  EXPECT_EQ(level(2 * G), 2);
  EXPECT_EQ(access(3 * G + 1 * M, AK::read), ok_outcome());
  EXPECT_EQ(level(3 * G + 1 * M), 1);
  // FLAGS_ONLY keeps the lpage_info: toggling dirty logging off and on changes no geometry.
  ASSERT_EQ(set_slot(1, KVM_MEM_LOG_DIRTY_PAGES, 2 * G, 2 * M, b), ok());
  ASSERT_EQ(set_slot(1, 0, 2 * G, 2 * M, b), ok());
  EXPECT_EQ(level(2 * G), 2);
}

struct ZapTest61 : ZapTest {
  ZapTest61() : ZapTest("linux-6.1") {}
};
TEST_F(ZapTest61, AlwaysZapAll) {
  open_vm();
  a = mem(2 * M, Backing::hugetlb_2m);
  b = mem(2 * M, Backing::hugetlb_2m);
  ASSERT_EQ(set_slot(0, 0, 1 * G, 2 * M, a), ok());
  ASSERT_EQ(set_slot(1, 0, 2 * G, 2 * M, b), ok());
  EXPECT_EQ(access(1 * G, AK::read), ok_outcome());
  EXPECT_EQ(access(2 * G, AK::read), ok_outcome());
  ASSERT_EQ(set_slot(1, 0, 4 * G, 2 * M, b), ok());  // move
  EXPECT_EQ(level(1 * G), 0);
}

TEST_F(ZapTest, AttributeChangeZapsPartialHugeLeafWholeAndMarksMixed) {
  open_vm(KVM_X86_SW_PROTECTED_VM);
  const u64 h = mem(4 * M, Backing::hugetlb_2m);
  const int g = gmem(vm, 4 * M);
  ASSERT_EQ(set_gmem_slot(0, 1 * G, 4 * M, h, g), ok());
  ASSERT_EQ(prefault(1 * G, 4 * M), ok());
  ASSERT_EQ(stat("pages_2m"), 2u);
  ASSERT_EQ(attrs(1 * G + 8 * K, 4 * K, KVM_MEMORY_ATTRIBUTE_PRIVATE), ok());
  EXPECT_EQ(level(1 * G), 0) << "the 2M leaf overlapping the 4K change is zapped whole";
  EXPECT_EQ(level(1 * G + 2 * M), 2);
  EXPECT_TRUE(kvm.vm(vm)->slots(0).find(0)->lpage_info->mixed(2, (1 * G) >> 12));
  EXPECT_EQ(prefault(1 * G, 2 * M), ok());
  EXPECT_EQ(stats_text(), "nx_lpage_splits=0 pages_1g=0 pages_2m=1 pages_4k=512 ");
  EXPECT_TRUE(map(1 * G + 8 * K).is_private);
  // Setting the same attributes again changes nothing and zaps nothing.
  ASSERT_EQ(attrs(1 * G + 8 * K, 4 * K, KVM_MEMORY_ATTRIBUTE_PRIVATE), ok());
  EXPECT_EQ(stat("pages_4k"), 512u);
}

TEST_F(ZapTest, PunchHoleZapsBoundGfns) {
  open_vm(KVM_X86_SW_PROTECTED_VM);
  const u64 h = mem(2 * M, Backing::anon_nohuge);
  const int g = gmem(vm, 4 * M);
  ASSERT_EQ(set_gmem_slot(0, 1 * G, 2 * M, h, g, 2 * M), ok());
  ASSERT_EQ(attrs(1 * G, 2 * M, KVM_MEMORY_ATTRIBUTE_PRIVATE), ok());
  ASSERT_EQ(prefault(1 * G, 16 * K), ok());
  // File offset 2M+4K is gfn 1G+4K.
  ASSERT_EQ(kvm.fallocate(g, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 2 * M + 4 * K, 8 * K), ok());
  check();
  EXPECT_EQ(level(1 * G), 1);
  EXPECT_EQ(level(1 * G + 4 * K), 0);
  EXPECT_EQ(level(1 * G + 8 * K), 0);
  EXPECT_EQ(level(1 * G + 12 * K), 1);
}

TEST_F(ZapTest, HostChangesZapEveryAliasingSlot) {
  open_vm();
  const u64 t = mem(4 * M, Backing::thp);
  ASSERT_EQ(kvm.touch(t, 4 * M), ok());
  // Two slots alias the same host memory.
  ASSERT_EQ(set_slot(0, 0, 1 * G, 4 * M, t), ok());
  ASSERT_EQ(set_slot(1, 0, 2 * G, 4 * M, t), ok());
  ASSERT_EQ(prefault(1 * G, 4 * M), ok());
  ASSERT_EQ(prefault(2 * G, 4 * M), ok());
  ASSERT_EQ(stat("pages_2m"), 4u);
  // DONTNEED of one 4K page inside a THP: the THP is split in the host, both 2M leaves zapped.
  ASSERT_EQ(kvm.madvise(t + 4 * K, 4 * K, MADV_DONTNEED), ok());
  check();
  EXPECT_EQ(level(1 * G), 0);
  EXPECT_EQ(level(2 * G), 0);
  EXPECT_EQ(level(1 * G + 2 * M), 2);
  EXPECT_EQ(access(1 * G, AK::read), ok_outcome());
  EXPECT_EQ(level(1 * G), 1) << "the host chunk is 4K now";
  // mprotect read-only of the second chunk: zapped; refault maps read-only.
  ASSERT_EQ(kvm.mprotect(t + 2 * M, 2 * M, PROT_READ), ok());
  check();
  EXPECT_EQ(level(2 * G + 2 * M), 0);
  EXPECT_EQ(access(2 * G + 2 * M, AK::read), ok_outcome());
  EXPECT_FALSE(map(2 * G + 2 * M).writable);
  EXPECT_EQ(access(2 * G + 2 * M, AK::write), error_outcome(EFAULT));
  // munmap: everything of the range goes; faults then fail.
  ASSERT_EQ(kvm.munmap(t, 4 * M), ok());
  check();
  EXPECT_EQ(stats_text(), "nx_lpage_splits=0 pages_1g=0 pages_2m=0 pages_4k=0 ");
  EXPECT_EQ(access(1 * G, AK::read), error_outcome(EFAULT));
}

}  // namespace
}  // namespace kvmsim::model::test
