// Shared helpers for the model unit tests: a Kvm on a named profile, and short builders for
// the uAPI structs.
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "model/vm/kvm.h"
#include "model/uapi.h"

namespace kvmsim::model::test {

using namespace kvmsim::uapi;

inline Ret fail(int e) { return Ret::fail(e); }
inline Ret ok(i64 v = 0) { return Ret::ok(v); }

inline kvm_userspace_memory_region region(u32 slot, u32 flags, u64 gpa, u64 size, u64 uaddr) {
  return kvm_userspace_memory_region{slot, flags, gpa, size, uaddr};
}
inline kvm_userspace_memory_region2 region2(u32 slot, u32 flags, u64 gpa, u64 size, u64 uaddr, int gmem = 0,
                                            u64 gmem_off = 0) {
  kvm_userspace_memory_region2 r{};
  r.slot = slot;
  r.flags = flags;
  r.guest_phys_addr = gpa;
  r.memory_size = size;
  r.userspace_addr = uaddr;
  r.guest_memfd = static_cast<u32>(gmem);
  r.guest_memfd_offset = gmem_off;
  return r;
}
inline kvm_create_guest_memfd gmem_args(u64 size, u64 flags = 0) {
  kvm_create_guest_memfd g{};
  g.size = size;
  g.flags = flags;
  return g;
}
inline kvm_enable_cap cap_args(u32 cap, u64 arg0, u32 flags = 0) {
  kvm_enable_cap c{};
  c.cap = cap;
  c.flags = flags;
  c.args[0] = arg0;
  return c;
}

constexpr u64 K = 1024, M = 1024 * K, G = 1024 * M;

struct ModelTest : ::testing::Test {
  explicit ModelTest(const char* profile = "linux-6.18") : kvm(*find_profile(profile)) {}
  int new_vm(u64 type = KVM_X86_DEFAULT_VM) {
    Ret r = kvm.ioctl_create_vm(kvm.kvm_fd(), type);
    EXPECT_TRUE(r.is_ok()) << r.err;
    return static_cast<int>(r.ret);
  }
  u64 mem(u64 size, Backing b = Backing::anon) {
    Ret r = kvm.mmap(size, b, 0);
    EXPECT_TRUE(r.is_ok()) << r.err;
    return static_cast<u64>(r.ret);
  }
  int gmem(int vm, u64 size, u64 flags = 0) {
    Ret r = kvm.ioctl_create_guest_memfd(vm, gmem_args(size, flags));
    EXPECT_TRUE(r.is_ok()) << r.err;
    return static_cast<int>(r.ret);
  }
  Kvm kvm;
};

struct PvmTest : ModelTest {
  PvmTest() : ModelTest("linux-6.18-pvm") {}
};
struct Linux61Test : ModelTest {
  Linux61Test() : ModelTest("linux-6.1") {}
};

}  // namespace kvmsim::model::test
