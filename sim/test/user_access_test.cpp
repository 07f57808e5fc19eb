// sim/kvm/user_access.h on this host's memory (no /dev/kvm needed): SIGBUS and SIGSEGV come back as
// results, the process survives, and data round-trips.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "sim/kvm/user_access.h"

namespace kvmsim::kvm {
namespace {

TEST(UserAccess, SigbusBeyondEofAndSigsegvAreResults) {
  const int fd = ::memfd_create("kvmsim-user-access-test", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 4096), 0);
  void* m = ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(m, MAP_FAILED);
  const u64 a = reinterpret_cast<u64>(m);
  EXPECT_EQ(guarded_store(a + 8, 0x1122334455667788ull), Ret::ok());
  EXPECT_EQ(guarded_load(a + 8), Ret::ok(0x1122334455667788ll));
  EXPECT_EQ(guarded_touch(a), Ret::ok());
  EXPECT_EQ(guarded_load(a + 4096), Ret::signal(SIGBUS));    // beyond EOF
  EXPECT_EQ(guarded_store(a + 4092, 1), Ret::signal(SIGBUS));  // straddles into it
  EXPECT_EQ(guarded_touch(a + 4096), Ret::signal(SIGBUS));
  ASSERT_EQ(::mprotect(m, 4096, PROT_NONE), 0);
  EXPECT_EQ(guarded_load(a), Ret::fail(EFAULT));  // SIGSEGV
  EXPECT_EQ(guarded_load(a), Ret::fail(EFAULT));  // and again: the handlers were reinstalled
  ::munmap(m, 8192);
  ::close(fd);
}

}  // namespace
}  // namespace kvmsim::kvm
