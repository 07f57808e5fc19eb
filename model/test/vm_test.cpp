// VM ioctls: dirty log (docs/semantics/dirty-log.md, docs/semantics/host-kvm-pvm.md §5), caps, vCPUs, attributes (docs/semantics/memory-attributes.md §1), pre-fault generic
// part (docs/semantics/pre-fault.md §2), and fd dispatch errnos (docs/semantics/vm-and-caps.md §1).
#include "model/test/model_fixture.h"

namespace kvmsim::model::test {
namespace {

TEST_F(PvmTest, DirtyLogWithoutAndWithManualProtect) {
  const int vm = new_vm();
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(1, KVM_MEM_LOG_DIRTY_PAGES, 0, 512 * 4 * K, 0)), ok());
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(2, 0, 4 * M, 4 * K, 0)), ok());
  std::vector<u64> bm;
  EXPECT_EQ(kvm.ioctl_get_dirty_log(vm, 1, bm), ok());
  EXPECT_EQ(bm, std::vector<u64>(8, 0));
  Vm* v = kvm.vm(vm);
  for (u64 g = 0; g < 10; ++g) v->mmu().mark_dirty(*v->slots(0).find(1), g);
  EXPECT_EQ(kvm.ioctl_get_dirty_log(vm, 1, bm), ok());
  EXPECT_EQ(bm[0], 0x3ffu);
  EXPECT_EQ(kvm.ioctl_get_dirty_log(vm, 1, bm), ok());
  EXPECT_EQ(bm[0], 0u);  // GET cleared
  EXPECT_EQ(kvm.ioctl_get_dirty_log(vm, 2, bm), fail(ENOENT));
  EXPECT_EQ(kvm.ioctl_get_dirty_log(vm, 7, bm), fail(ENOENT));
  EXPECT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 4)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 2)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 1, 1)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 1)), ok());
  EXPECT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 3)), ok());
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(3, KVM_MEM_LOG_DIRTY_PAGES, 8 * M, 512 * 4 * K, 0)), ok());
  EXPECT_EQ(kvm.ioctl_get_dirty_log(vm, 3, bm), ok());
  EXPECT_EQ(bm, std::vector<u64>(8, ~0ull));  // INITIALLY_SET
  EXPECT_EQ(kvm.ioctl_get_dirty_log(vm, 3, bm), ok());
  EXPECT_EQ(bm, std::vector<u64>(8, ~0ull));  // repeated GET does not clear
  EXPECT_EQ(kvm.ioctl_clear_dirty_log(vm, 3, 0, 64, {1ull << 3}), ok());
  EXPECT_EQ(kvm.ioctl_get_dirty_log(vm, 3, bm), ok());
  EXPECT_EQ(bm[0], ~(1ull << 3));
  EXPECT_EQ(kvm.ioctl_clear_dirty_log(vm, 3, 1, 64, std::vector<u64>(8)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_clear_dirty_log(vm, 3, 0, 63, std::vector<u64>(8)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_clear_dirty_log(vm, 3, 448, 64, std::vector<u64>(1, ~0ull)), ok());
  EXPECT_EQ(kvm.ioctl_clear_dirty_log(vm, 3, 448, 70, std::vector<u64>(2)), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_clear_dirty_log(vm, 3, 0, 0, {}), ok());
  EXPECT_EQ(kvm.ioctl_clear_dirty_log(vm, 3, 0, 512, std::vector<u64>(8, ~0ull)), ok());
  EXPECT_EQ(kvm.ioctl_get_dirty_log(vm, 3, bm), ok());
  EXPECT_EQ(bm, std::vector<u64>(8, 0));
  EXPECT_EQ(kvm.ioctl_clear_dirty_log(vm, 2, 0, 64, std::vector<u64>(1)), fail(ENOENT));
  EXPECT_EQ(kvm.ioctl_clear_dirty_log(vm, 9, 0, 64, std::vector<u64>(1)), fail(ENOENT));
  EXPECT_EQ(kvm.ioctl_clear_dirty_log(vm, 1 << 16 | 3, 0, 64, std::vector<u64>(1)), fail(EINVAL));
  const int vm2 = new_vm();  // CLEAR without the cap is fine
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm2, region(0, KVM_MEM_LOG_DIRTY_PAGES, 0, 64 * 4 * K, 0)), ok());
  EXPECT_EQ(kvm.ioctl_clear_dirty_log(vm2, 0, 0, 64, std::vector<u64>(1)), ok());
}

TEST_F(PvmTest, DirtyRing) {
  const int vm = new_vm();
  for (u64 size : {0ull, 100ull, 2048ull})
    EXPECT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_DIRTY_LOG_RING, size)), fail(EINVAL)) << size;
  EXPECT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_DIRTY_LOG_RING, 2 * M)), fail(E2BIG));
  EXPECT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_DIRTY_LOG_RING, 4096)), ok());
  EXPECT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_DIRTY_LOG_RING, 4096)), fail(EINVAL));
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(vm, region(0, KVM_MEM_LOG_DIRTY_PAGES, 0, 4 * K, 0)), ok());
  std::vector<u64> bm;
  EXPECT_EQ(kvm.ioctl_get_dirty_log(vm, 0, bm), fail(ENXIO));
  const int vm2 = new_vm();
  EXPECT_EQ(kvm.ioctl_enable_cap(vm2, cap_args(KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 4096)), ok());
  const int vm3 = new_vm();
  ASSERT_TRUE(kvm.ioctl_create_vcpu(vm3, 0).is_ok());
  EXPECT_EQ(kvm.ioctl_enable_cap(vm3, cap_args(KVM_CAP_DIRTY_LOG_RING, 4096)), fail(EINVAL));
}

TEST_F(PvmTest, CapsVcpusAndPreFault) {
  EXPECT_EQ(kvm.ioctl_check_extension(kvm.kvm_fd(), KVM_CAP_NR_MEMSLOTS), ok(32764));
  EXPECT_EQ(kvm.ioctl_check_extension(kvm.kvm_fd(), KVM_CAP_PRE_FAULT_MEMORY), ok(0));
  for (u64 t = 1; t <= 5; ++t) EXPECT_EQ(kvm.ioctl_create_vm(kvm.kvm_fd(), t), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_create_vm(kvm.kvm_fd(), 32), fail(EINVAL));
  const int vm = new_vm();
  EXPECT_EQ(kvm.ioctl_check_extension(vm, KVM_CAP_MULTI_ADDRESS_SPACE), ok(0));
  const Ret vcpu = kvm.ioctl_create_vcpu(vm, 0);
  ASSERT_TRUE(vcpu.is_ok());
  EXPECT_EQ(kvm.ioctl_create_vcpu(vm, 0), fail(EEXIST));
  EXPECT_EQ(kvm.ioctl_create_vcpu(vm, 4096), fail(EINVAL));
  EXPECT_TRUE(kvm.ioctl_create_vcpu(vm, 4095).is_ok());
  kvm_pre_fault_memory pf{};
  pf.gpa = 0;
  pf.size = 4 * K;
  // Measured on this host: ENOSPC until the VM's first memslot (the shadow root cannot load), then
  // EOPNOTSUPP (no TDP), even after that slot is deleted again.
  const int vcpu_fd = static_cast<int>(vcpu.ret);
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu_fd, pf), fail(ENOSPC));
  kvm_userspace_memory_region slot{};
  slot.slot = 0;
  slot.guest_phys_addr = 1 * M;
  slot.memory_size = 4 * K;
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, slot), ok(0));
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu_fd, pf), fail(EOPNOTSUPP));
  slot.memory_size = 0;
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(vm, slot), ok(0));
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu_fd, pf), fail(EOPNOTSUPP));
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vm, pf), fail(ENOTTY));
  EXPECT_EQ(kvm.ioctl_enable_cap(vm, cap_args(KVM_CAP_VM_DISABLE_NX_HUGE_PAGES, 0)), fail(EINVAL));  // vCPUs exist
  EXPECT_EQ(kvm.ioctl_enable_cap(vm, cap_args(12345, 0)), fail(EINVAL));
}

TEST_F(ModelTest, PreFaultGenericChecksAndNoSlot) {
  const int vm = new_vm();
  const int vcpu = static_cast<int>(kvm.ioctl_create_vcpu(vm, 0).ret);
  kvm_pre_fault_memory pf{};
  pf.flags = 1;
  pf.size = 4 * K;
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu, pf), fail(EINVAL));
  pf.flags = 0;
  pf.size = 0;
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu, pf), fail(EINVAL));
  pf.gpa = 0x800;
  pf.size = 4 * K;
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu, pf), fail(EINVAL));
  pf.gpa = ~0ull - 4095;
  pf.size = 8 * K;
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu, pf), fail(EINVAL));
  pf.gpa = 1 * G;
  pf.size = 8 * K;
  EXPECT_EQ(kvm.ioctl_pre_fault_memory(vcpu, pf), fail(ENOENT));
  EXPECT_EQ(pf.gpa, 1 * G);
  EXPECT_EQ(pf.size, 8 * K);
  EXPECT_EQ(kvm.access(vcpu, 1 * G, AccessKind::read).kind, AccessOutcome::Kind::mmio);
  EXPECT_EQ(kvm.stats(vm)->at("pages_2m"), 0u);
  EXPECT_FALSE(kvm.stats(vcpu).has_value());
}

TEST_F(ModelTest, MemoryAttributes) {
  const int vm = new_vm();
  const kvm_memory_attributes priv{0, 4 * K, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0};
  EXPECT_EQ(kvm.ioctl_set_memory_attributes(vm, priv), fail(EINVAL));  // default VM: no PRIVATE
  EXPECT_EQ(kvm.ioctl_set_memory_attributes(vm, kvm_memory_attributes{0, 4 * K, 0, 0}), ok());
  const int pvm = new_vm(KVM_X86_SW_PROTECTED_VM);
  EXPECT_EQ(kvm.ioctl_set_memory_attributes(pvm, kvm_memory_attributes{0, 4 * K, 8, 1}), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_memory_attributes(pvm, kvm_memory_attributes{0, 4 * K, 16, 0}), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_memory_attributes(pvm, kvm_memory_attributes{0, 0, 8, 0}), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_memory_attributes(pvm, kvm_memory_attributes{~0ull - 4095, 8 * K, 8, 0}), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_memory_attributes(pvm, kvm_memory_attributes{0x800, 4 * K, 8, 0}), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_set_memory_attributes(pvm, kvm_memory_attributes{0, 0x800, 8, 0}), fail(EINVAL));
  ASSERT_EQ(kvm.ioctl_set_user_memory_region(pvm, region(0, 0, 1 * M, 2 * M, 0)), ok());
  Vm* v = kvm.vm(pvm);
  v->mmu().record_events(true);
  ASSERT_EQ(kvm.ioctl_set_memory_attributes(pvm, kvm_memory_attributes{0, 2 * M, 8, 0}), ok());
  EXPECT_EQ(v->mmu().events(), (std::vector<MmuEvent>{{MmuEvent::Kind::zap_range, 0, 256, 512},
                                                    {MmuEvent::Kind::attributes_changed, 0, 0, 512}}));
  v->mmu().clear_events();
  ASSERT_EQ(kvm.ioctl_set_memory_attributes(pvm, kvm_memory_attributes{0, 2 * M, 8, 0}), ok());
  EXPECT_TRUE(v->mmu().events().empty());  // already set: no-op
  ASSERT_EQ(kvm.ioctl_set_memory_attributes(pvm, kvm_memory_attributes{0, 1ull << 40, 8, 0}), ok());
  EXPECT_EQ(v->attributes().run_count(), 1u);
}

TEST_F(ModelTest, FdDispatchErrnos) {
  const int vm = new_vm();
  const int vcpu = static_cast<int>(kvm.ioctl_create_vcpu(vm, 0).ret);
  const int g = gmem(vm, 4 * K);
  EXPECT_EQ(kvm.kvm_fd(), 3);
  EXPECT_EQ(vm, 4);
  EXPECT_EQ(kvm.ioctl_create_vm(99, 0), fail(EBADF));
  EXPECT_EQ(kvm.ioctl_create_vm(vm, 0), fail(ENOTTY));
  EXPECT_EQ(kvm.ioctl_create_vm(vcpu, 0), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_create_vm(g, 0), fail(ENOTTY));
  EXPECT_EQ(kvm.ioctl_create_vcpu(kvm.kvm_fd(), 1), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_create_vcpu(vcpu, 1), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_check_extension(vcpu, KVM_CAP_USER_MEMORY), fail(EINVAL));
  EXPECT_EQ(kvm.ioctl_check_extension(vm, KVM_CAP_USER_MEMORY), ok(1));
  EXPECT_EQ(kvm.ioctl_check_extension(vm, 1ull << 40), ok(0));
  EXPECT_EQ(kvm.ioctl_set_user_memory_region(g, region(0, 0, 0, 4 * K, 0)), fail(ENOTTY));
  EXPECT_EQ(kvm.access(vm, 0, AccessKind::read).err, ENOTTY);
  EXPECT_EQ(kvm.read(vm, 1), fail(EINVAL));
  EXPECT_EQ(kvm.pread(vm, 1, 0), fail(ESPIPE));
  EXPECT_EQ(kvm.pread(kvm.kvm_fd(), 1, 0), fail(EINVAL));
  EXPECT_EQ(kvm.close(vcpu), ok());
  EXPECT_EQ(kvm.close(vcpu), fail(EBADF));
  EXPECT_EQ(static_cast<int>(kvm.memfd_create(4 * K, 0).ret), vcpu);  // lowest free fd is reused
}

}  // namespace
}  // namespace kvmsim::model::test
