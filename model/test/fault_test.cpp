// The TDP fault path through guest accesses (docs/semantics/tdp-mmu.md §1-§4): outcomes, levels,
// permissions, dirty marking, NX splits; invariants checked after every operation.
#include "model/test/mmu_fixture.h"

namespace kvmsim::model::test {
namespace {

using AK = AccessKind;

TEST_F(MmuTest, ReadMapsZeroPageReadOnlyAndWriteMakesItWritable) {
  open_vm();
  const u64 m = mem(2 * M, Backing::anon_nohuge);
  ASSERT_EQ(set_slot(0, 0, 0, 2 * M, m), ok());
  EXPECT_EQ(access(0, AK::read), ok_outcome());
  Mapping l = map(0);
  EXPECT_EQ(l.level, 1);
  EXPECT_FALSE(l.writable);
  EXPECT_TRUE(l.accessed);
  EXPECT_TRUE(l.executable);
  EXPECT_EQ(access(0, AK::write), ok_outcome());
  l = map(0);
  EXPECT_TRUE(l.writable);
  EXPECT_TRUE(l.dirty);
  EXPECT_EQ(stat("pages_4k"), 1u);
  // A second write needs no fault and changes nothing.
  EXPECT_EQ(access(0, AK::write), ok_outcome());
  EXPECT_EQ(stat("pages_4k"), 1u);
}

TEST_F(MmuTest, OutcomesMmioReadonlyAndHostEfault) {
  open_vm();
  const u64 rom = mem(64 * K, Backing::anon_nohuge);
  ASSERT_EQ(kvm.touch(rom, 64 * K), ok());
  ASSERT_EQ(set_slot(1, KVM_MEM_READONLY, 0xfff00000, 64 * K, rom), ok());
  ASSERT_EQ(set_slot(2, 0, 4 * G, 2 * M, 0x7000000000), ok());
  EXPECT_EQ(access(1 * G, AK::read), mmio_outcome());
  // An instruction fetch from MMIO cannot be emulated: KVM_EXIT_INTERNAL_ERROR, written -1 EIO
  // (measured on this host's kernel by kvmsim fuzz; traces/regressions/access_exec_mmio_internal_error.trace).
  EXPECT_EQ(access(1 * G, AK::exec), (AccessOutcome{AccessOutcome::Kind::error, EIO}));
  EXPECT_EQ(access(0xfff00000, AK::read), ok_outcome());
  EXPECT_FALSE(map(0xfff00000).writable) << "host page writable, but the slot is READONLY";
  EXPECT_EQ(access(0xfff00000, AK::write), mmio_outcome());
  EXPECT_EQ(access(4 * G, AK::read), error_outcome(EFAULT));
  EXPECT_EQ(level(4 * G), 0);
  EXPECT_EQ(stat("pages_4k"), 1u);
}

TEST_F(MmuTest, LevelFollowsHostBacking) {
  open_vm();
  const u64 h1 = mem(1 * G, Backing::hugetlb_1g);
  const u64 h2 = mem(4 * M, Backing::hugetlb_2m);
  const u64 t = mem(4 * M, Backing::thp);
  ASSERT_EQ(set_slot(0, 0, 1 * G, 1 * G, h1), ok());
  ASSERT_EQ(set_slot(1, 0, 4 * G, 4 * M, h2), ok());
  ASSERT_EQ(set_slot(2, 0, 8 * G, 4 * M, t), ok());
  EXPECT_EQ(access(1 * G + 5 * M, AK::write), ok_outcome());
  EXPECT_EQ(map(1 * G + 5 * M), (Mapping{3, 1 * G, true, true, false, true, true}));
  EXPECT_EQ(access(4 * G + 2 * M + 4 * K, AK::read), ok_outcome());
  EXPECT_EQ(level(4 * G + 2 * M), 2);
  EXPECT_EQ(access(8 * G, AK::read), ok_outcome());
  EXPECT_EQ(level(8 * G), 2);
  EXPECT_EQ(stats_text(), "nx_lpage_splits=0 pages_1g=1 pages_2m=2 pages_4k=0 ");
}

// The pre-6.13 host (linux-6.12: huge_zero_wp_allocates_thp false) CoWs a written huge zero page at 4K.
struct Mmu612Test : MmuTest {
  Mmu612Test() : MmuTest("linux-6.12") {}
};

TEST_F(Mmu612Test, HugeZeroPageCowZapsInEveryVmThenMaps4K) {
  open_vm();
  const u64 t = mem(2 * M, Backing::thp);
  ASSERT_EQ(set_slot(0, 0, 0, 2 * M, t), ok());
  // A second VM maps the same host memory.
  const int vm2 = new_vm();
  const int vcpu2 = static_cast<int>(kvm.ioctl_create_vcpu(vm2, 0).ret);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm2, region(0, 0, 0, 2 * M, t)), ok());
  EXPECT_EQ(access(0, AK::read), ok_outcome());
  EXPECT_EQ(map(0), (Mapping{2, 0, false, true, false, true, false})) << "huge zero page: read-only 2M";
  EXPECT_EQ(kvm.access(vcpu2, 4 * K, AK::read), ok_outcome());
  EXPECT_EQ(kvm.mapping(vm2, 0)->level, 2);
  // The write CoWs the huge zero page at 4K in the host: both VMs lose their 2M leaf first.
  EXPECT_EQ(access(8 * K, AK::write), ok_outcome());
  EXPECT_EQ(map(8 * K), (Mapping{1, 8 * K, true, true, false, true, true}));
  EXPECT_EQ(stats_text(), "nx_lpage_splits=0 pages_1g=0 pages_2m=0 pages_4k=1 ");
  EXPECT_EQ(kvm.mapping(vm2, 0)->level, 0);
  check_invariants(*kvm.vm(vm2));
}

// Since v6.13 (linux-6.18, linux-7.3) the host replaces a written huge zero page with a THP (do_huge_zero_wp_pmd):
// the notifier still zaps every VM's read-only 2M leaf, and the write maps the new THP at 2M, writable.
TEST_F(MmuTest, HugeZeroPageWriteAllocatesThpAndMaps2M) {
  ASSERT_TRUE(kvm.profile().huge_zero_wp_allocates_thp);
  open_vm();
  const u64 t = mem(2 * M, Backing::thp);
  ASSERT_EQ(set_slot(0, 0, 0, 2 * M, t), ok());
  const int vm2 = new_vm();
  const int vcpu2 = static_cast<int>(kvm.ioctl_create_vcpu(vm2, 0).ret);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm2, region(0, 0, 0, 2 * M, t)), ok());
  EXPECT_EQ(access(0, AK::read), ok_outcome());
  EXPECT_EQ(kvm.access(vcpu2, 4 * K, AK::read), ok_outcome());
  EXPECT_EQ(access(8 * K, AK::write), ok_outcome());
  EXPECT_EQ(map(8 * K).level, 2);
  EXPECT_TRUE(map(8 * K).writable);
  EXPECT_EQ(stats_text(), "nx_lpage_splits=0 pages_1g=0 pages_2m=1 pages_4k=0 ");
  EXPECT_EQ(kvm.mapping(vm2, 0)->level, 0) << "the other VM's zero-page leaf was zapped by the notifier";
  check_invariants(*kvm.vm(vm2));
}

TEST_F(MmuTest, ExecFaultOnNonExecutableLeafIsNotFreeWithoutNx) {
  open_vm();
  const u64 h = mem(2 * M, Backing::hugetlb_2m);
  ASSERT_EQ(set_slot(0, 0, 0, 2 * M, h), ok());
  EXPECT_EQ(access(0, AK::exec), ok_outcome());
  EXPECT_EQ(map(0).level, 2);
  EXPECT_TRUE(map(0).executable) << "without the NX mitigation huge leaves are executable";
}

struct NxTest : MmuTest {
  NxTest() : MmuTest("linux-6.18-nx") {}
};

TEST_F(NxTest, ExecSplitsHugeLeafAndRecoveryZapsIt) {
  open_vm();
  const u64 h = mem(6 * M, Backing::hugetlb_2m);
  ASSERT_EQ(kvm.touch(h, 6 * M), ok());
  ASSERT_EQ(set_slot(10, 0, 4 * G, 6 * M, h), ok());
  EXPECT_EQ(access(4 * G, AK::read), ok_outcome());
  EXPECT_FALSE(map(4 * G).executable) << "NX: huge leaves are never executable";
  EXPECT_EQ(access(4 * G, AK::exec), ok_outcome());
  EXPECT_EQ(level(4 * G), 1);
  EXPECT_TRUE(map(4 * G).executable);
  EXPECT_EQ(stats_text(), "nx_lpage_splits=1 pages_1g=0 pages_2m=0 pages_4k=512 ");
  // A read elsewhere in the split region uses the present 4K leaves; no refault to 2M.
  EXPECT_EQ(access(4 * G + 1 * M, AK::read), ok_outcome());
  EXPECT_EQ(level(4 * G + 1 * M), 1);
  EXPECT_EQ(v().mmu().recover_nx_huge_pages(), 1u);
  check();
  EXPECT_EQ(stats_text(), "nx_lpage_splits=0 pages_1g=0 pages_2m=0 pages_4k=0 ");
  EXPECT_EQ(access(4 * G, AK::read), ok_outcome());
  EXPECT_EQ(level(4 * G), 2);
}

TEST_F(NxTest, DisabledPerVm) {
  vm = new_vm();
  ASSERT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_VM_DISABLE_NX_HUGE_PAGES, 0)), ok());
  vcpu = static_cast<int>(kvm.ioctl_create_vcpu(vm, 0).ret);
  const u64 h = mem(2 * M, Backing::hugetlb_2m);
  ASSERT_EQ(set_slot(0, 0, 0, 2 * M, h), ok());
  EXPECT_EQ(access(0, AK::exec), ok_outcome());
  EXPECT_EQ(level(0), 2);
  EXPECT_TRUE(map(0).executable);
  EXPECT_EQ(stat("nx_lpage_splits"), 0u);
}

TEST_F(MmuTest, PrivateFaultsAndMismatches) {
  open_vm(KVM_X86_SW_PROTECTED_VM);
  const u64 shared = mem(4 * M, Backing::thp);
  const int g = gmem(vm, 4 * M);
  ASSERT_EQ(set_gmem_slot(0, 1 * G, 2 * M, shared, g), ok());
  ASSERT_EQ(set_slot(1, 0, 2 * G, 2 * M, shared + 2 * M), ok());
  ASSERT_EQ(attrs(1 * G, 4 * K, KVM_MEMORY_ATTRIBUTE_PRIVATE), ok());
  ASSERT_EQ(attrs(2 * G, 4 * K, KVM_MEMORY_ATTRIBUTE_PRIVATE), ok());
  ASSERT_EQ(attrs(3 * G, 4 * K, KVM_MEMORY_ATTRIBUTE_PRIVATE), ok());
  // Private gfn in a guest_memfd slot: 4K private leaf.
  EXPECT_EQ(access(1 * G + 0x123, AK::read), ok_outcome());
  EXPECT_EQ(map(1 * G), (Mapping{1, 1 * G, true, true, true, true, true}));
  // Private gfn in a slot without guest_memfd, and without any slot: memory fault exits.
  EXPECT_EQ(access(2 * G + 0x10, AK::write), memory_fault_outcome(KVM_MEMORY_EXIT_FLAG_PRIVATE, 2 * G));
  EXPECT_EQ(access(3 * G, AK::read), memory_fault_outcome(KVM_MEMORY_EXIT_FLAG_PRIVATE, 3 * G));
  // Shared neighbours: the MIXED 2M region maps 4K from the host.
  EXPECT_EQ(access(1 * G + 4 * K, AK::read), ok_outcome());
  EXPECT_EQ(level(1 * G + 4 * K), 1);
  EXPECT_FALSE(map(1 * G + 4 * K).is_private);
  // Faults whose private bit disagrees with the attribute (a vCPU with a stale view).
  FaultResult r = v().mmu().page_fault(PageFault{1 * G + 8 * K, false, false, true, false});
  EXPECT_EQ(r.kind, FaultResult::Kind::memory_fault);
  EXPECT_EQ(r.flags, KVM_MEMORY_EXIT_FLAG_PRIVATE);
  EXPECT_EQ(r.gpa, 1 * G + 8 * K);
  r = v().mmu().page_fault(PageFault{1 * G + 0x800, true, false, false, false});
  EXPECT_EQ(r.kind, FaultResult::Kind::memory_fault);
  EXPECT_EQ(r.flags, 0u);
  EXPECT_EQ(r.gpa, 1 * G);
  EXPECT_EQ(r.size, 4096u);
  check();
  // guest_memfd closed: the slot keeps its gfns but private faults exit with EFAULT.
  ASSERT_EQ(kvm.close(g), ok());
  check();
  EXPECT_EQ(level(1 * G), 0) << "close zaps the bound gfns";
  EXPECT_EQ(access(1 * G, AK::read), memory_fault_outcome(KVM_MEMORY_EXIT_FLAG_PRIVATE, 1 * G));
}

TEST_F(MmuTest, GmemOnlySlotServesSharedFaultsAt4K) {
  open_vm();
  const int g = gmem(vm, 4 * M, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  const u64 h = mem(4 * M, Backing::hugetlb_2m);  // ignored for faults: the slot is GMEM_ONLY
  ASSERT_EQ(set_gmem_slot(0, 0, 4 * M, h, g), ok());
  EXPECT_EQ(access(2 * M, AK::read), ok_outcome());
  EXPECT_EQ(map(2 * M), (Mapping{1, 2 * M, true, true, false, true, true}));
}

TEST_F(MmuTest, WritesInDirtyLoggedSlotSetBits) {
  open_vm();
  const u64 m = mem(1 * M, Backing::anon_nohuge);
  ASSERT_EQ(set_slot(0, KVM_MEM_LOG_DIRTY_PAGES, 0, 1 * M, m), ok());
  EXPECT_EQ(access(3 * 4 * K, AK::write), ok_outcome());
  EXPECT_EQ(access(5 * 4 * K, AK::read), ok_outcome());  // zero page: read-only, not dirty
  std::vector<u64> bm;
  ASSERT_EQ(kvm.ioctl_get_dirty_log(vm, 0, bm), ok());
  ASSERT_EQ(bm.size(), 4u);
  EXPECT_EQ(bm[0], 1ull << 3);
  EXPECT_FALSE(map(3 * 4 * K).writable) << "GET write-protects what it reported";
  check();
}


// The legacy (shadow) MMU's fault path, as linux-6.18-pvm answers (measured on this machine:
// traces/pvm/shadow_prefetch_drop_large_spte.trace holds on both backends).
struct LegacyMmuTest : MmuTest {
  LegacyMmuTest() : MmuTest("linux-6.18-pvm") {}
};

TEST_F(LegacyMmuTest, PrefetchMapsPresentNeighboursRunByRun) {
  open_vm();
  const u64 m = mem(2 * M, Backing::anon_nohuge);
  ASSERT_EQ(kvm.touch(m, 64 * K), ok());
  ASSERT_EQ(kvm.madvise(m + 8 * K, 4 * K, MADV_DONTNEED), ok());
  ASSERT_EQ(set_slot(0, 0, 1 * G, 2 * M, m), ok());
  // Page 1: run [0] is prefetched; run [2..7] begins with the absent page 2, which ends it all.
  EXPECT_EQ(access(1 * G + 4 * K, AK::read), ok_outcome());
  EXPECT_EQ(level(1 * G), 1);
  EXPECT_FALSE(map(1 * G).accessed) << "prefetched SPTEs are not accessed";
  EXPECT_EQ(level(1 * G + 12 * K), 0);
  EXPECT_EQ(stat("pages_4k"), 2u);
  // Page 9: the whole group 8..15 is present.
  EXPECT_EQ(access(1 * G + 36 * K, AK::read), ok_outcome());
  EXPECT_EQ(stat("pages_4k"), 10u);
  // Never-written pages are not writable in the host: nothing is prefetched around page 20.
  EXPECT_EQ(access(1 * G + 80 * K, AK::write), ok_outcome());
  EXPECT_EQ(stat("pages_4k"), 11u);
}

TEST_F(LegacyMmuTest, NoPrefetchInDirtyLoggedOrReadonlySlotsOrAcrossTheSlotEnd) {
  open_vm();
  const u64 m = mem(64 * K, Backing::anon_nohuge);
  ASSERT_EQ(kvm.touch(m, 64 * K), ok());
  ASSERT_EQ(set_slot(0, KVM_MEM_LOG_DIRTY_PAGES, 1 * G, 32 * K, m), ok());
  ASSERT_EQ(set_slot(1, KVM_MEM_READONLY, 2 * G, 16 * K, m + 32 * K), ok());
  ASSERT_EQ(set_slot(2, 0, 3 * G, 12 * K, m + 48 * K), ok());
  EXPECT_EQ(access(1 * G, AK::read), ok_outcome());
  EXPECT_EQ(access(2 * G, AK::read), ok_outcome());
  // Slot 2 has 3 pages: the run [1..7] crosses its end, so nothing is prefetched.
  EXPECT_EQ(access(3 * G, AK::read), ok_outcome());
  EXPECT_EQ(stat("pages_4k"), 3u);
}

TEST_F(LegacyMmuTest, DirtyLogWriteFaultDropsTheHugeLeaf) {
  open_vm();
  const u64 t = mem(2 * M, Backing::thp);
  ASSERT_EQ(kvm.touch(t, 2 * M), ok());
  ASSERT_EQ(set_slot(1, 0, 2 * G, 2 * M, t), ok());
  EXPECT_EQ(access(2 * G, AK::write), ok_outcome());
  EXPECT_EQ(level(2 * G), 2);
  ASSERT_EQ(set_slot(1, KVM_MEM_LOG_DIRTY_PAGES, 2 * G, 2 * M, t), ok());
  EXPECT_EQ(level(2 * G), 2) << "no eager split on the legacy MMU";
  EXPECT_EQ(access(2 * G + 8 * K, AK::write), ok_outcome());
  EXPECT_EQ(level(2 * G + 8 * K), 1);
  EXPECT_EQ(level(2 * G), 0) << "the 2M leaf was dropped, not split";
  EXPECT_EQ(stats_text(), "nx_lpage_splits=0 pages_1g=0 pages_2m=0 pages_4k=1 ");
}

}  // namespace
}  // namespace kvmsim::model::test
