// The KVM_MAP_MEMORY RFC v1 (model/map_memory.cpp, docs/semantics/proposals.md §1): one test per errno
// path of kvm_vcpu_map_memory() (patch 2) and kvm_arch_vcpu_map_memory()/kvm_mmu_map_page() (patches 5-7).
#include "model/test/mmu_fixture.h"

namespace kvmsim::model::test {
namespace {

struct MapMemoryTest : MmuTest {
  MapMemoryTest() : MmuTest("rfc-map-memory-v1") {}
  Ret map_mem(kvm_memory_mapping& m) {
    Ret r = kvm.ioctl_map_memory(vcpu, m);
    check();
    return r;
  }
  kvm_memory_mapping req(u64 gfn, u64 n, u64 flags = 0, u64 source = 0) { return {gfn, n, flags, source}; }
  void arm(FaultSite s, u64 after = 0) { kvm.faults().arm(FaultRule{s, after, 1}); }
};

TEST_F(MapMemoryTest, CapAndDispatch) {
  open_vm();
  EXPECT_EQ(kvm.ioctl_check_extension(kvm.kvm_fd(), KVM_CAP_MAP_MEMORY), Ret::ok(1));
  kvm_memory_mapping m = req(0, 1);
  EXPECT_EQ(kvm.ioctl_map_memory(vm, m), fail(ENOTTY));
  EXPECT_EQ(kvm.ioctl_map_memory(kvm.kvm_fd(), m), fail(EINVAL));
  kvm_pre_fault_memory p{};
  p.size = 4 * K;
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu, p), fail(EINVAL)) << "no KVM_PRE_FAULT_MEMORY on the RFC's base";
}

TEST(MapMemoryOtherProfiles, UnknownVcpuIoctl) {
  for (const Profile& p : builtin_profiles()) {
    if (p.has_map_memory) continue;
    Kvm kvm(p);
    const int vm = static_cast<int>(kvm.ioctl_create_vm(kvm.kvm_fd(), KVM_X86_DEFAULT_VM).ret);
    const int vcpu = static_cast<int>(kvm.ioctl_create_vcpu(vm, 0).ret);
    kvm_memory_mapping m{0x40000, 1, 0, 0};
    EXPECT_EQ(kvm.ioctl_map_memory(vcpu, m), fail(EINVAL)) << p.name;
  }
}

TEST_F(MapMemoryTest, GenericChecksInOrder) {
  open_vm();
  kvm_memory_mapping m = req(0, 1, 0x10);
  EXPECT_EQ(map_mem(m), fail(EINVAL)) << "unknown flag";
  m = req(0, 1, KVM_MEMORY_MAPPING_FLAG_PRIVATE);
  EXPECT_EQ(map_mem(m), fail(EINVAL)) << "PRIVATE without private memory";
  m = req(0, 1, 0, 0x800);
  EXPECT_EQ(map_mem(m), fail(EINVAL)) << "unaligned source";
  m = req(0, 0);
  EXPECT_EQ(map_mem(m), fail(EINVAL)) << "nr_pages 0";
  m = req(~0ull, 1);
  EXPECT_EQ(map_mem(m), fail(EINVAL)) << "wrap";
  EXPECT_EQ(m.base_gfn, ~0ull);
}

TEST_F(MapMemoryTest, SignalWithoutAndWithProgress) {
  open_vm();
  ASSERT_EQ(set_slot(0, 0, 1 * G, 1 * M, mem(1 * M, Backing::anon_nohuge)), ok());
  arm(FaultSite::pre_fault_signal);
  kvm_memory_mapping m = req(0x40000, 8);
  EXPECT_EQ(map_mem(m), fail(EINTR));
  EXPECT_EQ(m.nr_pages, 8u);
  arm(FaultSite::pre_fault_signal, 2);
  EXPECT_EQ(map_mem(m), fail(EAGAIN)) << "progress turns -ERESTARTSYS into -EAGAIN";
  EXPECT_EQ(m.base_gfn, 0x40002u);
  EXPECT_EQ(m.nr_pages, 6u);
}

TEST_F(MapMemoryTest, StepErrorAfterProgressIsEagain) {
  open_vm();
  ASSERT_EQ(set_slot(0, 0, 1 * G, 8 * K, mem(8 * K, Backing::anon_nohuge)), ok());
  kvm_memory_mapping m = req(0x40000, 4);
  EXPECT_EQ(map_mem(m), fail(EAGAIN));
  EXPECT_EQ(m.base_gfn, 0x40002u);
  EXPECT_EQ(map_mem(m), fail(EFAULT)) << "no progress: the step's own errno";
  EXPECT_EQ(m.nr_pages, 2u);
}

TEST_F(MapMemoryTest, ReloadFailureReportsTheKernelBug) {
  open_vm();
  arm(FaultSite::alloc);
  kvm_memory_mapping m = req(0x40000, 1);
  EXPECT_EQ(map_mem(m), fail(ENOMEM));
  const std::string text = kvm.take_diagnostic().text;
  EXPECT_EQ(text.rfind("kernel-bug: [RFC PATCH 2/8] kvm_vcpu_map_memory()", 0), 0u) << text;
  EXPECT_TRUE(kvm.take_diagnostic().text.empty()) << "reading clears it";
}

TEST_F(MapMemoryTest, FaultFailuresAreEfault) {
  open_vm();
  ASSERT_EQ(set_slot(0, 0, 1 * G, 8 * K, mem(8 * K, Backing::anon_nohuge)), ok());
  kvm_memory_mapping m = req(0, 1);
  EXPECT_EQ(map_mem(m), fail(EFAULT)) << "no slot";
  arm(FaultSite::alloc, 1);  // the reload passes, the fault's cache top-up fails
  m = req(0x40000, 1);
  EXPECT_EQ(map_mem(m), fail(EFAULT)) << "error pfn from the initialiser hides ENOMEM";
  ASSERT_EQ(set_slot(1, KVM_MEM_READONLY, 2 * G, 8 * K, mem(8 * K, Backing::anon_nohuge)), ok());
  m = req(0x80000, 1, KVM_MEMORY_MAPPING_FLAG_WRITE);
  EXPECT_EQ(map_mem(m), fail(EFAULT)) << "write to a read-only slot: RO-fault pfn";
}

TEST_F(MapMemoryTest, RetryIsEagain) {
  open_vm();
  ASSERT_EQ(set_slot(0, 0, 1 * G, 8 * K, mem(8 * K, Backing::anon_nohuge)), ok());
  arm(FaultSite::fault_retry);
  kvm_memory_mapping m = req(0x40000, 1);
  EXPECT_EQ(map_mem(m), fail(EAGAIN));
  EXPECT_EQ(map_mem(m), ok());
  EXPECT_EQ(m.nr_pages, 0u);
}

TEST_F(MapMemoryTest, SourceRefusedAndPrivateFlagUnsupported) {
  open_vm(KVM_X86_SW_PROTECTED_VM);
  ASSERT_EQ(set_slot(0, 0, 1 * G, 8 * K, mem(8 * K, Backing::anon_nohuge)), ok());
  kvm_memory_mapping m = req(0x40000, 1, 0, 4 * K);
  EXPECT_EQ(map_mem(m), fail(EINVAL));
  EXPECT_EQ(m.source, 4 * K);
  m = req(0x40000, 1, KVM_MEMORY_MAPPING_FLAG_PRIVATE);
  EXPECT_EQ(map_mem(m), fail(EOPNOTSUPP));
}

TEST_F(MapMemoryTest, LevelFromTheRequestAndWriteBreaksCow) {
  open_vm();
  const Ret hva = kvm.mmap(6 * M, Backing::thp, 2 * M);  // 2M aligned: THP-eligible at the slot's 2M pages
  ASSERT_TRUE(hva.is_ok());
  ASSERT_EQ(set_slot(0, 0, 1 * G, 6 * M, static_cast<u64>(hva.ret)), ok());
  kvm_memory_mapping m = req(0x40000, 511);
  EXPECT_EQ(map_mem(m), ok());
  EXPECT_EQ(level(1 * G), 1) << "511 pages: 4K steps";
  m = req(0x40200, 512);
  EXPECT_EQ(map_mem(m), ok());
  EXPECT_EQ(level(1 * G + 2 * M), 2);
  EXPECT_FALSE(map(1 * G + 2 * M).writable) << "read: huge zero page";
  m = req(0x40400, 512, KVM_MEMORY_MAPPING_FLAG_WRITE);
  EXPECT_EQ(map_mem(m), ok());
  EXPECT_EQ(level(1 * G + 4 * M), 2);
  EXPECT_TRUE(map(1 * G + 4 * M).writable) << "write on untouched memory: a THP, not the zero page";
  EXPECT_TRUE(map(1 * G + 4 * M).accessed) << "not a prefetch";
  // A write over the huge zero page: on the 6.8 base the host splits the PMD and CoWs one 4K page
  // (huge_zero_wp_allocates_thp is 6.13+), so the request advances by 4K steps.
  m = req(0x40200, 512, KVM_MEMORY_MAPPING_FLAG_WRITE);
  EXPECT_EQ(map_mem(m), ok());
  EXPECT_EQ(level(1 * G + 2 * M), 1);
  EXPECT_TRUE(map(1 * G + 2 * M).writable);
}

}  // namespace
}  // namespace kvmsim::model::test
