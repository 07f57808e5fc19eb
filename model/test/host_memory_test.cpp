#include <gtest/gtest.h>

#include <csignal>

#include "model/host/host_memory.h"
#include "model/uapi.h"

namespace kvmsim::model {
namespace {

using namespace uapi;
constexpr u64 M2 = 2ull << 20;

Profile with_thp(ThpPolicy p, bool zero = true) {
  Profile prof = default_profile();
  prof.thp = p;
  prof.huge_zero_page = zero;
  return prof;
}

TEST(HostMemory, BumpAllocatorIsDeterministicAndAligned) {
  Profile p = default_profile();
  HostMemory h(p);
  EXPECT_EQ(h.mmap(4096, Backing::anon, 0).ret.ret, 0x100000000000);
  EXPECT_EQ(h.mmap(4096, Backing::thp, 0).ret.ret, 0x100000200000);  // THP default align 2M
  EXPECT_EQ(h.mmap(1, Backing::anon, 1ull << 30).ret.ret, 0x100040000000);
  EXPECT_EQ(h.mmap(0, Backing::anon, 0).ret, Ret::fail(EINVAL));
  EXPECT_EQ(h.mmap(4096, Backing::anon, 3 * 4096).ret, Ret::fail(EINVAL));
  HostMemory h2(p);
  EXPECT_EQ(h2.mmap(4096, Backing::anon, 0).ret.ret, 0x100000000000);
}

TEST(HostMemory, LevelsByBacking) {
  Profile p = with_thp(ThpPolicy::always);
  HostMemory h(p);
  const u64 nohuge = h.mmap(4 * M2, Backing::anon_nohuge, M2).ret.ret;
  const u64 shmem = h.mmap(4 * M2, Backing::shmem, M2).ret.ret;
  const u64 h2m = h.mmap(4 * M2, Backing::hugetlb_2m, 0).ret.ret;
  const u64 h1g = h.mmap(1ull << 30, Backing::hugetlb_1g, 0).ret.ret;
  EXPECT_EQ(h.fault_in(nohuge, true).level, 1);
  EXPECT_EQ(h.fault_in(shmem, false).level, 1);
  EXPECT_EQ(h.fault_in(h2m + 4096, false).level, 2);
  EXPECT_EQ(h.fault_in(h1g, false).level, 3);
}

TEST(HostMemory, ThpZeroPageThenCowAt4K) {
  Profile p = with_thp(ThpPolicy::always);
  p.huge_zero_wp_allocates_thp = false;  // the pre-6.13 host (linux-6.12): a write CoWs the zero page at 4K
  HostMemory h(p);
  const u64 a = h.mmap(2 * M2, Backing::thp, 0).ret.ret;
  HostFault r = h.fault_in(a, false);
  EXPECT_EQ(r.level, 2);
  EXPECT_FALSE(r.writable);
  EXPECT_EQ(h.chunk_state(a), HostMemory::Chunk::huge_zero);
  HostFault w = h.fault_in(a + 8192, true);
  EXPECT_EQ(w.level, 1);
  EXPECT_TRUE(w.writable);
  ASSERT_EQ(w.invalidated.size(), 1u);
  EXPECT_EQ(w.invalidated[0], (HostRange{a, a + M2}));
  EXPECT_EQ(h.fault_in(a, false).level, 1);
  EXPECT_FALSE(h.fault_in(a, false).writable);  // still the zero page at 4K
  // Second chunk: write first -> real THP.
  HostFault t = h.fault_in(a + M2, true);
  EXPECT_EQ(t.level, 2);
  EXPECT_TRUE(t.writable);
}

TEST(HostMemory, NoHugeZeroPageMeansReadFaultMakesThp) {
  Profile p = with_thp(ThpPolicy::always, false);
  HostMemory h(p);
  const u64 a = h.mmap(M2, Backing::thp, 0).ret.ret;
  EXPECT_EQ(h.fault_in(a, false).level, 2);
  EXPECT_EQ(h.chunk_state(a), HostMemory::Chunk::thp);
}

TEST(HostMemory, TouchMakesThpAndAnonDependsOnPolicy) {
  Profile pa = with_thp(ThpPolicy::always);
  Profile pm = with_thp(ThpPolicy::madvise);
  HostMemory ha(pa), hm(pm);
  const u64 a = ha.mmap(M2, Backing::anon, M2).ret.ret;
  EXPECT_TRUE(ha.touch(a, 100).ret.is_ok());
  EXPECT_EQ(ha.fault_in(a, false).level, 2);
  const u64 b = hm.mmap(M2, Backing::anon, M2).ret.ret;
  EXPECT_EQ(hm.fault_in(b, false).level, 1);
  const u64 c = hm.mmap(M2, Backing::anon, M2).ret.ret;
  EXPECT_TRUE(hm.madvise(c, M2, MADV_HUGEPAGE).ret.is_ok());
  EXPECT_EQ(hm.fault_in(c, true).level, 2);
}

TEST(HostMemory, ChunksNotInsideRegionAre4K) {
  Profile p = with_thp(ThpPolicy::always);
  HostMemory h(p);
  const u64 a = h.mmap(M2 + 4096, Backing::thp, 0).ret.ret;
  EXPECT_EQ(h.fault_in(a, true).level, 2);
  EXPECT_EQ(h.fault_in(a + M2, true).level, 1);  // tail chunk only partly mapped
  h.mmap(4096, Backing::anon, 0);
  const u64 b = h.mmap(M2, Backing::anon, 4096).ret.ret;  // bump pointer is 4K past a 2M boundary
  ASSERT_NE(b & (M2 - 1), 0u);
  EXPECT_EQ(h.fault_in(b, true).level, 1);
}

TEST(HostMemory, NoHugepageAdviceStopsNewThpOnly) {
  Profile p = with_thp(ThpPolicy::always);
  HostMemory h(p);
  const u64 a = h.mmap(2 * M2, Backing::anon, M2).ret.ret;
  EXPECT_EQ(h.fault_in(a, true).level, 2);
  EXPECT_TRUE(h.madvise(a, 2 * M2, MADV_NOHUGEPAGE).ret.is_ok());
  EXPECT_EQ(h.fault_in(a, true).level, 2);       // the existing THP stays
  EXPECT_EQ(h.fault_in(a + M2, true).level, 1);  // new faults: small pages
}

TEST(HostMemory, DontneedWholeChunkResetsPartialSplits) {
  Profile p = with_thp(ThpPolicy::always);
  HostMemory h(p);
  const u64 a = h.mmap(2 * M2, Backing::thp, 0).ret.ret;
  h.touch(a, 2 * M2);
  HostChange whole = h.madvise(a, M2, MADV_DONTNEED);
  EXPECT_TRUE(whole.ret.is_ok());
  EXPECT_EQ(whole.invalidated, (std::vector<HostRange>{{a, a + M2}}));
  EXPECT_FALSE(h.chunk_state(a).has_value());
  HostChange part = h.madvise(a + M2, 4096, MADV_DONTNEED);
  EXPECT_EQ(h.chunk_state(a + M2), HostMemory::Chunk::split);
  EXPECT_EQ(part.invalidated, (std::vector<HostRange>{{a + M2, a + 2 * M2}, {a + M2, a + M2 + 4096}}));
  EXPECT_TRUE(h.fault_in(a + M2 + 8192, false).writable);  // the rest of the THP stays written
  EXPECT_FALSE(h.fault_in(a + M2, false).writable);        // the dropped page reads zero
}

TEST(HostMemory, FaultErrors) {
  Profile p = default_profile();
  HostMemory h(p);
  EXPECT_EQ(h.fault_in(0x7000000000, false).err, EFAULT);
  const u64 a = h.mmap(3 * 4096, Backing::anon_nohuge, 0).ret.ret;
  EXPECT_TRUE(h.mprotect(a, 4096, PROT_NONE).ret.is_ok());
  EXPECT_TRUE(h.mprotect(a + 4096, 4096, PROT_READ).ret.is_ok());
  EXPECT_EQ(h.fault_in(a, false).err, EFAULT);
  EXPECT_EQ(h.fault_in(a + 4096, true).err, EFAULT);
  EXPECT_TRUE(h.fault_in(a + 4096, false).ok());
  EXPECT_TRUE(h.fault_in(a + 8192, true).writable);
  EXPECT_EQ(h.touch(a + 4096, 1).ret, Ret::fail(EFAULT));
}

TEST(HostMemory, MunmapRulesAndInvalidation) {
  Profile p = default_profile();
  HostMemory h(p);
  const u64 a = h.mmap(4 * 4096, Backing::anon_nohuge, 0).ret.ret;
  EXPECT_EQ(h.munmap(a + 1, 4096).ret, Ret::fail(EINVAL));
  EXPECT_EQ(h.munmap(a, 0).ret, Ret::fail(EINVAL));
  HostChange c = h.munmap(a + 4096, 4096);
  EXPECT_TRUE(c.ret.is_ok());
  EXPECT_EQ(c.invalidated, (std::vector<HostRange>{{a + 4096, a + 8192}}));
  EXPECT_EQ(h.region_at(a + 4096), nullptr);
  EXPECT_NE(h.region_at(a + 8192), nullptr);
  EXPECT_TRUE(h.munmap(a + 4096, 4096).ret.is_ok());  // unmapping a hole is fine
  const u64 hp = h.mmap(2 * M2, Backing::hugetlb_2m, 0).ret.ret;
  EXPECT_EQ(h.munmap(hp + 4096, 4096).ret, Ret::fail(EINVAL));
  EXPECT_TRUE(h.munmap(hp, M2).ret.is_ok());
}

TEST(HostMemory, MprotectReportsOnlyChangedRanges) {
  Profile p = default_profile();
  HostMemory h(p);
  const u64 a = h.mmap(4 * 4096, Backing::anon_nohuge, 0).ret.ret;
  EXPECT_TRUE(h.mprotect(a, 4 * 4096, PROT_READ | PROT_WRITE).invalidated.empty());
  HostChange c = h.mprotect(a, 4096, PROT_READ);
  EXPECT_EQ(c.invalidated, (std::vector<HostRange>{{a, a + 4096}}));
  EXPECT_EQ(h.mprotect(a + 1, 4096, PROT_READ).ret, Ret::fail(EINVAL));
  EXPECT_EQ(h.mprotect(a, 8 * 4096, PROT_READ).ret, Ret::fail(ENOMEM));
}

TEST(HostMemory, GuestMemfdMmapRules) {
  Profile p = default_profile();
  HostMemory h(p);
  MappedFile none{MappedFile::Kind::guest_memfd, 1, 1 << 20, 0};
  MappedFile mm{MappedFile::Kind::guest_memfd, 2, 1 << 20, GUEST_MEMFD_FLAG_MMAP};
  MappedFile shared{MappedFile::Kind::guest_memfd, 3, 1 << 20, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED};
  const int rw = PROT_READ | PROT_WRITE;
  EXPECT_EQ(h.mmap_file(none, 4096, 0, rw, MAP_SHARED).ret, Ret::fail(ENODEV));
  EXPECT_EQ(h.mmap_file(mm, 4096, 0, rw, MAP_PRIVATE).ret, Ret::fail(EINVAL));
  EXPECT_EQ(h.mmap_file(mm, 4096, 0, rw | PROT_EXEC, MAP_SHARED).ret, Ret::fail(EPERM));
  const u64 a = h.mmap_file(mm, 4096, 0, rw, MAP_SHARED).ret.ret;
  EXPECT_EQ(h.touch(a, 1).ret, Ret::signal(SIGBUS));  // private pages (docs/semantics/memory-contents.md §4)
  EXPECT_EQ(h.fault_in(a, false).err, EFAULT);
  const u64 b = h.mmap_file(shared, 2 << 20, 0, rw, MAP_SHARED).ret.ret;
  EXPECT_TRUE(h.touch(b, 4096).ret.is_ok());
  EXPECT_EQ(h.fault_in(b, false).level, 1);
  EXPECT_EQ(h.fault_in(b + (1 << 20), false).err, EFAULT);  // beyond EOF
  EXPECT_EQ(h.punch_file(3, 0, 4096), (std::vector<HostRange>{{b, b + 4096}}));
  MappedFile memfd{MappedFile::Kind::memfd, 4, 4096, 0};
  EXPECT_TRUE(h.mmap_file(memfd, 4096, 0, rw, MAP_PRIVATE).ret.is_ok());
}

TEST(HostMemory, AccessOk) {
  Profile p = default_profile();
  HostMemory h(p);
  EXPECT_TRUE(h.access_ok(0, 4096));
  EXPECT_TRUE(h.access_ok(0x7fffffffe000, 4096));
  EXPECT_FALSE(h.access_ok(0x7ffffffff000, 4096));
  EXPECT_FALSE(h.access_ok(0xffff888000000000, 4096));
  EXPECT_FALSE(h.access_ok(~0ull - 4095, 8192));
}

}  // namespace
}  // namespace kvmsim::model
