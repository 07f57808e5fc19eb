// The guest_memfd in-place conversion series (model/vm/gmem_set_attributes.cpp,
// docs/semantics/gmem-conversion.md): one test per errno path of kvm_gmem_set_attributes() and
// __kvm_gmem_set_attributes() as posted in v8 (and RFC v5's content modes), and the pin statements.
#include "model/test/mmu_fixture.h"

namespace kvmsim::model::test {
namespace {

kvm_memory_attributes2 attrs2(u64 offset, u64 size, u64 attributes, u64 flags = 0) {
  kvm_memory_attributes2 a{};
  a.offset = offset;
  a.size = size;
  a.attributes = attributes;
  a.flags = flags;
  return a;
}
constexpr u64 kPriv = KVM_MEMORY_ATTRIBUTE_PRIVATE;

struct GmemConversionTest : MmuTest {
  explicit GmemConversionTest(const char* profile = "gmem-inplace-conversion") : MmuTest(profile) {}
  // A SW_PROTECTED VM with a 2M MMAP|INIT_SHARED guest_memfd bound at 1G and mmapped at `host`.
  void SetUp() override {
    open_vm(KVM_X86_SW_PROTECTED_VM);
    fd = gmem(vm, 2 * M, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
    Ret r = kvm.mmap_fd(fd, 2 * M, 0, PROT_READ | PROT_WRITE, MAP_SHARED);
    ASSERT_TRUE(r.is_ok()) << r.err;
    host = static_cast<u64>(r.ret);
    ASSERT_EQ(set_gmem_slot(0, 1 * G, 2 * M, host, fd), ok());
  }
  Ret convert(kvm_memory_attributes2& a, int on = -1) {
    written_back = true;
    Ret r = kvm.ioctl_set_memory_attributes2(on < 0 ? fd : on, a, &written_back);
    check();
    return r;
  }
  Ret convert(u64 offset, u64 size, u64 attributes, u64 flags = 0) {
    kvm_memory_attributes2 a = attrs2(offset, size, attributes, flags);
    return convert(a);
  }
  int fd = -1;
  u64 host = 0;
  bool written_back = false;
};

TEST_F(GmemConversionTest, ArgumentChecksAreEinvalAndNotWrittenBack) {
  EXPECT_EQ(convert(0, 4 * K, 0, 1), fail(EINVAL)) << "v8: flags must be 0";
  kvm_memory_attributes2 r = attrs2(0, 4 * K, 0);
  r.reserved[10] = 1;
  EXPECT_EQ(convert(r), fail(EINVAL)) << "reserved";
  EXPECT_EQ(convert(0, 4 * K, 1), fail(EINVAL)) << "unsupported attribute";
  EXPECT_EQ(convert(0, 0, 0), fail(EINVAL)) << "size 0";
  EXPECT_EQ(convert(~0ull - 4095, 8 * K, 0), fail(EINVAL)) << "wrap";
  EXPECT_EQ(convert(0x800, 4 * K, 0), fail(EINVAL)) << "unaligned offset";
  EXPECT_EQ(convert(0, 0x800, 0), fail(EINVAL)) << "unaligned size";
  EXPECT_EQ(convert(2 * M, 4 * K, 0), fail(EINVAL)) << "offset at i_size";
  EXPECT_EQ(convert(2 * M - 4 * K, 8 * K, 0), fail(EINVAL)) << "end beyond i_size";
  EXPECT_FALSE(written_back);
  EXPECT_EQ(convert(0, 2 * M, kPriv), ok());
  EXPECT_FALSE(written_back) << "success copies nothing back";
}

TEST_F(GmemConversionTest, VmWithoutPrivateMemoryIsEinval) {
  const int dvm = new_vm(KVM_X86_DEFAULT_VM);
  const int dfd = gmem(dvm, 2 * M, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  kvm_memory_attributes2 a = attrs2(0, 4 * K, 0);
  EXPECT_EQ(convert(a, dfd), fail(EINVAL));
}

TEST_F(GmemConversionTest, DispatchByFd) {
  kvm_memory_attributes2 a = attrs2(0, 4 * K, 0);
  EXPECT_EQ(convert(a, vm), fail(ENOTTY));
  EXPECT_EQ(convert(a, kvm.kvm_fd()), fail(EINVAL));
  EXPECT_EQ(convert(a, vcpu), fail(EINVAL));
  EXPECT_EQ(convert(a, 999), fail(EBADF));
  EXPECT_FALSE(written_back);
}

TEST(GmemConversionOtherProfiles, GuestMemfdHasNoIoctl) {
  for (const Profile& p : builtin_profiles()) {
    if (p.gmem_conversion.enabled || !p.has_guest_memfd) continue;
    Kvm kvm(p);
    const u64 type = p.vm_types & (1u << KVM_X86_SW_PROTECTED_VM) ? KVM_X86_SW_PROTECTED_VM : KVM_X86_DEFAULT_VM;
    const int vm = static_cast<int>(kvm.ioctl_create_vm(kvm.kvm_fd(), type).ret);
    Ret g = kvm.ioctl_create_guest_memfd(vm, gmem_args(2 * M));
    if (!g.is_ok()) continue;  // 6.12 without private VMs
    kvm_memory_attributes2 a = attrs2(0, 4 * K, 0);
    bool wb = true;
    EXPECT_EQ(kvm.ioctl_set_memory_attributes2(static_cast<int>(g.ret), a, &wb), fail(ENOTTY)) << p.name;
    EXPECT_FALSE(wb);
  }
}

TEST_F(GmemConversionTest, CapsAndVmAttributes) {
  EXPECT_EQ(kvm.ioctl_check_extension(kvm.kvm_fd(), KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES), ok(kPriv));
  EXPECT_EQ(kvm.ioctl_check_extension(vm, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES), ok(kPriv));
  EXPECT_EQ(kvm.ioctl_check_extension(new_vm(), KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES), ok(0));
  EXPECT_EQ(kvm.ioctl_check_extension(vm, KVM_CAP_MEMORY_ATTRIBUTES), ok(0));
  EXPECT_EQ(attrs(1 * G, 4 * K, kPriv), fail(ENOTTY)) << "per-VM attributes not built in v8's default";
}

TEST_F(GmemConversionTest, PinnedPageIsEagainAtItsOffsetAndNothingConverts) {
  ASSERT_EQ(kvm.pin(host + 12 * K, 4 * K), std::optional<Ret>(ok()));
  kvm_memory_attributes2 a = attrs2(4 * K, 16 * K, kPriv);
  EXPECT_EQ(convert(a), fail(EAGAIN));
  EXPECT_TRUE(written_back);
  EXPECT_EQ(a.error_offset, 12 * K);
  EXPECT_EQ(a.offset, 4 * K) << "the input fields are copied back unchanged";
  EXPECT_EQ(kvm.touch(host + 4 * K, 16 * K), ok()) << "nothing converted";
  ASSERT_EQ(kvm.unpin(host + 12 * K, 4 * K), std::optional<Ret>(ok()));
  EXPECT_EQ(convert(4 * K, 16 * K, kPriv), ok());
  EXPECT_EQ(kvm.touch(host + 4 * K, 4 * K), Ret::signal(SIGBUS)) << "a private page: the host access is SIGBUS";
  EXPECT_EQ(kvm.touch(host, 4 * K), ok());
}

TEST_F(GmemConversionTest, NoOpAndToSharedIgnorePins) {
  ASSERT_EQ(kvm.pin(host, 4 * K), std::optional<Ret>(ok()));
  EXPECT_EQ(convert(0, 4 * K, 0), ok()) << "already shared: returns before any check";
  EXPECT_FALSE(written_back);
}

TEST_F(GmemConversionTest, PreallocationFailureIsEnomemAtStart) {
  kvm.faults().arm(FaultRule{FaultSite::alloc, 0, 1});
  kvm_memory_attributes2 a = attrs2(64 * K, 4 * K, kPriv);
  EXPECT_EQ(convert(a), fail(ENOMEM));
  EXPECT_TRUE(written_back);
  EXPECT_EQ(a.error_offset, 64 * K);
  EXPECT_EQ(kvm.touch(host + 64 * K, 4 * K), ok());
}

TEST_F(GmemConversionTest, ConversionZapsTheGuestAndMovesPrivateness) {
  ASSERT_EQ(kvm.access(vcpu, 1 * G, AccessKind::write).kind, AccessOutcome::Kind::ok);
  ASSERT_EQ(kvm.mapping(vm, 1 * G)->level, 1);
  EXPECT_FALSE(kvm.mapping(vm, 1 * G)->is_private);
  EXPECT_EQ(convert(0, 4 * K, kPriv), ok());
  EXPECT_EQ(kvm.mapping(vm, 1 * G)->level, 0);
  ASSERT_EQ(kvm.access(vcpu, 1 * G, AccessKind::read).kind, AccessOutcome::Kind::ok);
  EXPECT_TRUE(kvm.mapping(vm, 1 * G)->is_private);
  check();
}

TEST_F(GmemConversionTest, PinErrors) {
  EXPECT_EQ(kvm.pin(0x1000, 4 * K), std::optional<Ret>(fail(EFAULT))) << "unmapped";
  EXPECT_EQ(convert(0, 4 * K, kPriv), ok());
  EXPECT_EQ(kvm.pin(host, 8 * K), std::optional<Ret>(fail(EFAULT))) << "a private page: nothing pinned";
  EXPECT_EQ(kvm.unpin(host + 4 * K, 4 * K), std::optional<Ret>(fail(EINVAL))) << "never pinned";
  const u64 ro = mem(2 * M, Backing::anon_nohuge);
  ASSERT_EQ(kvm.mprotect(ro, 2 * M, PROT_READ), ok());
  EXPECT_EQ(kvm.pin(ro, 4 * K), std::optional<Ret>(fail(EFAULT))) << "FOLL_WRITE on a read-only mapping";
}

struct ContentModesTest : GmemConversionTest {
  ContentModesTest() : GmemConversionTest("gmem-inplace-conversion-content-modes") {}
};

TEST_F(ContentModesTest, FlagChecks) {
  EXPECT_EQ(convert(0, 4 * K, 0, 4), fail(EINVAL));
  EXPECT_EQ(convert(0, 4 * K, 0, KVM_SET_MEMORY_ATTRIBUTES2_ZERO | KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE), fail(EINVAL));
  EXPECT_FALSE(written_back);
  EXPECT_EQ(convert(0, 0, kPriv, KVM_SET_MEMORY_ATTRIBUTES2_ZERO), fail(EINVAL)) << "generic checks come first";
}

TEST_F(ContentModesTest, ZeroToPrivateIsEopnotsuppAtStart) {
  kvm_memory_attributes2 a = attrs2(8 * K, 8 * K, kPriv, KVM_SET_MEMORY_ATTRIBUTES2_ZERO);
  EXPECT_EQ(convert(a), fail(EOPNOTSUPP));
  EXPECT_TRUE(written_back);
  EXPECT_EQ(a.error_offset, 8 * K);
  EXPECT_EQ(convert(8 * K, 8 * K, kPriv, KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE), ok());
  EXPECT_EQ(convert(8 * K, 8 * K, 0, KVM_SET_MEMORY_ATTRIBUTES2_ZERO), ok());
}

TEST(ContentModesPerVmType, UnsupportedModeIsEopnotsuppAtStart) {
  Profile p = *find_profile("gmem-inplace-conversion-content-modes");
  p.gmem_conversion.modes.erase(KVM_X86_SW_PROTECTED_VM);  // as SEV/SNP rows without the mode
  Kvm kvm(p);
  const int vm = static_cast<int>(kvm.ioctl_create_vm(kvm.kvm_fd(), KVM_X86_SW_PROTECTED_VM).ret);
  const int fd = static_cast<int>(kvm.ioctl_create_guest_memfd(vm, gmem_args(2 * M, GUEST_MEMFD_FLAG_INIT_SHARED)).ret);
  kvm_memory_attributes2 a = attrs2(16 * K, 4 * K, kPriv, KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
  bool wb = false;
  EXPECT_EQ(kvm.ioctl_set_memory_attributes2(fd, a, &wb), fail(EOPNOTSUPP));
  EXPECT_TRUE(wb);
  EXPECT_EQ(a.error_offset, 16 * K);
}

TEST(ContentModesTable, IsDataPerVmType) {
  const Profile& p = *find_profile("gmem-inplace-conversion-content-modes");
  const auto& m = p.gmem_conversion.modes;
  ASSERT_TRUE(m.count(KVM_X86_SW_PROTECTED_VM));
  EXPECT_EQ(m.at(KVM_X86_SNP_VM).to_shared, KVM_SET_MEMORY_ATTRIBUTES2_ZERO);
  EXPECT_EQ(m.at(KVM_X86_TDX_VM).to_private, KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE);
  EXPECT_EQ(find_profile("gmem-inplace-conversion")->gmem_conversion.mode_flags, 0u) << "v8 dropped content modes";
}

// ---- contents across conversions (docs/semantics/gmem-conversion.md §5) ----

// The guest's u64 load at gpa: the value, or nullopt when the model answers unspecified.
std::optional<u64> guest_load(Kvm& kvm, int vcpu, u64 gpa) {
  const AccessOutcome o = kvm.access_value(vcpu, gpa, AccessKind::read, 0);
  EXPECT_EQ(o.kind, AccessOutcome::Kind::ok);
  return o.unspecified ? std::nullopt : std::optional<u64>(o.value);
}

TEST_F(GmemConversionTest, ConversionWithoutModeLeavesContentsUnspecified) {
  ASSERT_EQ(kvm.poke(host, 0x1111), ok());
  ASSERT_EQ(kvm.poke(host + 4 * K, 0x2222), ok());
  EXPECT_EQ(guest_load(kvm, vcpu, 1 * G), std::optional<u64>(0x1111)) << "shared: host and guest see one page";
  ASSERT_EQ(convert(0, 4 * K, kPriv), ok());
  EXPECT_EQ(guest_load(kvm, vcpu, 1 * G), std::nullopt) << "v8 promises nothing across a conversion";
  EXPECT_EQ(kvm.peek(host + 4 * K), ok(0x2222)) << "a page outside the range keeps its contents";
  ASSERT_EQ(kvm.access_value(vcpu, 1 * G, AccessKind::write, 0x3333).kind, AccessOutcome::Kind::ok);
  EXPECT_EQ(guest_load(kvm, vcpu, 1 * G), std::optional<u64>(0x3333)) << "a store makes its bytes specified";
  EXPECT_EQ(guest_load(kvm, vcpu, 1 * G + 8), std::nullopt) << "but only those";
  ASSERT_EQ(convert(0, 4 * K, 0), ok());
  const Ret back = kvm.peek(host);
  ASSERT_TRUE(back.is_ok());
  EXPECT_TRUE(back.unspecified) << "private -> shared is unspecified too";
}

TEST_F(GmemConversionTest, NoOpAndEagainKeepContents) {
  ASSERT_EQ(kvm.poke(host, 0x1111), ok());
  ASSERT_EQ(convert(0, 4 * K, 0), ok()) << "already shared: a no-op";
  EXPECT_EQ(kvm.peek(host), ok(0x1111));
  ASSERT_EQ(kvm.pin(host, 4 * K), std::optional<Ret>(ok()));
  ASSERT_EQ(convert(0, 4 * K, kPriv), fail(EAGAIN));
  EXPECT_EQ(kvm.peek(host), ok(0x1111)) << "nothing converted";
}

TEST_F(GmemConversionTest, OnlyPagesWhoseStateChangesBecomeUnspecified) {
  ASSERT_EQ(kvm.poke(host, 0x1111), ok());
  ASSERT_EQ(kvm.poke(host + 4 * K, 0x2222), ok());
  ASSERT_EQ(convert(4 * K, 4 * K, kPriv), ok());
  ASSERT_EQ(kvm.access_value(vcpu, 1 * G + 4 * K, AccessKind::write, 0x4444).kind, AccessOutcome::Kind::ok);
  ASSERT_EQ(convert(0, 8 * K, kPriv), ok()) << "page 1 is private already";
  EXPECT_EQ(guest_load(kvm, vcpu, 1 * G), std::nullopt);
  EXPECT_EQ(guest_load(kvm, vcpu, 1 * G + 4 * K), std::optional<u64>(0x4444));
}

TEST_F(ContentModesTest, ZeroZeroesTheRangeAndPreserveKeepsIt) {
  ASSERT_EQ(kvm.poke(host, 0x1111), ok());
  ASSERT_EQ(convert(0, 8 * K, kPriv, KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE), ok());
  EXPECT_EQ(guest_load(kvm, vcpu, 1 * G), std::optional<u64>(0x1111)) << "PRESERVE to private";
  ASSERT_EQ(kvm.access_value(vcpu, 1 * G + 4 * K, AccessKind::write, 0x5555).kind, AccessOutcome::Kind::ok);
  ASSERT_EQ(convert(4 * K, 4 * K, 0, KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE), ok());
  EXPECT_EQ(kvm.peek(host + 4 * K), ok(0x5555)) << "PRESERVE to shared";
  ASSERT_EQ(convert(0, 8 * K, 0, KVM_SET_MEMORY_ATTRIBUTES2_ZERO), ok());
  EXPECT_EQ(kvm.peek(host), ok(0)) << "ZERO to shared zeroes the converted page";
  EXPECT_EQ(kvm.peek(host + 4 * K), ok(0)) << "and the already-shared page of the range";
}

}  // namespace
}  // namespace kvmsim::model::test
