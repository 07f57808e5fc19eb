// Replay engine against a small scripted fake KvmApi (the real model lives elsewhere): binding,
// evaluation, every result kind, mismatch reporting, unobservable, not_run and --update.
#include <gtest/gtest.h>

#include <csignal>

#include <algorithm>

#include "model/vm/kvm_api.h"
#include "sim/replay.h"
#include "sim/trace/parser.h"

namespace kvmsim {
namespace {

// Deterministic fake: records what it is called with, answers by simple rules.
class FakeKvm : public KvmApi {
 public:
  bool observable = true;
  std::vector<std::string> calls;
  uapi::kvm_userspace_memory_region last_region{};
  uapi::kvm_userspace_memory_region2 last_region2{};
  uapi::kvm_enable_cap last_cap{};
  std::vector<u64> last_clear_bitmap;
  u32 last_clear_num_pages = 0;
  int last_mmap_fd_prot = -1, last_mmap_fd_flags = -1;
  u64 last_align = 0;

  std::string backend_name() const override { return "fake"; }
  const model::Profile& profile() const override { return model::default_profile(); }

  Ret mmap(u64 size, Backing b, u64 align) override {
    calls.push_back(std::string("mmap ") + backing_name(b));
    last_align = align;
    if (size == 0) return Ret::fail(22);
    return Ret::ok(static_cast<i64>(0x7f0000000000ull + (next_addr_++ << 32)));
  }
  Ret mmap_fd(int fd, u64, u64, int prot, int flags) override {
    last_mmap_fd_prot = prot;
    last_mmap_fd_flags = flags;
    if (fd < 0) return Ret::fail(9);
    return Ret::ok(0x7e0000000000);
  }
  Ret munmap(u64, u64) override { return Ret::ok(); }
  Ret madvise(u64, u64, int) override { return Ret::ok(); }
  Ret mprotect(u64, u64, int) override { return Ret::ok(); }
  Ret touch(u64, u64) override { return Ret::ok(); }
  Ret memfd_create(u64, u64) override { return Ret::ok(next_fd_++); }
  Ret poke(u64, u64) override { return Ret::ok(); }
  // 0xbad0000: SIGBUS; elsewhere the address itself, so a test can predict the value.
  // 0x5e5e000 holds bytes left unspecified (a proposal's conversion): the load answers its address anyway.
  Ret peek(u64 addr) override {
    if (addr == 0xbad0000) return Ret::signal(SIGBUS);
    Ret r = Ret::ok(static_cast<i64>(addr));
    r.unspecified = addr == 0x5e5e000;
    return r;
  }

  int kvm_fd() const override { return 3; }
  Ret ioctl_create_vm(int fd, u64 type) override {
    calls.push_back("create_vm fd=" + std::to_string(fd));
    return type == 0 ? Ret::ok(next_fd_++) : Ret::fail(22);
  }
  Ret ioctl_check_extension(int fd, u64 cap) override { return Ret::ok(fd == 3 && cap == 235 ? 3 : 1); }
  Ret ioctl_create_vcpu(int, u64) override { return Ret::ok(next_fd_++); }
  Ret ioctl_set_user_memory_region(int, const uapi::kvm_userspace_memory_region& r) override {
    last_region = r;
    return r.memory_size % 4096 ? Ret::fail(22) : Ret::ok();
  }
  Ret ioctl_set_user_memory_region2(int, const uapi::kvm_userspace_memory_region2& r) override {
    last_region2 = r;
    return r.guest_memfd == 0xffffffffu ? Ret::fail(9) : Ret::ok();
  }
  Ret ioctl_create_guest_memfd(int fd, const uapi::kvm_create_guest_memfd& g) override {
    if (fd == 3 || g.size == 0) return Ret::fail(22);
    return Ret::ok(next_fd_++);
  }
  Ret ioctl_set_memory_attributes(int, const uapi::kvm_memory_attributes&) override { return Ret::ok(); }
  Ret ioctl_map_memory(int, uapi::kvm_memory_mapping&) override { return Ret::fail(22); }
  Ret ioctl_guest_memfd_populate(int, const uapi::kvm_guest_memfd_populate&, u32) override { return Ret::fail(25); }
  Ret ioctl_set_memory_attributes2(int, uapi::kvm_memory_attributes2&, bool* written_back) override {
    *written_back = false;
    return Ret::fail(25);
  }
  // Maps at most 2M per call; nothing above 16G.
  Ret ioctl_pre_fault_memory(int, uapi::kvm_pre_fault_memory& p) override {
    if (p.gpa >= (16ull << 30)) return Ret::fail(2);
    u64 n = std::min<u64>(p.size, 2ull << 20);
    p.gpa += n;
    p.size -= n;
    return Ret::ok();
  }
  Ret ioctl_get_dirty_log(int, u32 slot, std::vector<u64>& bitmap) override {
    if (slot != 0) return Ret::fail(2);
    bitmap = {0x3ff | (1ull << 17)};
    return Ret::ok();
  }
  Ret ioctl_clear_dirty_log(int, u32, u64, u32 num_pages, const std::vector<u64>& bitmap) override {
    last_clear_bitmap = bitmap;
    last_clear_num_pages = num_pages;
    return Ret::ok();
  }
  Ret ioctl_enable_cap(int, const uapi::kvm_enable_cap& c) override {
    last_cap = c;
    return Ret::ok();
  }
  Ret fallocate(int, int, u64, u64) override { return Ret::ok(); }
  Ret ftruncate(int, u64) override { return Ret::ok(); }
  Ret read(int, u64) override { return Ret::fail(1); }
  Ret write(int, u64 len) override { return Ret::ok(static_cast<i64>(len)); }
  Ret pread(int, u64, u64) override { return Ret::fail(1); }
  Ret pwrite(int, u64, u64 len, u64) override { return Ret::ok(static_cast<i64>(len)); }
  Ret fstat(int, FileStat& st) override {
    st = FileStat{8192, 4096};
    return Ret::ok();
  }
  Ret close(int fd) override { return fd > 0 ? Ret::ok() : Ret::fail(9); }

  // Loads answer gpa + 1 (unspecified at 0x5e5e000); stores are accepted.
  AccessOutcome access_value(int, u64 gpa, AccessKind, u64) override {
    AccessOutcome o;
    o.value = gpa + 1;
    o.unspecified = gpa == 0x5e5e000;
    return o;
  }
  AccessOutcome access(int, u64 gpa, AccessKind) override {
    AccessOutcome o;
    if (gpa < (4ull << 30)) return o;
    if (gpa < (8ull << 30)) {
      o.kind = AccessOutcome::Kind::mmio;
      return o;
    }
    if (gpa == (8ull << 30)) {
      o.kind = AccessOutcome::Kind::memory_fault;
      o.err = 14;
      o.flags = uapi::KVM_MEMORY_EXIT_FLAG_PRIVATE;
      o.gpa = gpa;
      o.size = 4096;
      return o;
    }
    o.kind = AccessOutcome::Kind::error;
    o.err = 14;
    return o;
  }

  std::optional<Stats> stats(int) override {
    if (!observable) return std::nullopt;
    return Stats{{"pages_1g", 0}, {"pages_2m", 2}, {"pages_4k", 1}};
  }
  std::optional<Mapping> mapping(int, u64 gpa) override {
    if (!observable) return std::nullopt;
    Mapping m;
    m.level = gpa < (1ull << 30) ? 2 : 0;
    m.writable = true;
    return m;
  }

 private:
  int next_fd_ = 10;
  u64 next_addr_ = 0;
};

trace::Trace parse_ok(const std::string& text) {
  auto r = trace::parse(text, "t.trace");
  if (auto* e = std::get_if<trace::ParseError>(&r)) ADD_FAILURE() << e->str();
  return std::get<trace::Trace>(std::move(r));
}

ReplayReport run(const std::string& text, FakeKvm& fake, bool update = false) {
  trace::Trace t = parse_ok(text);
  return replay(t, fake, ReplayOptions{update});
}

const std::string kPrelude =
    "kvmsim-trace 1\nmem = mmap(4M, thp)\nvm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\nvcpu = KVM_CREATE_VCPU(vm, 0)\n";

TEST(Replay, BindingAndEvaluation) {
  FakeKvm fake;
  auto rep = run(kPrelude +
                     "KVM_SET_USER_MEMORY_REGION(vm, {slot=3, flags=KVM_MEM_READONLY, guest_phys_addr=4G, "
                     "memory_size=2M, userspace_addr=mem+4K}) = 0\n"
                     "g = KVM_CREATE_GUEST_MEMFD(vm, {size=4M})\n"
                     "KVM_SET_USER_MEMORY_REGION2(vm, {slot=1, guest_memfd=g, guest_memfd_offset=2M}) = 0\n",
                 fake);
  EXPECT_TRUE(rep.ok()) << rep.text();
  EXPECT_EQ(rep.counts.matched, 6u);
  EXPECT_EQ(fake.last_align, 2ull << 20);  // thp default alignment
  EXPECT_EQ(fake.calls[1], "create_vm fd=3");  // KVM_CREATE_VM goes to the predefined kvm fd
  EXPECT_EQ(fake.last_region.slot, 3u);
  EXPECT_EQ(fake.last_region.flags, uapi::KVM_MEM_READONLY);
  EXPECT_EQ(fake.last_region.guest_phys_addr, 4ull << 30);
  EXPECT_EQ(fake.last_region.userspace_addr, 0x7f0000000000ull + 4096);
  EXPECT_EQ(fake.last_region2.guest_memfd, 12u);  // vm=10, vcpu=11, g=12
  EXPECT_EQ(fake.last_region2.guest_memfd_offset, 2ull << 20);
}

TEST(Replay, RawFdNumbersAndKvmHandle) {
  FakeKvm fake;
  auto rep = run(kPrelude +
                     "KVM_SET_USER_MEMORY_REGION2(vm, {slot=1, guest_memfd=-1}) = -1 EBADF\n"
                     "KVM_CHECK_EXTENSION(kvm, KVM_CAP_VM_TYPES) = 3\n"
                     "KVM_CREATE_GUEST_MEMFD(kvm, {size=4K}) = -1 EINVAL\n"
                     "f = memfd_create(2M)\n"
                     "p = mmap(2M, f)\n"
                     "close(-1) = -1 EBADF\n",
                 fake);
  EXPECT_TRUE(rep.ok()) << rep.text();
  EXPECT_EQ(fake.last_region2.guest_memfd, 0xffffffffu);
  EXPECT_EQ(fake.last_mmap_fd_prot, uapi::PROT_READ | uapi::PROT_WRITE);
  EXPECT_EQ(fake.last_mmap_fd_flags, uapi::MAP_SHARED);
}

TEST(Replay, IntResultsAndMismatchText) {
  FakeKvm fake;
  auto rep = run(kPrelude +
                     "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, memory_size=4K+1, userspace_addr=mem}) = 0\n"
                     "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, memory_size=4K, userspace_addr=mem}) = -1 EEXIST\n"
                     "write(vm, 8K) = 8K\n"
                     "write(vm, 8K) = 4K\n"
                     "munmap(mem, 4K)\n",
                 fake);
  EXPECT_FALSE(rep.ok());
  EXPECT_EQ(rep.counts.statements, 8u);
  EXPECT_EQ(rep.counts.mismatched, 3u);
  EXPECT_EQ(rep.counts.matched, 4u);
  EXPECT_EQ(rep.counts.unchecked, 1u);
  EXPECT_EQ(rep.counts.checked, 7u);
  const auto& r = rep.results[3];
  EXPECT_EQ(r.status, StepStatus::mismatch);
  EXPECT_EQ(r.expected, "0");
  EXPECT_EQ(r.actual, "-1 EINVAL");
  EXPECT_EQ(r.message,
            "t.trace:5: expected 0, got -1 EINVAL\n"
            "    KVM_SET_USER_MEMORY_REGION(vm, {slot=0, memory_size=4K+1, userspace_addr=mem}) = 0");
  EXPECT_EQ(rep.results[4].message.substr(0, 36), "t.trace:6: expected -1 EEXIST, got 0");
  EXPECT_EQ(rep.results[5].status, StepStatus::matched);
  EXPECT_EQ(rep.results[6].message.substr(0, 32), "t.trace:8: expected 4K, got 8192");
  EXPECT_EQ(rep.results[7].status, StepStatus::unchecked);
  EXPECT_EQ(rep.results[7].actual, "0");
  EXPECT_EQ(rep.results[7].expected, "");
}

// Memory contents (traces/FORMAT.md "Memory contents"): SIGBUS results, loaded values in hex, fstat
// out-fields, value accesses.
TEST(Replay, ContentStatements) {
  FakeKvm fake;
  auto rep = run(kPrelude +
                     "poke(mem, 7) = 0\n"
                     "peek(0xbad0000) = SIGBUS\n"
                     "peek(0x1234) = 0x1234\n"
                     "peek(0xbad0000) = 0\n"
                     "peek(0xfeed)\n"
                     "fstat(vm) = 0 => {size=8K, blksize=4K}\n"
                     "pwrite(vm, 0, 16, value=1) = 16\n"
                     "access(vcpu, 4K, read) = ok {value=4K+1}\n"
                     "access(vcpu, 4K, read) = ok {value=0}\n"
                     "access(vcpu, 4K, write, value=3) = ok\n",
                 fake, true);
  EXPECT_EQ(rep.counts.mismatched, 2u) << rep.text();
  EXPECT_EQ(rep.results[6].message.substr(0, 39), "t.trace:8: expected 0, got SIGBUS\n    p");
  EXPECT_EQ(rep.results[7].actual, "0xfeed");
  EXPECT_EQ(rep.results[11].actual, "ok {value=0x1001}");
  EXPECT_NE(rep.updated_text.find("peek(0xfeed) = 0xfeed\n"), std::string::npos) << rep.updated_text;
  EXPECT_NE(rep.updated_text.find("peek(0xbad0000) = SIGBUS\npeek(0xfeed)"), std::string::npos) << rep.updated_text;
}

// A value asserted where the backend answers unspecified is a mismatch even when the bytes agree
// (docs/semantics/memory-contents.md §6); `= unspecified` matches only an unspecified answer.
TEST(Replay, UnspecifiedContentsAreNeverMatchedByValue) {
  FakeKvm fake;
  auto rep = run(kPrelude +
                     "peek(0x5e5e000) = unspecified\n"
                     "peek(0x5e5e000) = 0x5e5e000\n"
                     "peek(0x1234) = unspecified\n"
                     "access(vcpu, 0x5e5e000, read) = unspecified\n"
                     "access(vcpu, 0x5e5e000, read) = ok {value=0x5e5e001}\n"
                     "access(vcpu, 4K, read) = unspecified\n",
                 fake, true);
  EXPECT_EQ(rep.counts.mismatched, 4u) << rep.text();
  EXPECT_EQ(rep.results[3].status, StepStatus::matched);
  EXPECT_EQ(rep.results[4].actual, "unspecified");
  EXPECT_NE(rep.results[4].message.find("expected 0x5e5e000, got unspecified"), std::string::npos) << rep.text();
  EXPECT_EQ(rep.results[6].status, StepStatus::matched);
  EXPECT_EQ(rep.results[7].actual, "unspecified");
  EXPECT_EQ(rep.results[8].actual, "ok {value=0x1001}");
  EXPECT_NE(rep.updated_text.find("peek(0x5e5e000) = unspecified\npeek(0x5e5e000) = unspecified\n"),
            std::string::npos)
      << rep.updated_text;
}

TEST(Replay, PreFaultOutFields) {
  FakeKvm fake;
  auto rep = run(kPrelude +
                     "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=3G, size=2M+8K}) = 0 => {gpa=3G+2M, size=8K}\n"
                     "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=3G, size=4K}) = 0 => {size=0}\n"       // only size compared
                     "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=3G, size=4K}) = 0 => {gpa=3G}\n"       // wrong gpa
                     "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=16G, size=4K}) = -1 ENOENT => {gpa=16G, size=4K}\n"
                     "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=3G, size=4K})\n",
                 fake);
  EXPECT_EQ(rep.results[3].status, StepStatus::matched) << rep.results[3].message;
  EXPECT_EQ(rep.results[3].actual, "0 => {gpa=3G+2M, size=8K}");
  EXPECT_EQ(rep.results[4].status, StepStatus::matched);
  EXPECT_EQ(rep.results[5].status, StepStatus::mismatch);
  EXPECT_EQ(rep.results[5].message.substr(0, 63),
            "t.trace:7: expected 0 => {gpa=3G}, got 0 => {gpa=3G+4K, size=0}");
  EXPECT_EQ(rep.results[6].status, StepStatus::matched);
  EXPECT_EQ(rep.results[7].status, StepStatus::unchecked);
  EXPECT_EQ(rep.results[7].actual, "0 => {gpa=3G+4K, size=0}");
}

TEST(Replay, DirtyLogBitmaps) {
  FakeKvm fake;
  auto rep = run(kPrelude +
                     "KVM_GET_DIRTY_LOG(vm, {slot=0}) = 0 => {bitmap=[17, 0-4, 5-9]}\n"  // same set, other spelling
                     "KVM_GET_DIRTY_LOG(vm, {slot=0}) = 0 => {bitmap=[0-9]}\n"
                     "KVM_GET_DIRTY_LOG(vm, {slot=1}) = -1 ENOENT\n"
                     "KVM_CLEAR_DIRTY_LOG(vm, {slot=0, first_page=64, num_pages=128, bitmap=[3, 64-65]}) = 0\n"
                     "KVM_ENABLE_CAP(vm, {cap=KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args=[KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE|KVM_DIRTY_LOG_INITIALLY_SET]}) = 0\n",
                 fake);
  EXPECT_EQ(rep.results[3].status, StepStatus::matched);
  EXPECT_EQ(rep.results[4].status, StepStatus::mismatch);
  EXPECT_EQ(rep.results[4].actual, "0 => {bitmap=[0-9, 17]}");
  EXPECT_EQ(rep.results[5].status, StepStatus::matched);
  EXPECT_EQ(rep.results[5].actual, "-1 ENOENT");
  EXPECT_EQ(fake.last_clear_num_pages, 128u);
  EXPECT_EQ(fake.last_clear_bitmap, (std::vector<u64>{8, 3}));
  EXPECT_EQ(fake.last_cap.cap, uapi::KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
  EXPECT_EQ(fake.last_cap.args[0], 3u);
}

TEST(Replay, AccessOutcomes) {
  FakeKvm fake;
  auto rep = run(kPrelude +
                     "access(vcpu, 0, read) = ok\n"
                     "access(vcpu, 4G, write) = mmio\n"
                     "access(vcpu, 8G, exec) = memory_fault {flags=KVM_MEMORY_EXIT_FLAG_PRIVATE, gpa=8G, size=4K}\n"
                     "access(vcpu, 8G, exec) = memory_fault {gpa=8G}\n"
                     "access(vcpu, 9G, read) = -1 EFAULT\n"
                     "access(vcpu, 9G, read) = ok\n"
                     "access(vcpu, 8G, read)\n",
                 fake);
  for (int i = 3; i <= 7; i++) EXPECT_EQ(rep.results[i].status, StepStatus::matched) << rep.results[i].message;
  EXPECT_EQ(rep.results[8].status, StepStatus::mismatch);
  EXPECT_EQ(rep.results[8].message.substr(0, 39), "t.trace:10: expected ok, got -1 EFAULT\n");
  EXPECT_EQ(rep.results[9].actual, "memory_fault {flags=KVM_MEMORY_EXIT_FLAG_PRIVATE, gpa=8G, size=4K}");
}

TEST(Replay, StatsAndMapping) {
  FakeKvm fake;
  std::string text = kPrelude +
                     "expect stats(vm) pages_4k=1 pages_2m=2\n"
                     "expect stats(vm) pages_2m=3\n"
                     "expect stats(vm) nx_lpage_splits=0\n"
                     "expect mapping(vm, 0) level=2M writable=1\n"
                     "expect mapping(vm, 2G) level=4K\n"
                     "expect mapping(vm, 0) private=1\n";
  auto rep = run(text, fake);
  EXPECT_EQ(rep.results[3].status, StepStatus::matched);
  EXPECT_EQ(rep.results[3].actual, "pages_4k=1 pages_2m=2");
  EXPECT_EQ(rep.results[4].status, StepStatus::mismatch);
  EXPECT_EQ(rep.results[4].message.substr(0, 49), "t.trace:6: expected pages_2m=3, got pages_2m=2\n  ");
  EXPECT_EQ(rep.results[5].status, StepStatus::mismatch);
  EXPECT_EQ(rep.results[5].actual, "nx_lpage_splits=absent");
  EXPECT_EQ(rep.results[6].status, StepStatus::matched);
  EXPECT_EQ(rep.results[6].actual, "level=2M writable=1");
  EXPECT_EQ(rep.results[7].status, StepStatus::mismatch);
  EXPECT_EQ(rep.results[7].actual, "level=none");
  EXPECT_EQ(rep.results[8].status, StepStatus::mismatch);

  // A backend that cannot observe: never a pass.
  FakeKvm blind;
  blind.observable = false;
  auto rep2 = run(text, blind);
  EXPECT_EQ(rep2.counts.unobservable, 6u);
  EXPECT_EQ(rep2.counts.matched, 3u);
  EXPECT_EQ(rep2.results[3].status, StepStatus::unobservable);
  EXPECT_EQ(rep2.results[3].message,
            "t.trace:5: unobservable: backend fake cannot observe stats\n    expect stats(vm) pages_4k=1 pages_2m=2");
  EXPECT_EQ(rep2.results[6].message.substr(0, 56), "t.trace:8: unobservable: backend fake cannot observe map");
}

TEST(Replay, FailedBindingMakesDependentsNotRun) {
  FakeKvm fake;
  auto rep = run(kPrelude +
                     "bad = KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM)\n"
                     "v2 = KVM_CREATE_VCPU(bad, 0)\n"
                     "KVM_PRE_FAULT_MEMORY(v2, {gpa=0, size=4K}) = 0\n"
                     "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, memory_size=4K, userspace_addr=mem}) = 0\n",
                 fake);
  EXPECT_EQ(rep.results[3].status, StepStatus::mismatch);
  EXPECT_EQ(rep.results[3].message,
            "t.trace:5: expected success, got -1 EINVAL\n    bad = KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM)");
  EXPECT_EQ(rep.results[4].status, StepStatus::not_run);
  EXPECT_EQ(rep.results[4].message,
            "t.trace:6: not run: handle 'bad' (line 5) failed to be created\n    v2 = KVM_CREATE_VCPU(bad, 0)");
  EXPECT_EQ(rep.results[5].status, StepStatus::not_run);
  EXPECT_EQ(rep.results[5].message.substr(0, 61), "t.trace:7: not run: handle 'v2' (line 6) failed to be created");
  EXPECT_EQ(rep.results[6].status, StepStatus::matched);
  EXPECT_EQ(rep.counts.not_run, 2u);
  EXPECT_FALSE(rep.ok());
}

TEST(Replay, StepByStep) {
  FakeKvm fake;
  trace::Trace t = parse_ok(kPrelude + "munmap(mem, 4K) = 0\n");
  Replayer r(t, fake, ReplayOptions{});
  int steps = 0;
  while (!r.done()) {
    StatementResult s = r.step();
    EXPECT_EQ(s.line, steps + 2);
    steps++;
  }
  EXPECT_EQ(steps, 4);
  EXPECT_EQ(r.report().counts.matched, 4u);
}

TEST(Replay, UpdateRewritesOnlyResultsAndKeepsLayout) {
  FakeKvm fake;
  std::string text =
      "# A trace with comments.\n"
      "kvmsim-trace 1   # header comment\n"
      "profile linux-6.18\n"
      "\n"
      "mem = mmap(4M, thp)\n"
      "vm = KVM_CREATE_VM(0)\n"
      "vcpu   =   KVM_CREATE_VCPU(vm, 0)   # spacing kept\n"
      "\tKVM_SET_USER_MEMORY_REGION(vm, {slot=0, memory_size=4K, userspace_addr=mem})   # no result yet\n"
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, memory_size=4K+1, userspace_addr=mem}) = 0x0 # wrong\n"
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, memory_size=4K, userspace_addr=mem}) = 0x0 # right, spelling kept\n"
      "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=3G, size=2M+8K})\n"
      "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=3G, size=4K}) = 0 => {gpa=0}  # wrong out-field\n"
      "access(vcpu, 8G, exec)\n"
      "expect stats(vm) pages_4k=7   pages_2m=2 # c\n"
      "expect stats(vm)\n"
      "expect mapping(vm, 0) level=4K # c\n"
      "expect mapping(vm, 0)\n"
      "\n"
      "# trailing comment";
  auto rep = run(text, fake, true);
  EXPECT_EQ(rep.updated_text,
            "# A trace with comments.\n"
            "kvmsim-trace 1   # header comment\n"
            "profile linux-6.18\n"
            "\n"
            "mem = mmap(4M, thp)\n"
            "vm = KVM_CREATE_VM(0)\n"
            "vcpu   =   KVM_CREATE_VCPU(vm, 0)   # spacing kept\n"
            "\tKVM_SET_USER_MEMORY_REGION(vm, {slot=0, memory_size=4K, userspace_addr=mem}) = 0   # no result yet\n"
            "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, memory_size=4K+1, userspace_addr=mem}) = -1 EINVAL # wrong\n"
            "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, memory_size=4K, userspace_addr=mem}) = 0x0 # right, spelling kept\n"
            "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=3G, size=2M+8K}) = 0 => {gpa=3G+2M, size=8K}\n"
            "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=3G, size=4K}) = 0 => {gpa=3G+4K, size=0}  # wrong out-field\n"
            "access(vcpu, 8G, exec) = memory_fault {flags=KVM_MEMORY_EXIT_FLAG_PRIVATE, gpa=8G, size=4K}\n"
            "expect stats(vm) pages_4k=1 pages_2m=2 # c\n"
            "expect stats(vm) pages_1g=0 pages_2m=2 pages_4k=1\n"
            "expect mapping(vm, 0) level=2M # c\n"
            "expect mapping(vm, 0) level=2M\n"
            "\n"
            "# trailing comment");
  // The updated file replays clean.
  FakeKvm again;
  auto rep2 = run(rep.updated_text, again);
  EXPECT_TRUE(rep2.ok()) << rep2.text();
  EXPECT_EQ(rep2.counts.unchecked, 0u);
  EXPECT_EQ(rep2.counts.mismatched, 0u);
}

TEST(Replay, UpdateLeavesUnobservableAndNotRunAlone) {
  FakeKvm blind;
  blind.observable = false;
  std::string text = "kvmsim-trace 1\nvm = KVM_CREATE_VM(1)\nKVM_CREATE_VCPU(vm, 0) = 0\nvm2 = KVM_CREATE_VM(0)\nexpect stats(vm2) pages_4k=3\n";
  auto rep = run(text, blind, true);
  EXPECT_EQ(rep.updated_text, text);
  FakeKvm fake;
  EXPECT_TRUE(run(text, fake, false).updated_text.empty());  // no update requested
}

TEST(Replay, ReportRenderings) {
  FakeKvm fake;
  auto rep = run("kvmsim-trace 1\nprofile linux-6.1\nmunmap(0, 4K) = -1 EINVAL\nmunmap(0, 4K)\n", fake);
  EXPECT_EQ(rep.text(),
            "t.trace:3: expected -1 EINVAL, got 0\n    munmap(0, 4K) = -1 EINVAL\n"
            "t.trace: 2 statements, 1 checked: 0 matched, 1 mismatched; 1 unchecked, 0 unobservable, 0 not run "
            "(backend fake)\n");
  EXPECT_EQ(rep.json(),
            "{\"file\":\"t.trace\",\"backend\":\"fake\",\"trace_profile\":\"linux-6.1\",\"backend_profile\":\"" +
                model::default_profile().name +
                "\",\"ok\":false,\"counts\":{\"statements\":2,\"checked\":1,\"matched\":0,\"mismatched\":1,"
                "\"unchecked\":1,\"unobservable\":0,\"not_run\":0},\"results\":["
                "{\"line\":3,\"statement\":\"munmap(0, 4K) = -1 EINVAL\",\"status\":\"mismatch\",\"expected\":\"-1 "
                "EINVAL\",\"actual\":\"0\",\"message\":\"t.trace:3: expected -1 EINVAL, got 0\\n    munmap(0, 4K) = -1 "
                "EINVAL\",\"rewrite\":\"= 0\"},"
                "{\"line\":4,\"statement\":\"munmap(0, 4K)\",\"status\":\"unchecked\",\"expected\":\"\",\"actual\":"
                "\"0\",\"message\":\"\",\"rewrite\":\"= 0\"}]}\n");
}

}  // namespace
}  // namespace kvmsim
