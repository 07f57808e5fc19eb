// guest_memfd: docs/semantics/guest-memfd.md and docs/semantics/host-kvm-pvm.md §3 rows.
#include <csignal>

#include "model/test/model_fixture.h"

namespace kvmsim::model::test {
namespace {

TEST_F(PvmTest, CreateChecks) {
  const int vm = new_vm();
  EXPECT_EQ(kvm.ioctl_create_guest_memfd(kvm.kvm_fd(), gmem_args(4 * K)), fail(EINVAL));
  for (u64 size : {0ull, 0x800ull, 0x1001ull, ~0ull - 4095})
    EXPECT_EQ(kvm.ioctl_create_guest_memfd(vm, gmem_args(size)), fail(EINVAL)) << size;
  for (u64 size : {1ull << 46, 1ull << 62, (1ull << 63) - 4096})
    EXPECT_TRUE(kvm.ioctl_create_guest_memfd(vm, gmem_args(size)).is_ok()) << size;
  for (u64 f : {1ull << 2, 1ull << 63}) EXPECT_EQ(kvm.ioctl_create_guest_memfd(vm, gmem_args(4 * K, f)), fail(EINVAL));
  for (u64 f : {GUEST_MEMFD_FLAG_MMAP, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_INIT_SHARED})
    EXPECT_TRUE(kvm.ioctl_create_guest_memfd(vm, gmem_args(4 * K, f)).is_ok());
  auto g = gmem_args(4 * K);
  g.reserved[0] = g.reserved[5] = 1;
  EXPECT_TRUE(kvm.ioctl_create_guest_memfd(vm, g).is_ok());
  EXPECT_EQ(kvm.ioctl_set_memory_attributes(vm, kvm_memory_attributes{0, 4 * K, 0, 0}), fail(ENOTTY));
}

TEST_F(PvmTest, FileCalls) {
  const int vm = new_vm();
  const int g = gmem(vm, 64 * K);
  EXPECT_EQ(kvm.read(g, 1), fail(EINVAL));
  EXPECT_EQ(kvm.write(g, 1), fail(EINVAL));
  EXPECT_EQ(kvm.pread(g, 1, 0), fail(ESPIPE));
  EXPECT_EQ(kvm.ftruncate(g, 64 * K), fail(EINVAL));
  EXPECT_EQ(kvm.ftruncate(g, 0), fail(EINVAL));
  const int keep = FALLOC_FL_KEEP_SIZE, punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  EXPECT_EQ(kvm.fallocate(g, 0, 0, 4 * K), fail(EOPNOTSUPP));
  EXPECT_EQ(kvm.fallocate(g, FALLOC_FL_PUNCH_HOLE, 0, 4 * K), fail(EOPNOTSUPP));
  EXPECT_EQ(kvm.fallocate(g, FALLOC_FL_ZERO_RANGE | keep, 0, 4 * K), fail(EOPNOTSUPP));
  EXPECT_EQ(kvm.fallocate(g, FALLOC_FL_COLLAPSE_RANGE, 0, 4 * K), fail(EOPNOTSUPP));
  EXPECT_EQ(kvm.fallocate(g, keep, 0, 4 * K), ok());
  for (auto [o, l] : {std::pair<u64, u64>{1, 4 * K}, {0, 1}, {64 * K, 4 * K}, {60 * K, 8 * K}})
    EXPECT_EQ(kvm.fallocate(g, keep, o, l), fail(EINVAL)) << o << " " << l;
  EXPECT_EQ(kvm.fallocate(g, punch, 0, 4 * K), ok());
  EXPECT_EQ(kvm.fallocate(g, punch, 1, 4 * K), fail(EINVAL));
  EXPECT_EQ(kvm.fallocate(g, punch, 0, 0), fail(EINVAL));
  EXPECT_EQ(kvm.fallocate(g, punch, 64 * K, 4 * K), ok());
  EXPECT_EQ(kvm.fallocate(g, punch, 60 * K, 8 * K), ok());
  EXPECT_EQ(kvm.fallocate(vm, keep, 0, 4 * K), fail(ENODEV));
}

TEST_F(PvmTest, MmapRules) {
  const int vm = new_vm();
  const int rw = PROT_READ | PROT_WRITE;
  EXPECT_EQ(kvm.mmap_fd(gmem(vm, 64 * K), 4 * K, 0, rw, MAP_SHARED), fail(ENODEV));
  const int m = gmem(vm, 64 * K, GUEST_MEMFD_FLAG_MMAP);
  EXPECT_EQ(kvm.mmap_fd(m, 4 * K, 0, rw, MAP_PRIVATE), fail(EINVAL));
  EXPECT_EQ(kvm.mmap_fd(m, 4 * K, 0, rw | PROT_EXEC, MAP_SHARED), fail(EPERM));
  const Ret a = kvm.mmap_fd(m, 4 * K, 0, rw, MAP_SHARED);
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(kvm.touch(static_cast<u64>(a.ret), 4), Ret::signal(SIGBUS));  // no INIT_SHARED: every page private
}

TEST_F(PvmTest, BindingRules) {
  const int vm = new_vm();
  const int other = new_vm();
  const u64 ua = mem(64 * K);
  const int g = gmem(vm, 64 * K);
  const int og = gmem(other, 64 * K);
  const Ret memfd = kvm.memfd_create(64 * K, 0);
  auto bind = [&](u32 slot, u64 gpa, u64 size, int fd, u64 off, u32 extra = 0, u64 uaddr = ~0ull) {
    return kvm.ioctl_set_user_memory_region2(
        vm, region2(slot, KVM_MEM_GUEST_MEMFD | extra, gpa, size, uaddr == ~0ull ? ua : uaddr, fd, off));
  };
  EXPECT_EQ(bind(0, 0, 4 * K, -1, 0), fail(EBADF));
  EXPECT_EQ(bind(0, 0, 4 * K, 99, 0), fail(EBADF));
  EXPECT_EQ(bind(0, 0, 4 * K, static_cast<int>(memfd.ret), 0), fail(EINVAL));
  EXPECT_EQ(bind(0, 0, 4 * K, kvm.kvm_fd(), 0), fail(EINVAL));
  EXPECT_EQ(bind(0, 0, 4 * K, og, 0), fail(EINVAL));
  for (u64 off : {u64{0x800}, ~u64{0} - 4095, 64 * K, 128 * K}) EXPECT_EQ(bind(0, 0, 4 * K, g, off), fail(EINVAL)) << off;
  EXPECT_EQ(bind(0, 0, 4 * K, g, 0, KVM_MEM_READONLY), fail(EINVAL));
  EXPECT_EQ(bind(0, 0, 4 * K, g, 0, KVM_MEM_LOG_DIRTY_PAGES), fail(EINVAL));
  EXPECT_EQ(bind(0, 0, 4 * K, g, 0, 0, ua + 1), fail(EINVAL));
  EXPECT_EQ(bind(0, 0, 4 * K, g, 0, 0, 0xffff888000000000), fail(EINVAL));
  ASSERT_EQ(bind(0, 0, 16 * K, g, 0, 0, 0), ok());  // uaddr 0 is fine
  EXPECT_EQ(bind(1, 1 * M, 16 * K, g, 8 * K), fail(EINVAL));  // binding overlap (not EEXIST)
  EXPECT_EQ(bind(1, 1 * M, 16 * K, g, 16 * K), ok());
  // Any modification of a gmem slot is EINVAL; only delete works.
  EXPECT_EQ(bind(0, 0, 16 * K, g, 0, 0, 0), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region2(vm, region2(0, KVM_MEM_LOG_DIRTY_PAGES, 0, 16 * K, 0)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region2(vm, region2(0, 0, 0, 16 * K, 0)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, 0, 0, 16 * K, 0)), fail(EINVAL));
  EXPECT_EQ(bind(0, 2 * M, 16 * K, g, 0, 0, 0), fail(EINVAL));  // move
  // Close: both bindings are zapped, the slots lose their file, rebinding is EBADF.
  Vm* v = kvm.vm(vm);
  v->mmu().record_events(true);
  ASSERT_EQ(kvm.close(g), ok());
  EXPECT_EQ(v->mmu().events(), (std::vector<MmuEvent>{{MmuEvent::Kind::zap_range, 0, 0, 4},
                                                    {MmuEvent::Kind::zap_range, 0, 256, 260}}));
  EXPECT_FALSE(v->slots(0).find(0)->gmem->file_open);
  EXPECT_EQ(bind(2, 4 * M, 4 * K, g, 32 * K), fail(EBADF));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region2(vm, region2(0, 0, 0, 0, 0)), ok());
}

TEST_F(PvmTest, PunchHoleZapsBoundGfnsAndMmapMakesGmemOnly) {
  const int vm = new_vm();
  const int g = gmem(vm, 4 * M, GUEST_MEMFD_FLAG_MMAP);
  ASSERT_EQ(kvm.ioctl_set_user_memory_region2(vm, region2(0, KVM_MEM_GUEST_MEMFD, 1 * G, 2 * M, 0, g, 2 * M)), ok());
  Vm* v = kvm.vm(vm);
  EXPECT_TRUE(v->slots(0).find(0)->gmem_only);
  v->mmu().record_events(true);
  ASSERT_EQ(kvm.fallocate(g, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1 * M, 2 * M), ok());
  const u64 base = (1 * G) >> 12;
  EXPECT_EQ(v->mmu().events(), (std::vector<MmuEvent>{{MmuEvent::Kind::zap_range, 0, base, base + 256}}));
}

TEST_F(ModelTest, GmemKeepsVmAliveAndSupportedFlagsPerVm) {
  const int vm = new_vm();
  const int g = gmem(vm, 64 * K);
  ASSERT_EQ(kvm.close(vm), ok());
  EXPECT_EQ(kvm.fallocate(g, FALLOC_FL_KEEP_SIZE, 0, 4 * K), ok());  // VM still alive
  const int pvm = new_vm(KVM_X86_SW_PROTECTED_VM);
  EXPECT_EQ(kvm.ioctl_create_guest_memfd(pvm, gmem_args(4 * K, GUEST_MEMFD_FLAG_INIT_SHARED | 1)), fail(EINVAL));
  EXPECT_TRUE(kvm.ioctl_create_guest_memfd(pvm, gmem_args(4 * K, GUEST_MEMFD_FLAG_MMAP)).is_ok());
}

TEST_F(Linux61Test, NoGuestMemfd) {
  const int vm = new_vm();
  EXPECT_EQ(kvm.ioctl_create_guest_memfd(vm, gmem_args(4 * K)), fail(ENOTTY));
  EXPECT_EQ(kvm.ioctl_set_memory_attributes(vm, kvm_memory_attributes{0, 4 * K, 0, 0}), fail(ENOTTY));
  EXPECT_EQ(kvm.ioctl_create_vm(kvm.kvm_fd(), KVM_X86_SW_PROTECTED_VM), fail(EINVAL));
  const Ret vcpu = kvm.ioctl_create_vcpu(vm, 0);
  kvm_pre_fault_memory pf{};
  pf.size = 4 * K;
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(static_cast<int>(vcpu.ret), pf), fail(EINVAL));
}

}  // namespace
}  // namespace kvmsim::model::test
