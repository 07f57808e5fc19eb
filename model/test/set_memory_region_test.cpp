// KVM_SET_USER_MEMORY_REGION(2): docs/semantics/memslots.md §2 and docs/semantics/host-kvm-pvm.md §2 rows.

#include "model/test/model_fixture.h"

namespace kvmsim::model::test {
namespace {

TEST_F(PvmTest, AlignmentAndAccessOk) {
  const int vm = new_vm();
  const u64 m = mem(64 * K);
  for (u64 gpa : {0x100001ull, 0x100800ull})
    EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, gpa, 4 * K, m)), fail(EINVAL));
  for (u64 size : {0x1001ull, 0x800ull})
    EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0x100000, size, m)), fail(EINVAL));
  for (u64 ua : {m + 1, m + 0x800}) {
    EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0x100000, 4 * K, ua)), fail(EINVAL));
    EXPECT_EQ(kvm.ioctl_set_user_memory_region2(vm, region2(0, 0, 0x100000, 4 * K, ua)), fail(EINVAL));
  }
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 4 * K, 0xffff888000000000)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 4 * K, 0x7ffffffff000)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 8 * K, 0x7ffffffff000)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 8 * K, ~0ull - 4095)), fail(EINVAL));
  // Unmapped, zero, and address-only checks pass at creation time.
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 4 * K, 0x7000000000)), ok());
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, 0, 1 * M, 4 * K, 0)), ok());
  const u64 ro = mem(4 * K);
  kvm.mprotect(ro, 4 * K, PROT_READ);
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(2, 0, 2 * M, 4 * K, ro)), ok());
}

TEST_F(PvmTest, DeleteRules) {
  const int vm = new_vm();
  const u64 m = mem(64 * K);
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(5, 0, 0, 0, 0)), fail(EINVAL));
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(5, 0, 0, 16 * K, m)), ok());
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(5, 0, 0x801, 0, m)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(5, 0, 0, 0, m + 1)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(5, 1 << 3, 0, 0, m)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(5, KVM_MEM_READONLY, 1 * G, 0, 0)), ok());
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(5, 0, 0, 0, m)), fail(EINVAL));
}

TEST_F(PvmTest, OverlapAndAliases) {
  const int vm = new_vm();
  const u64 m = mem(64 * K);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * M, 16 * K, m)), ok());
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, 0, 1 * M, 16 * K, m)), fail(EEXIST));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, 0, 1 * M + 8 * K, 16 * K, m)), fail(EEXIST));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, 0, 1 * M - 4 * K, 64 * K, m)), fail(EEXIST));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, 0, 1 * M + 16 * K, 16 * K, m)), ok());
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(2, 0, 4 * M, 16 * K, m)), ok());  // same uaddr
  // Move onto an occupied range.
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(2, 0, 1 * M, 16 * K, m)), fail(EEXIST));
  // A move may overlap the slot's own old range.
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(2, 0, 4 * M + 4 * K, 16 * K, m)), ok());
}

TEST_F(PvmTest, SlotIdsAddressSpacesAndFlags) {
  const int vm = new_vm();
  const u64 m = mem(64 * K);
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(32763, 0, 0, 4 * K, m)), ok());
  for (u32 id : {32764u, 32767u, 0xffffu})
    EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(id, 0, 1 * M, 4 * K, m)), fail(EINVAL));
  for (u32 as : {1u, 2u}) {
    EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(as << 16 | 1, 0, 1 * M, 4 * K, m)), fail(EINVAL));
    EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(as << 16 | 1, 0, 1 * M, 0, m)), fail(EINVAL));
  }
  const u32 flags[] = {KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, KVM_MEM_READONLY | KVM_MEM_LOG_DIRTY_PAGES};
  for (u32 i = 0; i < 3; ++i)
    EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(10 + i, flags[i], (10 + i) * M, 4 * K, m)), ok());
  for (u32 f : {1u << 3, 1u << 31}) {
    EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(20, f, 20 * M, 4 * K, m)), fail(EINVAL));
    EXPECT_EQ(kvm.ioctl_set_user_memory_region2(vm, region2(20, f, 20 * M, 4 * K, m)), fail(EINVAL));
  }
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(20, KVM_MEM_GUEST_MEMFD, 20 * M, 4 * K, m)), fail(EINVAL));
  // v2 padding and gmem fields are not checked without the GUEST_MEMFD flag.
  auto r = region2(21, 0, 21 * M, 4 * K, m, 12345, 0x123);
  r.pad1 = 7;
  r.pad2[3] = 9;
  EXPECT_EQ(kvm.ioctl_set_user_memory_region2(vm, r), ok());
}

TEST_F(PvmTest, ModifyRules) {
  const int vm = new_vm();
  const u64 m = mem(64 * K);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * M, 16 * K, m)), ok());
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, KVM_MEM_LOG_DIRTY_PAGES, 1 * M, 16 * K, m)), ok());
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * M, 16 * K, m)), ok());
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * M, 16 * K, m)), ok());  // identical
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, KVM_MEM_READONLY, 1 * M, 16 * K, m)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * M, 32 * K, m)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * M, 8 * K, m)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * M, 16 * K, m + 4 * K)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 2 * M, 16 * K, m)), ok());  // move
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, KVM_MEM_LOG_DIRTY_PAGES, 3 * M, 16 * K, m)), ok());
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, KVM_MEM_READONLY, 8 * M, 16 * K, m)), ok());
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, KVM_MEM_READONLY, 9 * M, 16 * K, m)), ok());
  EXPECT_EQ(kvm.vm(vm)->slots(0).find(1)->base_gfn, (9 * M) >> 12);
}

TEST_F(PvmTest, SizeAndGpaLimits) {
  const int vm = new_vm();
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, ((1ull << 31) - 1) << 12, 0x7000000000)), ok());
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, 0, 16ull << 40, (1ull << 31) << 12, 0x7000000000)),
            fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, 0, (1ull << 52) - 4 * K, 4 * K, 0)), ok());
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(2, 0, 1ull << 52, 4 * K, 0)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, 0, 0, 0, 0)), ok());
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(2, 0, (1ull << 52) - 4 * K, 8 * K, 0)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(2, 0, 1ull << 63, 4 * K, 0)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(2, 0, ~0ull - 4095, 4 * K, 0)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(2, 0, ~0ull - 4095, 8 * K, 0)), fail(EINVAL));
}

// The time this takes is measured in bench/ (memslot churn), never asserted here.
TEST_F(PvmTest, MaxSlotsThenEinval) {
  const int vm = new_vm();
  for (u32 i = 0; i < KVM_USER_MEM_SLOTS; ++i)
    ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(i, 0, u64(i) << 12, 4 * K, 0)), ok()) << i;
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(KVM_USER_MEM_SLOTS, 0, 1ull << 30, 4 * K, 0)), fail(EINVAL));
  for (u32 i = 0; i < KVM_USER_MEM_SLOTS; ++i)
    ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(i, 0, 0, 0, 0)), ok()) << i;
  EXPECT_EQ(kvm.vm(vm)->slots(0).size(), 0u);
}

TEST_F(ModelTest, UpstreamAddressSpacesAndGfnLimit) {
  const int vm = new_vm();
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1 << 16 | 3, 0, 0, 4 * K, 0)), ok());  // SMM AS
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(3, 0, 0, 4 * K, 0)), ok());  // AS 0: no EEXIST
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(2 << 16 | 3, 0, 0, 4 * K, 0)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(4, 0, 1ull << 46, 4 * K, 0)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(4, 0, (1ull << 46) - 4 * K, 4 * K, 0)), ok());
  const int pvm = new_vm(KVM_X86_SW_PROTECTED_VM);
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(pvm, region(1 << 16 | 3, 0, 0, 4 * K, 0)), fail(EINVAL));
}

TEST_F(ModelTest, DeleteAndMoveZapAllOrRange) {
  const int vm = new_vm();
  Vm* v = kvm.vm(vm);
  v->mmu().record_events(true);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * M, 16 * K, 0)), ok());
  EXPECT_TRUE(v->mmu().events().empty());  // create never zaps
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 2 * M, 16 * K, 0)), ok());
  EXPECT_EQ(v->mmu().events(), (std::vector<MmuEvent>{{MmuEvent::Kind::zap_all, 0, 0, 0}}));
  v->mmu().clear_events();
  ASSERT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_DISABLE_QUIRKS2, KVM_X86_QUIRK_SLOT_ZAP_ALL)), ok());
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 0, 0)), ok());
  EXPECT_EQ(v->mmu().events(), (std::vector<MmuEvent>{{MmuEvent::Kind::zap_range, 0, 512, 516}}));
  // A move failing the gfn limit has already zapped.
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, 0, 0, 4 * K, 0)), ok());
  v->mmu().clear_events();
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, 0, 1ull << 46, 4 * K, 0)), fail(EINVAL));
  EXPECT_EQ(v->mmu().events(), (std::vector<MmuEvent>{{MmuEvent::Kind::zap_range, 0, 0, 1}}));
  EXPECT_EQ(v->slots(0).find(1)->base_gfn, 0u);
}

// The event log is for observers (tests, kvmsim map): without one the MMU keeps nothing, so a long
// replay does not grow with its zaps.
TEST_F(ModelTest, MmuEventLogIsKeptOnlyWhileAnObserverRecords) {
  const int vm = new_vm();
  Vm* v = kvm.vm(vm);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * M, 16 * K, 0)), ok());
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 0, 0)), ok());
  EXPECT_TRUE(v->mmu().events().empty());
  v->mmu().record_events(true);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * M, 16 * K, 0)), ok());
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 0, 0)), ok());
  EXPECT_EQ(v->mmu().take_events(), (std::vector<MmuEvent>{{MmuEvent::Kind::zap_all, 0, 0, 0}}));
  EXPECT_TRUE(v->mmu().events().empty());  // drained
  v->mmu().record_events(false);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * M, 16 * K, 0)), ok());
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 0, 0)), ok());
  EXPECT_TRUE(v->mmu().events().empty());
}

TEST_F(ModelTest, SwProtectedVmZapsOnlyTheSlot) {
  const int vm = new_vm(KVM_X86_SW_PROTECTED_VM);
  kvm.vm(vm)->mmu().record_events(true);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * M, 16 * K, 0)), ok());
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 0, 0)), ok());
  EXPECT_EQ(kvm.vm(vm)->mmu().events(), (std::vector<MmuEvent>{{MmuEvent::Kind::zap_range, 0, 256, 260}}));
}

TEST_F(Linux61Test, AlwaysZapAllAndNoRegion2) {
  const int vm = new_vm();
  EXPECT_EQ(kvm.ioctl_set_user_memory_region2(vm, region2(0, 0, 0, 4 * K, 0)), fail(ENOTTY));
  kvm.vm(vm)->mmu().record_events(true);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 4 * K, 0)), ok());
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 0, 0)), ok());
  EXPECT_EQ(kvm.vm(vm)->mmu().events(), (std::vector<MmuEvent>{{MmuEvent::Kind::zap_all, 0, 0, 0}}));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, KVM_MEM_GUEST_MEMFD, 0, 4 * K, 0)), fail(EINVAL));
}

TEST_F(ModelTest, HostInvalidationZapsCoveredGfnsOfEverySlot) {
  const int vm = new_vm();
  const u64 m = mem(64 * K, Backing::anon_nohuge);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * M, 64 * K, m)), ok());
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, 0, 4 * M, 16 * K, m + 16 * K)), ok());  // alias
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1 << 16 | 1, 0, 0, 4 * K, m + 60 * K)), ok());
  Vm* v = kvm.vm(vm);
  v->mmu().record_events(true);
  ASSERT_EQ(kvm.madvise(m + 16 * K, 8 * K, MADV_DONTNEED), ok());
  EXPECT_EQ(v->mmu().events(), (std::vector<MmuEvent>{{MmuEvent::Kind::zap_range, 0, 256 + 4, 256 + 6},
                                                    {MmuEvent::Kind::zap_range, 0, 1024, 1026}}));
  v->mmu().clear_events();
  ASSERT_EQ(kvm.munmap(m + 60 * K, 4 * K), ok());
  EXPECT_EQ(v->mmu().events(), (std::vector<MmuEvent>{{MmuEvent::Kind::zap_range, 0, 256 + 15, 256 + 16},
                                                    {MmuEvent::Kind::zap_range, 1, 0, 1}}));
}

}  // namespace
}  // namespace kvmsim::model::test
