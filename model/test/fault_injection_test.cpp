// Deterministic fault injection (model/fault_injection.h): rule and rate semantics, each call site's
// effect on the uAPI (EINTR with progress kept, EAGAIN, ENOMEM, invisible RETRY), and the VMM retry
// contract as a RapidCheck property.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <set>

#include "model/fault_injection.h"
#include "model/test/mmu_fixture.h"

namespace kvmsim::model::test {
namespace {

TEST(FaultInjector, NothingArmedNeverFails) {
  FaultInjector f(7);
  for (int i = 0; i < 1000; i++) EXPECT_FALSE(f.should_fail(FaultSite::alloc));
  EXPECT_EQ(f.consulted(FaultSite::alloc), 1000u);
  EXPECT_EQ(f.fired(FaultSite::alloc), 0u);
}

TEST(FaultInjector, RuleLetsAfterPassThenFailsCountTimes) {
  FaultInjector f;
  f.arm({FaultSite::pre_fault_signal, 2, 3});
  std::vector<bool> seen;
  for (int i = 0; i < 7; i++) seen.push_back(f.should_fail(FaultSite::pre_fault_signal));
  EXPECT_EQ(seen, (std::vector<bool>{false, false, true, true, true, false, false}));
  EXPECT_FALSE(f.should_fail(FaultSite::alloc)) << "sites are independent";
}

TEST(FaultInjector, RatesAreSeededPerSite) {
  auto draw = [](u64 seed, FaultSite s) {
    FaultInjector f(seed);
    f.set_rate(s, 300);
    std::string bits;
    for (int i = 0; i < 64; i++) bits += f.should_fail(s) ? '1' : '0';
    return bits;
  };
  EXPECT_EQ(draw(1, FaultSite::alloc), draw(1, FaultSite::alloc));
  EXPECT_NE(draw(1, FaultSite::alloc), draw(2, FaultSite::alloc));
  EXPECT_NE(draw(1, FaultSite::alloc), draw(1, FaultSite::fault_retry));
  const std::string b = draw(3, FaultSite::alloc);
  const auto ones = std::count(b.begin(), b.end(), '1');
  EXPECT_GT(ones, 5);
  EXPECT_LT(ones, 40);
}

TEST(FaultInjector, TraceWordsMapToSites) {
  EXPECT_EQ(fault_site_for("pre_fault", "eintr"), FaultSite::pre_fault_signal);
  EXPECT_EQ(fault_site_for("pre_fault", "eagain"), FaultSite::pre_fault_invalid_slot);
  EXPECT_EQ(fault_site_for("alloc", "enomem"), FaultSite::alloc);
  EXPECT_EQ(fault_site_for("fault", "retry"), FaultSite::fault_retry);
  EXPECT_EQ(fault_site_for("alloc", "eintr"), std::nullopt);
}

struct InjectTest : MmuTest {
  void SetUp() override {
    open_vm();
    hva = mem(8 * M, Backing::anon_nohuge);  // 4K host pages: one pre-fault step per page
    ASSERT_EQ(set_slot(0, 0, 1 * G, 8 * M, hva), ok());
  }
  u64 hva = 0;
};

TEST_F(InjectTest, EintrKeepsProgress) {
  ASSERT_TRUE(kvm.inject_fault("pre_fault", "eintr", 2, 1));
  kvm_pre_fault_memory p{};
  p.gpa = 1 * G;
  p.size = 16 * K;
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu, p), ok()) << "progress hides the EINTR";
  EXPECT_EQ(p.gpa, 1 * G + 8 * K);
  EXPECT_EQ(p.size, 8 * K);
  EXPECT_EQ(stat("pages_4k"), 2u);
  // Before any progress the EINTR is the answer and the struct is unchanged.
  ASSERT_TRUE(kvm.inject_fault("pre_fault", "eintr", 0, 1));
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu, p), fail(EINTR));
  EXPECT_EQ(p.gpa, 1 * G + 8 * K);
  EXPECT_EQ(p.size, 8 * K);
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu, p), ok());
  EXPECT_EQ(p.size, 0u);
  EXPECT_EQ(stat("pages_4k"), 4u);
}

TEST_F(InjectTest, EagainOnlyInsideASlot) {
  ASSERT_TRUE(kvm.inject_fault("pre_fault", "eagain", 0, 1));
  kvm_pre_fault_memory p{};
  p.gpa = 3 * G;  // no slot: the INVALID-slot branch is never reached
  p.size = 4 * K;
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu, p), fail(ENOENT));
  p.gpa = 1 * G;
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu, p), fail(EAGAIN));
  EXPECT_EQ(p.size, 4 * K);
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu, p), ok());
}

TEST_F(InjectTest, EnomemFromFaultAndFromSlotMetadata) {
  ASSERT_TRUE(kvm.inject_fault("alloc", "enomem", 0, 1));
  AccessOutcome o = access(1 * G, AccessKind::write);
  EXPECT_EQ(o.kind, AccessOutcome::Kind::error);
  EXPECT_EQ(o.err, ENOMEM);
  EXPECT_EQ(access(1 * G, AccessKind::write), ok_outcome());
  ASSERT_TRUE(kvm.inject_fault("alloc", "enomem", 0, 1));
  EXPECT_EQ(set_slot(1, 0, 2 * G, 2 * M, hva), fail(ENOMEM));
  EXPECT_EQ(set_slot(1, 0, 2 * G, 2 * M, hva), ok()) << "nothing of the failed create remains";
}

TEST_F(InjectTest, RetryIsInvisible) {
  ASSERT_TRUE(kvm.inject_fault("fault", "retry", 0, 3));
  EXPECT_EQ(access(1 * G, AccessKind::write), ok_outcome());
  EXPECT_EQ(stat("pages_4k"), 1u);
  EXPECT_EQ(kvm.faults().fired(FaultSite::fault_retry), 3u);
}

// The VMM retry contract: retrying on EINTR/EAGAIN with the written-back gpa/size maps the whole
// range, and no gfn ends up under two leaves, whatever faults fire and wherever.
RC_GTEST_PROP(FaultInjection, RetryContractMapsWholeRangeOnce, ()) {
  const u64 seed = *rc::gen::arbitrary<u64>();
  const bool thp = *rc::gen::arbitrary<bool>();
  const u64 first = *rc::gen::inRange<u64>(0, 2048);  // 4K pages into an 8M slot
  const u64 pages = *rc::gen::inRange<u64>(1, 2049 - first);
  const unsigned eintr = *rc::gen::inRange(0u, 400u), eagain = *rc::gen::inRange(0u, 400u),
                 retry = *rc::gen::inRange(0u, 400u);
  Kvm kvm(*find_profile("linux-6.18"));
  kvm.faults() = FaultInjector(seed);
  const int vm = static_cast<int>(kvm.ioctl_create_vm(kvm.kvm_fd(), KVM_X86_DEFAULT_VM).ret);
  const int vcpu = static_cast<int>(kvm.ioctl_create_vcpu(vm, 0).ret);
  const u64 hva = static_cast<u64>(kvm.mmap(8 * M, thp ? Backing::thp : Backing::anon_nohuge, 2 * M).ret);
  RC_ASSERT(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 1 * G, 8 * M, hva)) == Ret::ok());
  kvm.faults().set_rate(FaultSite::pre_fault_signal, eintr);
  kvm.faults().set_rate(FaultSite::pre_fault_invalid_slot, eagain);
  kvm.faults().set_rate(FaultSite::fault_retry, retry);

  kvm_pre_fault_memory p{};
  p.gpa = 1 * G + first * 4 * K;
  p.size = pages * 4 * K;
  const u64 start = p.gpa, end = p.gpa + p.size;
  int calls = 0;
  while (p.size) {
    RC_ASSERT(++calls < 100000);
    const u64 before = p.gpa;
    Ret r = kvm.ioctl_pre_fault_memory(vcpu, p);
    RC_ASSERT(p.gpa + p.size == end);  // gpa and size move together
    RC_ASSERT(p.gpa >= before);
    if (!r.is_ok()) RC_ASSERT(r.err == EINTR || r.err == EAGAIN);
    if (!r.is_ok()) RC_ASSERT(p.gpa == before);  // an error means no progress
  }
  check_invariants(*kvm.vm(vm));
  // Every page of the range is mapped; leaves are walked once each, so counting them and comparing
  // with the stats proves nothing is mapped twice.
  std::set<u64> leaves;
  for (u64 gpa = start; gpa < end; gpa += 4 * K) {
    Mapping m = *kvm.mapping(vm, gpa);
    RC_ASSERT(m.level >= 1);
    leaves.insert(m.gpa);
  }
  const Stats st = *kvm.stats(vm);
  RC_ASSERT(st.at("pages_4k") + st.at("pages_2m") + st.at("pages_1g") == leaves.size());
}

}  // namespace
}  // namespace kvmsim::model::test
