// The private-fd v5 proposal (profile private-fd-v5, docs/semantics/proposals.md §2): one test per errno
// path of the inaccessible memfd (01/13, 02/13) and of KVM_SET_USER_MEMORY_REGION with KVM_MEM_PRIVATE
// (06/13, 10/13, 12/13), the KVM_EXIT_MEMORY_ERROR fault (09/13), the notifier's zap range (11/13), and
// the kernel-bug diagnostics of the posted code.
#include "model/test/model_fixture.h"

namespace kvmsim::model::test {
namespace {

kvm_userspace_memory_region_ext ext(u32 slot, u32 flags, u64 gpa, u64 size, u64 uaddr, int fd, u64 off) {
  kvm_userspace_memory_region_ext r{};
  r.slot = slot;
  r.flags = flags;
  r.guest_phys_addr = gpa;
  r.memory_size = size;
  r.userspace_addr = uaddr;
  r.private_fd = static_cast<u32>(fd);
  r.private_offset = off;
  return r;
}

struct PrivateFdTest : ModelTest {
  PrivateFdTest() : ModelTest("private-fd-v5") {
    vm = new_vm();
    vcpu = static_cast<int>(kvm.ioctl_create_vcpu(vm, 0).ret);
    pm = static_cast<int>(kvm.memfd_create(4 * M, MFD_INACCESSIBLE).ret);
  }
  Ret set(u32 slot, u32 flags, u64 gpa, u64 size, u64 uaddr, int fd, u64 off = 0) {
    return kvm.ioctl_set_user_memory_region_ext(vm, ext(slot, flags, gpa, size, uaddr, fd, off));
  }
  std::string bug() { return kvm.take_diagnostic().text; }
  int vm = -1, vcpu = -1, pm = -1;
};

TEST_F(PrivateFdTest, InaccessibleMemfd) {
  EXPECT_EQ(kvm.memfd_create(4 * M + 1, MFD_INACCESSIBLE), fail(EINVAL)) << "size not a page multiple";
  EXPECT_EQ(kvm.memfd_create(4 * K, 0x4), fail(EINVAL)) << "MFD_HUGETLB is not modelled";
  EXPECT_EQ(kvm.mmap_fd(pm, 4 * K, 0, PROT_READ, MAP_SHARED), fail(EPERM));
  EXPECT_EQ(kvm.write(pm, 4 * K), fail(EPERM));
  EXPECT_EQ(kvm.read(pm, 4 * K), fail(EPERM));
  EXPECT_EQ(kvm.pread(pm, 4 * K, 0), fail(EPERM));
  EXPECT_EQ(kvm.pread(pm, 4 * K, 4 * M), ok(0)) << "at EOF the seal is not consulted";
  EXPECT_EQ(kvm.ftruncate(pm, 8 * M), fail(EPERM)) << "sized once, from 0";
  const int empty = static_cast<int>(kvm.memfd_create(0, MFD_INACCESSIBLE).ret);
  EXPECT_EQ(kvm.ftruncate(empty, 4 * K + 1), fail(EINVAL));
  EXPECT_EQ(kvm.ftruncate(empty, 4 * K), ok());
  EXPECT_EQ(kvm.fallocate(pm, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0x800, 4 * K), fail(EINVAL));
  EXPECT_EQ(kvm.fallocate(pm, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4 * K), ok());
  EXPECT_EQ(kvm.fallocate(pm, 0, 0, 4 * K), ok());
}

TEST(PrivateFdOtherProfiles, FlagsUnknownUpstream) {
  // Upstream: bit 2 is GUEST_MEMFD, refused by plain KVM_SET_USER_MEMORY_REGION; MFD 0x8 seals nothing here.
  Kvm kvm(*find_profile("linux-7.3"));
  const int vm = static_cast<int>(kvm.ioctl_create_vm(kvm.kvm_fd(), KVM_X86_DEFAULT_VM).ret);
  const u64 mem = static_cast<u64>(kvm.mmap(4 * M, Backing::anon, 0).ret);
  const int fd = static_cast<int>(kvm.memfd_create(4 * M, MFD_INACCESSIBLE).ret);
  EXPECT_TRUE(kvm.mmap_fd(fd, 4 * K, 0, PROT_READ, MAP_SHARED).is_ok());
  EXPECT_EQ(kvm.ioctl_set_user_memory_region_ext(vm, ext(0, KVM_MEM_PRIVATE, 0, 4 * M, mem, fd, 0)), fail(EINVAL));
}

TEST_F(PrivateFdTest, RegionChecksInOrder) {
  const u64 mem = this->mem(8 * M);
  EXPECT_EQ(set(0, KVM_MEM_PRIVATE, 0, 4 * M, mem, 99), fail(EINVAL)) << "private_fd not open";
  EXPECT_EQ(set(0, KVM_MEM_PRIVATE, 0, 4 * M, mem, vm), fail(EINVAL)) << "not shmem: no notifier list";
  EXPECT_EQ(set(0, KVM_MEM_PRIVATE | 0x8, 0, 4 * M, mem, pm), fail(EINVAL)) << "unknown flag";
  EXPECT_EQ(set(0, KVM_MEM_PRIVATE, 0, 4 * M, mem, pm, 0x123), ok()) << "offset unchecked";
  EXPECT_EQ(set(0, KVM_MEM_PRIVATE, 0, 4 * M, mem, 99, 0x123), ok()) << "no change: fd never looked up";
  EXPECT_EQ(set(1, KVM_MEM_PRIVATE, 2 * M, 2 * M, mem, 99), fail(EINVAL)) << "fdget before the overlap check";
  EXPECT_EQ(set(1, KVM_MEM_PRIVATE, 2 * M, 2 * M, mem, pm), fail(EEXIST));
  EXPECT_EQ(set(1, 0, 4 * M, 2 * M, mem, 99), ok()) << "tail ignored without KVM_MEM_PRIVATE";
  EXPECT_EQ(set(1, KVM_MEM_READONLY, 4 * M, 2 * M, mem, 99), fail(EINVAL)) << "READONLY stays fixed";
  EXPECT_EQ(set(1, KVM_MEM_PRIVATE, 4 * M, 2 * M, mem, vm), ok()) << "FLAGS_ONLY never registers";
  EXPECT_EQ(set(0, 0, 0, 0, 0, 99), ok()) << "delete needs no fd";
  EXPECT_EQ(bug(), "");
}

TEST_F(PrivateFdTest, AllocatedPageExitsWithMemoryError) {
  const u64 mem = this->mem(4 * M, Backing::thp);
  ASSERT_EQ(set(0, KVM_MEM_PRIVATE, 0, 4 * M, mem, pm), ok());
  // A write: the host allocates a THP, so the 2M leaf matches the host (no 09/13 diagnostic).
  EXPECT_EQ(kvm.access(vcpu, 4 * K, AccessKind::write).kind, AccessOutcome::Kind::ok);
  ASSERT_EQ(kvm.fallocate(pm, 0, 0, 8 * K), ok());
  EXPECT_EQ(kvm.mapping(vm, 4 * K)->level, 0) << "the notifier zapped the shared leaf";
  const AccessOutcome o = kvm.access(vcpu, 4 * K, AccessKind::write);
  EXPECT_EQ(o, (AccessOutcome{AccessOutcome::Kind::memory_error, EPERM, 0, 4 * K, 4 * K}));
  EXPECT_EQ(kvm.access(vcpu, 8 * K, AccessKind::read).kind, AccessOutcome::Kind::ok);
  ASSERT_EQ(kvm.fallocate(pm, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 8 * K), ok());
  EXPECT_EQ(kvm.access(vcpu, 4 * K, AccessKind::write).kind, AccessOutcome::Kind::ok);
  EXPECT_EQ(bug(), "");
}

TEST_F(PrivateFdTest, NotifierUsesFilePagesAsGfns) {
  const u64 mem = this->mem(2 * M, Backing::thp);
  // File pages 0x100.. at gfn 0x40000: allocating page 0x101 should zap gfn 0x40001.
  ASSERT_EQ(set(1, KVM_MEM_PRIVATE, 1 * G, 2 * M, mem, pm, 1 * M), ok());
  ASSERT_EQ(kvm.access(vcpu, 1 * G + 4 * K, AccessKind::read).kind, AccessOutcome::Kind::ok);
  ASSERT_EQ(kvm.fallocate(pm, 0, 1 * M + 4 * K, 4 * K), ok());
  EXPECT_NE(kvm.mapping(vm, 1 * G + 4 * K)->level, 0) << "the posted range [1, 2) clamps to nothing";
  EXPECT_NE(bug().find("[PATCH v5 11/13] kvm_memfile_notifier_handler(): file pages [0x101, 0x102) of slot 1 zap "
                       "gfns nothing instead of [0x40001, 0x40002)"),
            std::string::npos);
}

TEST_F(PrivateFdTest, HostLevelIgnoredForPrivateSlots) {
  const u64 mem = this->mem(2 * M, Backing::anon_nohuge);
  ASSERT_EQ(set(0, KVM_MEM_PRIVATE, 1 * G, 2 * M, mem, pm), ok());
  ASSERT_EQ(kvm.access(vcpu, 1 * G, AccessKind::read).kind, AccessOutcome::Kind::ok);
  EXPECT_EQ(kvm.mapping(vm, 1 * G)->level, 2);
  EXPECT_NE(bug().find("[PATCH v5 09/13] kvm_mmu_max_mapping_level()"), std::string::npos);
}

TEST_F(PrivateFdTest, SlotChangesAfterCreate) {
  const u64 mem = this->mem(4 * M, Backing::thp);
  kvm.faults().arm(FaultRule{FaultSite::alloc, 0, 1});
  EXPECT_EQ(set(0, KVM_MEM_PRIVATE, 0, 4 * M, mem, pm), fail(ENOMEM));
  EXPECT_NE(bug().find("both fput() the private file"), std::string::npos);
  ASSERT_EQ(set(0, KVM_MEM_PRIVATE, 0, 4 * M, mem, pm), ok());
  ASSERT_EQ(set(0, KVM_MEM_PRIVATE, 1 * G, 4 * M, mem, pm), ok()) << "MOVE";
  EXPECT_EQ(bug(), "");
  EXPECT_EQ(kvm.access(vcpu, 1 * G, AccessKind::read).kind, AccessOutcome::Kind::ok);
  EXPECT_NE(bug().find("slot->pfn_ops is NULL"), std::string::npos);
  ASSERT_EQ(kvm.fallocate(pm, 0, 0, 4 * K), ok());
  EXPECT_NE(bug().find("use-after-free: the notifier of the old slot 0"), std::string::npos);
  ASSERT_EQ(set(0, 0, 1 * G, 0, 0, 0), ok());
  EXPECT_NE(bug().find("kvm_free_memslot(): slot 0 was moved"), std::string::npos);
}

}  // namespace
}  // namespace kvmsim::model::test
