// Tests of the real /dev/kvm backend against the measured behaviour of this host
// (docs/semantics/host-kvm-pvm.md §2-§6). Skipped when /dev/kvm cannot be opened.
#include "sim/kvm/kvm_backend.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "model/profiles/profile.h"

namespace kvmsim {
void PrintTo(const Ret& r, std::ostream* os) { *os << "Ret{" << r.ret << ", errno " << r.err << "}"; }
namespace kvm {
namespace {

using namespace uapi;
using Kind = AccessOutcome::Kind;
constexpr u64 k4K = 4096, k2M = 2ull << 20;

class KvmBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    api_ = make_kvm_backend(*model::find_profile("linux-6.18-pvm"), KvmBackendOptions{}, &why);
    if (!api_) GTEST_SKIP() << "no /dev/kvm: " << why;
    kb_ = static_cast<KvmBackend*>(api_.get());
    Ret r = api_->ioctl_create_vm(api_->kvm_fd(), KVM_X86_DEFAULT_VM);
    ASSERT_TRUE(r.is_ok()) << r.err;
    vm_ = static_cast<int>(r.ret);
  }
  int vcpu() {
    if (vcpu_ < 0) {
      Ret r = api_->ioctl_create_vcpu(vm_, 0);
      EXPECT_TRUE(r.is_ok()) << r.err;
      vcpu_ = static_cast<int>(r.ret);
    }
    return vcpu_;
  }
  u64 map(u64 size, Backing b, u64 align = 0) {
    Ret r = api_->mmap(size, b, align);
    EXPECT_TRUE(r.is_ok()) << r.err << " " << kb_->last_diagnostic();
    return static_cast<u64>(r.ret);
  }
  Ret slot(u32 id, u64 gpa, u64 size, u64 uaddr, u32 flags = 0) {
    kvm_userspace_memory_region r{id, flags, gpa, size, uaddr};
    return api_->ioctl_set_user_memory_region(vm_, r);
  }
  Ret slot2(const kvm_userspace_memory_region2& r) { return api_->ioctl_set_user_memory_region2(vm_, r); }
  AccessOutcome access(u64 gpa, AccessKind k) { return api_->access(vcpu(), gpa, k); }
  u64 stat(const char* name) {
    auto s = api_->stats(vm_);
    EXPECT_TRUE(s.has_value());
    return s ? s->at(name) : ~0ull;
  }
  static Ret fail(int e) { return Ret::fail(e); }

  std::unique_ptr<KvmApi> api_;
  KvmBackend* kb_ = nullptr;
  int vm_ = -1, vcpu_ = -1;
};


int count_open_fds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n;
}

TEST_F(KvmBackendTest, AccessReadWriteOkAndLandsInHostMemory) {
  u64 m = map(k2M, Backing::anon_nohuge);
  ASSERT_EQ(slot(0, 0x100000, k2M, m), Ret::ok());
  reinterpret_cast<volatile u8*>(m)[0] = 0x5a;
  EXPECT_EQ(access(0x100000, AccessKind::read).kind, Kind::ok) << kb_->last_diagnostic();
  EXPECT_EQ(access(0x100000 + 5 * k4K, AccessKind::write).kind, Kind::ok) << kb_->last_diagnostic();
  // The write stores one byte at its own target only: page 0 keeps its value.
  EXPECT_EQ(reinterpret_cast<volatile u8*>(m)[0], 0x5a);
  auto o = access(0x100000 + 7 * k4K + 3, AccessKind::exec);
  EXPECT_EQ(o.kind, Kind::ok) << kb_->last_diagnostic();
  EXPECT_EQ(reinterpret_cast<volatile u8*>(m)[7 * k4K + 3], 0) << "exec stub must be restored";
  EXPECT_EQ(stat("pages_4k"), 3u);  // read, write and exec pages; agent leaves excluded
}

// A slot may point at kvmsim's own memory (traces probe the kernel's checks with arbitrary
// addresses; the fuzz shrinker simplifies them): a guest store there is refused as a host limit.
TEST_F(KvmBackendTest, GuestWriteIntoTheProcessOwnMemoryIsRefused) {
  alignas(4096) static volatile u8 own[k4K];  // in kvmsim's .bss, not mapped by the backend
  own[0] = 0x5a;
  ASSERT_EQ(slot(0, 0x100000, k4K, reinterpret_cast<u64>(&own[0])), Ret::ok());
  AccessOutcome o = access(0x100000, AccessKind::write);
  EXPECT_EQ(o.kind, Kind::error);
  EXPECT_EQ(o.err, EFAULT);
  const KvmApi::Diagnostic d = api_->take_diagnostic();
  EXPECT_TRUE(d.host_limit);
  EXPECT_NE(d.text.find("memory of this process"), std::string::npos) << d.text;
  EXPECT_EQ(own[0], 0x5a);
}

TEST_F(KvmBackendTest, AccessOutcomes) {
  // No memslot: read and write exit to userspace as MMIO.
  EXPECT_EQ(access(0x40000000, AccessKind::read).kind, Kind::mmio);
  EXPECT_EQ(access(0x40000000, AccessKind::write).kind, Kind::mmio);
  // READONLY slot: reads work, writes are MMIO and leave memory unchanged.
  u64 ro = map(64 * k4K, Backing::anon_nohuge);
  reinterpret_cast<volatile u8*>(ro)[0] = 7;
  ASSERT_EQ(slot(1, 0x200000, 64 * k4K, ro, KVM_MEM_READONLY), Ret::ok());
  EXPECT_EQ(access(0x200000, AccessKind::read).kind, Kind::ok);
  EXPECT_EQ(access(0x200000, AccessKind::write).kind, Kind::mmio);
  EXPECT_EQ(reinterpret_cast<volatile u8*>(ro)[0], 7);
  // A slot whose uaddr was never mmapped: KVM_RUN fails with EFAULT, no MEMORY_FAULT info.
  ASSERT_EQ(slot(2, 0x400000, 16 * k4K, 0x7000000000ull), Ret::ok());
  auto o = access(0x400000, AccessKind::read);
  EXPECT_EQ(o.kind, Kind::error);
  EXPECT_EQ(o.err, EFAULT);
  // MADV_DONTNEED of a mapped range: the guest reads again fine (zero page).
  u64 m = map(16 * k4K, Backing::anon_nohuge);
  ASSERT_EQ(slot(3, 0x600000, 16 * k4K, m), Ret::ok());
  EXPECT_EQ(access(0x600000, AccessKind::write).kind, Kind::ok);
  EXPECT_EQ(api_->madvise(m, 16 * k4K, MADV_DONTNEED), Ret::ok());
  EXPECT_EQ(access(0x600000, AccessKind::read).kind, Kind::ok);
  EXPECT_EQ(access(0x600000, AccessKind::write).kind, Kind::ok);
  // After an error the vCPU is still usable.
  EXPECT_EQ(access(0x200000, AccessKind::read).kind, Kind::ok);
}

TEST_F(KvmBackendTest, ExecOutcomes) {
  // Exec of a gpa with no memslot: KVM cannot fetch from MMIO; the emulator fails.
  auto o = access(0x40000000, AccessKind::exec);
  std::printf("exec no-slot: kind %d err %d (%s)\n", static_cast<int>(o.kind), o.err, kb_->last_diagnostic().c_str());
  EXPECT_EQ(o.kind, Kind::error);
  // Exec of a READONLY slot's RAM works (the stub goes through the host's writable mapping).
  u64 ro = map(16 * k4K, Backing::anon_nohuge);
  ASSERT_EQ(slot(1, 0x200000, 16 * k4K, ro, KVM_MEM_READONLY), Ret::ok());
  EXPECT_EQ(access(0x200000 + 100, AccessKind::exec).kind, Kind::ok) << kb_->last_diagnostic();
  // The vCPU keeps working after the failed exec.
  EXPECT_EQ(access(0x200000, AccessKind::read).kind, Kind::ok) << kb_->last_diagnostic();
}

TEST_F(KvmBackendTest, StatsExcludeTheAgent) {
  // A VM whose trace never touches memory: one MMIO access, then pages_4k must read 0.
  EXPECT_EQ(access(0x10000000, AccessKind::read).kind, Kind::mmio);
  EXPECT_EQ(stat("pages_4k"), 0u);
  EXPECT_EQ(stat("pages_2m"), 0u);
  EXPECT_EQ(access(0x10000000, AccessKind::write).kind, Kind::mmio);
  EXPECT_EQ(stat("pages_4k"), 0u);
}

TEST_F(KvmBackendTest, StatsAnonNoHugeOnePagePerTouchedPage) {
  u64 m = map(4 * k2M, Backing::anon_nohuge);
  ASSERT_EQ(slot(0, 1ull << 32, 4 * k2M, m), Ret::ok());
  for (u64 i = 0; i < 10; ++i) {
    ASSERT_EQ(access((1ull << 32) + i * 3 * k4K, AccessKind::write).kind, Kind::ok);
    EXPECT_EQ(stat("pages_4k"), i + 1);
  }
  EXPECT_EQ(stat("pages_2m"), 0u);
  EXPECT_EQ(api_->madvise(m, 4 * k2M, MADV_DONTNEED), Ret::ok());
  EXPECT_EQ(stat("pages_4k"), 0u);
}

TEST_F(KvmBackendTest, StatsThpAlignedWrittenMaps2M) {
  u64 m = map(4 * k2M, Backing::thp);
  ASSERT_EQ(m % k2M, 0u);
  ASSERT_EQ(slot(0, 1ull << 32, 4 * k2M, m), Ret::ok());
  for (u64 i = 0; i < 4; ++i) ASSERT_EQ(access((1ull << 32) + i * k2M + 12345, AccessKind::write).kind, Kind::ok);
  EXPECT_EQ(stat("pages_2m"), 4u);
  EXPECT_EQ(stat("pages_4k"), 0u);
}

TEST_F(KvmBackendTest, MemslotErrnoRows) {
  u64 m = map(16 * k4K, Backing::anon);
  auto v1 = [&](u32 id, u64 gpa, u64 size, u64 ua, u32 fl = 0) { return slot(id, gpa, size, ua, fl); };
  EXPECT_EQ(v1(0, 0x100001, k4K, m), fail(EINVAL));
  EXPECT_EQ(v1(0, 0x100800, k4K, m), fail(EINVAL));
  EXPECT_EQ(v1(0, 0x100000, 0x1001, m), fail(EINVAL));
  EXPECT_EQ(v1(0, 0x100000, k4K, m + 1), fail(EINVAL));
  EXPECT_EQ(v1(0, 0x100000, k4K, 0xffff888000000000ull), fail(EINVAL));
  EXPECT_EQ(v1(0, 0x100000, k4K, 0x7ffffffff000ull), fail(EINVAL));
  EXPECT_EQ(v1(0, 0, 0, 0), fail(EINVAL));  // delete of a slot that never existed
  EXPECT_EQ(v1(0, 0x100000, 4 * k4K, 0x7000000000ull), Ret::ok());  // never mmapped: OK
  EXPECT_EQ(v1(1, 0x100000, 4 * k4K, m), fail(EEXIST));
  EXPECT_EQ(v1(1, 0x102000, 4 * k4K, m), fail(EEXIST));
  EXPECT_EQ(v1(1, 0x104000, 4 * k4K, m), Ret::ok());  // adjacent
  EXPECT_EQ(v1(32763, 0x200000, k4K, m), Ret::ok());
  EXPECT_EQ(v1(32764, 0x300000, k4K, m), fail(EINVAL));
  EXPECT_EQ(v1(1u << 16 | 5, 0x400000, k4K, m), fail(EINVAL));  // as_id 1: no SMM here
  EXPECT_EQ(v1(5, 0x400000, k4K, m, 1u << 3), fail(EINVAL));
  EXPECT_EQ(v1(5, 0x400000, k4K, m, KVM_MEM_GUEST_MEMFD), fail(EINVAL));  // v1 + GMEM flag
  EXPECT_EQ(v1(1, 0x104000, 4 * k4K, m, KVM_MEM_LOG_DIRTY_PAGES), Ret::ok());
  EXPECT_EQ(v1(1, 0x104000, 4 * k4K, m, 0), Ret::ok());
  EXPECT_EQ(v1(1, 0x104000, 4 * k4K, m, KVM_MEM_READONLY), fail(EINVAL));
  EXPECT_EQ(v1(1, 0x104000, 8 * k4K, m, 0), fail(EINVAL));
  EXPECT_EQ(v1(1, 0x104000, 4 * k4K, m + k4K, 0), fail(EINVAL));
  EXPECT_EQ(v1(1, 0x800000, 4 * k4K, m, 0), Ret::ok());  // move
  EXPECT_EQ(v1(1, 0x100000, 4 * k4K, m, 0), fail(EEXIST));  // move onto slot 0
  EXPECT_EQ(v1(1, 0x900000, 0, 0x5000, KVM_MEM_READONLY), Ret::ok());  // delete ignores gpa/flags
  EXPECT_EQ(v1(1, 0, 0, 0), fail(EINVAL));  // already deleted
  EXPECT_EQ(v1(6, 0x1000000, (1ull << 31) * k4K, 0x7000000000ull), fail(EINVAL));
  kvm_userspace_memory_region2 r2{};
  r2.slot = 7;
  r2.guest_phys_addr = 0x2000000;
  r2.memory_size = k4K;
  r2.userspace_addr = m;
  r2.pad1 = 1;
  r2.pad2[3] = 9;
  EXPECT_EQ(slot2(r2), Ret::ok());  // padding is not checked
}

TEST_F(KvmBackendTest, GuestMemfdRows) {
  auto gmem = [&](int fd, u64 size, u64 flags) {
    kvm_create_guest_memfd g{};
    g.size = size;
    g.flags = flags;
    return api_->ioctl_create_guest_memfd(fd, g);
  };
  EXPECT_EQ(gmem(api_->kvm_fd(), k2M, 0), fail(EINVAL));
  EXPECT_EQ(gmem(vm_, 0, 0), fail(EINVAL));
  EXPECT_EQ(gmem(vm_, 0x1001, 0), fail(EINVAL));
  EXPECT_EQ(gmem(vm_, k2M, 1ull << 2), fail(EINVAL));
  EXPECT_TRUE(gmem(vm_, k2M, GUEST_MEMFD_FLAG_INIT_SHARED).is_ok());  // accepted without MMAP
  Ret plain = gmem(vm_, k2M, 0);
  ASSERT_TRUE(plain.is_ok());
  int g = static_cast<int>(plain.ret);
  EXPECT_EQ(api_->read(g, 16), fail(EINVAL));
  EXPECT_EQ(api_->write(g, 16), fail(EINVAL));
  EXPECT_EQ(api_->pread(g, 16, 0), fail(ESPIPE));
  EXPECT_EQ(api_->ftruncate(g, k2M), fail(EINVAL));
  EXPECT_EQ(api_->fallocate(g, 0, 0, k4K), fail(EOPNOTSUPP));
  EXPECT_EQ(api_->fallocate(g, FALLOC_FL_KEEP_SIZE, 0, k4K), Ret::ok());
  EXPECT_EQ(api_->fallocate(g, FALLOC_FL_KEEP_SIZE, k2M, k4K), fail(EINVAL));
  EXPECT_EQ(api_->fallocate(g, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, k2M, k4K), Ret::ok());
  EXPECT_EQ(api_->mmap_fd(g, k2M, 0, PROT_READ | PROT_WRITE, MAP_SHARED), fail(ENODEV));
  Ret mm = gmem(vm_, k2M, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  ASSERT_TRUE(mm.is_ok());
  int gm = static_cast<int>(mm.ret);
  EXPECT_EQ(api_->mmap_fd(gm, k2M, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE), fail(EINVAL));
  Ret hva = api_->mmap_fd(gm, k2M, 0, PROT_READ | PROT_WRITE, MAP_SHARED);
  ASSERT_TRUE(hva.is_ok());
  EXPECT_EQ(api_->touch(static_cast<u64>(hva.ret), k4K), Ret::ok());
  // Binding rules.
  u64 m = map(k2M, Backing::anon);
  kvm_userspace_memory_region2 r{};
  r.slot = 1;
  r.flags = KVM_MEM_GUEST_MEMFD;
  r.guest_phys_addr = 1ull << 32;
  r.memory_size = k2M;
  r.userspace_addr = m;
  r.guest_memfd = static_cast<u32>(-1);
  EXPECT_EQ(slot2(r), fail(EBADF));
  r.guest_memfd = static_cast<u32>(g);
  r.flags = KVM_MEM_GUEST_MEMFD | KVM_MEM_LOG_DIRTY_PAGES;
  EXPECT_EQ(slot2(r), fail(EINVAL));
  r.flags = KVM_MEM_GUEST_MEMFD;
  r.guest_memfd_offset = 0x800;
  EXPECT_EQ(slot2(r), fail(EINVAL));
  r.guest_memfd_offset = 0;
  EXPECT_EQ(slot2(r), Ret::ok());
  EXPECT_EQ(slot2(r), fail(EINVAL));  // an identical re-set of a gmem slot
  kvm_userspace_memory_region2 r2 = r;
  r2.slot = 2;
  r2.guest_phys_addr = 2ull << 32;
  EXPECT_EQ(slot2(r2), fail(EINVAL));  // overlapping file range: EINVAL here, not EEXIST
  kvm_memory_attributes a{1ull << 32, k4K, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0};
  EXPECT_EQ(api_->ioctl_set_memory_attributes(vm_, a), fail(ENOTTY));
  EXPECT_EQ(api_->close(g), Ret::ok());
  r.memory_size = 0;
  EXPECT_EQ(slot2(r), Ret::ok());  // the slot can still be deleted
}

TEST_F(KvmBackendTest, DirtyLogGetRows) {
  u64 m = map(512 * k4K, Backing::anon_nohuge);
  const u64 base = 1ull << 32;
  ASSERT_EQ(slot(1, base, 512 * k4K, m, KVM_MEM_LOG_DIRTY_PAGES), Ret::ok());
  ASSERT_EQ(slot(2, base + 512 * k4K, 16 * k4K, map(16 * k4K, Backing::anon)), Ret::ok());
  std::vector<u64> bm;
  ASSERT_EQ(api_->ioctl_get_dirty_log(vm_, 1, bm), Ret::ok());
  ASSERT_EQ(bm.size(), 8u);
  for (u64 w : bm) EXPECT_EQ(w, 0u);
  for (u64 p = 0; p < 10; ++p) ASSERT_EQ(access(base + p * k4K, AccessKind::write).kind, Kind::ok);
  ASSERT_EQ(api_->ioctl_get_dirty_log(vm_, 1, bm), Ret::ok());
  EXPECT_EQ(bm[0], 0x3ffull);
  ASSERT_EQ(api_->ioctl_get_dirty_log(vm_, 1, bm), Ret::ok());
  EXPECT_EQ(bm[0], 0u);  // GET clears and re-protects
  for (u64 p = 5; p < 15; ++p) ASSERT_EQ(access(base + p * k4K, AccessKind::write).kind, Kind::ok);
  for (u64 p = 20; p < 30; ++p) ASSERT_EQ(access(base + p * k4K, AccessKind::read).kind, Kind::ok);
  reinterpret_cast<volatile u8*>(m)[100 * k4K] = 1;  // host writes are not reported
  ASSERT_EQ(api_->ioctl_get_dirty_log(vm_, 1, bm), Ret::ok());
  EXPECT_EQ(bm[0], 0x7fe0ull);
  EXPECT_EQ(bm[1], 0u);
  EXPECT_EQ(api_->ioctl_get_dirty_log(vm_, 2, bm), fail(ENOENT));
  EXPECT_EQ(api_->ioctl_get_dirty_log(vm_, 9, bm), fail(ENOENT));
}

TEST_F(KvmBackendTest, DirtyLogManualProtectClearRows) {
  kvm_enable_cap cap{};
  cap.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2;
  cap.args[0] = 4;
  EXPECT_EQ(api_->ioctl_enable_cap(vm_, cap), fail(EINVAL));
  cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET;
  EXPECT_EQ(api_->ioctl_enable_cap(vm_, cap), Ret::ok());
  u64 m = map(512 * k4K, Backing::anon_nohuge);
  const u64 base = 1ull << 32;
  ASSERT_EQ(slot(1, base, 512 * k4K, m, KVM_MEM_LOG_DIRTY_PAGES), Ret::ok());
  std::vector<u64> bm;
  ASSERT_EQ(api_->ioctl_get_dirty_log(vm_, 1, bm), Ret::ok());
  for (u64 w : bm) EXPECT_EQ(w, ~0ull);  // INITIALLY_SET
  ASSERT_EQ(api_->ioctl_get_dirty_log(vm_, 1, bm), Ret::ok());
  EXPECT_EQ(bm[7], ~0ull);  // GET does not clear
  std::vector<u64> ones(8, ~0ull);
  EXPECT_EQ(api_->ioctl_clear_dirty_log(vm_, 1, 1, 64, ones), fail(EINVAL));
  EXPECT_EQ(api_->ioctl_clear_dirty_log(vm_, 1, 0, 63, ones), fail(EINVAL));
  EXPECT_EQ(api_->ioctl_clear_dirty_log(vm_, 1, 448, 70, ones), fail(EINVAL));
  EXPECT_EQ(api_->ioctl_clear_dirty_log(vm_, 1, 448, 64, ones), Ret::ok());
  EXPECT_EQ(api_->ioctl_clear_dirty_log(vm_, 1, 0, 0, ones), Ret::ok());
  EXPECT_EQ(api_->ioctl_clear_dirty_log(vm_, 1, 0, 512, ones), Ret::ok());
  ASSERT_EQ(api_->ioctl_get_dirty_log(vm_, 1, bm), Ret::ok());
  for (u64 w : bm) EXPECT_EQ(w, 0u);
  EXPECT_EQ(access(base + 3 * k4K, AccessKind::write).kind, Kind::ok);
  EXPECT_EQ(access(base + 4 * k4K, AccessKind::write).kind, Kind::ok);
  ASSERT_EQ(api_->ioctl_get_dirty_log(vm_, 1, bm), Ret::ok());
  EXPECT_EQ(bm[0], 0x18ull);
  EXPECT_EQ(api_->ioctl_clear_dirty_log(vm_, 1, 0, 64, {1ull << 3}), Ret::ok());
  ASSERT_EQ(api_->ioctl_get_dirty_log(vm_, 1, bm), Ret::ok());
  EXPECT_EQ(bm[0], 0x10ull);  // only page 3 cleared
  EXPECT_EQ(access(base + 3 * k4K, AccessKind::write).kind, Kind::ok);
  ASSERT_EQ(api_->ioctl_get_dirty_log(vm_, 1, bm), Ret::ok());
  EXPECT_EQ(bm[0], 0x18ull);
  EXPECT_EQ(api_->ioctl_clear_dirty_log(vm_, 9, 0, 64, ones), fail(ENOENT));
  EXPECT_EQ(api_->ioctl_clear_dirty_log(vm_, 1u << 16 | 1, 0, 64, ones), fail(EINVAL));
}

TEST_F(KvmBackendTest, AgentMovesOutOfTheTracesWay) {
  EXPECT_EQ(access(0x1000, AccessKind::read).kind, Kind::mmio);
  auto where = kb_->agent_placement(vm_);
  ASSERT_TRUE(where.has_value());
  EXPECT_EQ(where->slot, 32763u);
  EXPECT_EQ(where->gpa, GuestAgent::kDefaultGpa);
  // The trace takes the agent's slot id and GPA range: both calls behave as without an agent.
  u64 m = map(k2M, Backing::anon_nohuge);
  EXPECT_EQ(slot(32763, where->gpa, k2M, m), Ret::ok());
  EXPECT_FALSE(kb_->agent_placement(vm_).has_value());
  EXPECT_EQ(access(where->gpa + 8 * k4K, AccessKind::write).kind, Kind::ok);
  auto moved = kb_->agent_placement(vm_);
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->slot, 32762u);
  EXPECT_EQ(moved->gpa, GuestAgent::kDefaultGpa - GuestAgent::kSize);
  EXPECT_EQ(stat("pages_4k"), 1u);  // the trace's page only
  // The trace accesses the agent's GPA without a slot there: MMIO, as without an agent.
  EXPECT_EQ(access(moved->gpa + k4K, AccessKind::read).kind, Kind::mmio);
  auto again = kb_->agent_placement(vm_);
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->gpa <= moved->gpa + k4K && moved->gpa + k4K < again->gpa + GuestAgent::kSize);
}

TEST_F(KvmBackendTest, HostMemoryCapAndHugetlbDiagnostics) {
  KvmBackendOptions opts;
  opts.max_host_mem = 4 * k2M;
  std::string why;
  auto small = make_kvm_backend(*model::find_profile("linux-6.18-pvm"), opts, &why);
  ASSERT_TRUE(small) << why;
  auto* kb = static_cast<KvmBackend*>(small.get());
  EXPECT_TRUE(small->mmap(3 * k2M, Backing::anon, 0).is_ok());
  EXPECT_EQ(small->mmap(2 * k2M, Backing::anon, 0), fail(ENOMEM));
  EXPECT_NE(kb->last_diagnostic().find("max_host_mem"), std::string::npos) << kb->last_diagnostic();
  Ret h = small->mmap(k2M, Backing::hugetlb_2m, 0);
  if (!h.is_ok()) {
    EXPECT_EQ(h.err, ENOMEM);
    EXPECT_NE(kb->last_diagnostic().find("hugetlb"), std::string::npos) << kb->last_diagnostic();
  }
}

TEST_F(KvmBackendTest, DestructionClosesEverything) {
  api_.reset();
  const int before = count_open_fds();
  {
    std::string why;
    auto b = make_kvm_backend(*model::find_profile("linux-6.18-pvm"), KvmBackendOptions{}, &why);
    ASSERT_TRUE(b) << why;
    int vm = static_cast<int>(b->ioctl_create_vm(b->kvm_fd(), 0).ret);
    int vcpu = static_cast<int>(b->ioctl_create_vcpu(vm, 0).ret);
    u64 m = static_cast<u64>(b->mmap(k2M, Backing::shmem, 0).ret);
    kvm_userspace_memory_region r{0, 0, 0x100000, k2M, m};
    ASSERT_EQ(b->ioctl_set_user_memory_region(vm, r), Ret::ok());
    kvm_create_guest_memfd g{k2M, GUEST_MEMFD_FLAG_MMAP};
    ASSERT_TRUE(b->ioctl_create_guest_memfd(vm, g).is_ok());
    ASSERT_TRUE(b->memfd_create(k2M, 0).is_ok());
    EXPECT_EQ(b->access(vcpu, 0x100000, AccessKind::write).kind, Kind::ok);
    EXPECT_GT(count_open_fds(), before);
  }
  EXPECT_EQ(count_open_fds(), before);
}

TEST_F(KvmBackendTest, AccessCost) {
  u64 m = map(4 * k2M, Backing::anon_nohuge);
  ASSERT_EQ(slot(0, 1ull << 32, 4 * k2M, m), Ret::ok());
  ASSERT_EQ(access(1ull << 32, AccessKind::write).kind, Kind::ok);
  constexpr int kN = 500;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kN; ++i) ASSERT_EQ(access((1ull << 32) + (i % 1024) * k4K, AccessKind::write).kind, Kind::ok);
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < kN; ++i) ASSERT_EQ(access(0x1000, AccessKind::read).kind, Kind::mmio);
  auto t2 = std::chrono::steady_clock::now();
  auto us = [](auto d) { return std::chrono::duration<double, std::micro>(d).count() / kN; };
  // Reported only: timings are measured in bench/, never asserted in tests.
  std::printf("access cost: %.1f us per RAM write, %.1f us per MMIO read\n", us(t1 - t0), us(t2 - t1));
}

}  // namespace
}  // namespace kvm
}  // namespace kvmsim
